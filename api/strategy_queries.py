"""Read side of the strategy registry and reviews (views only; definitions in ADR 0255).

Totals per strategy come from the valued positions (``api.positions``, the dashboard's rule): every
position counts, one sold out by exits too; P&L is realised plus unrealised; a resolved or sold-out
position with a gain is a win, with a loss a loss. No model validation is recorded anywhere yet, so
``model_valid`` is false.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from paulp.api.positions import valued_positions
from paulp.api.wiring import Container
from paulp.domain.clock import iso_utc
from paulp.domain.strategy_registry import CATALOGUE, StrategyInfo, find_strategy

UNRESOLVED_SHOWN = 10
RECENT_ORDERS = 50

_STRATEGY_COLUMNS = (
    "strategy_id, CASE WHEN live_version > golive_seen THEN 'live' ELSE own_status END, status_changed_at,"
    " status_changed_by, status_reason, max_capital_allocation_usd, approved_by, approved_at, live_actors, updated_at"
)


def _iso(at: datetime | None) -> str | None:
    return iso_utc(at) if at is not None else None


def _totals(container: Container) -> dict[str, dict[str, Any]]:
    sums: dict[str, dict[str, Any]] = defaultdict(lambda: {"pnl": Decimal(0), "positions": 0, "wins": 0,
                                                           "losses": 0})
    for p in valued_positions(container.pool, include_closed=True):
        info = find_strategy(p.strategy)
        if info is None:
            continue
        t = sums[info.id]
        t["pnl"] += p.realized_pnl_usd + p.unrealized_pnl_usd
        t["positions"] += 1
        if p.status in ("resolved", "closed"):
            t["wins"] += int(p.realized_pnl_usd > 0)
            t["losses"] += int(p.realized_pnl_usd < 0)
    return sums


def _row(info: StrategyInfo, stored: tuple[Any, ...] | None, totals: dict[str, Any] | None,
         detail: bool) -> dict[str, Any]:
    t = totals or {"pnl": Decimal(0), "positions": 0, "wins": 0, "losses": 0}
    row: dict[str, Any] = {
        "id": info.id, "name": info.name, "strategy_type": info.strategy_type,
        "status": stored[1] if stored else info.initial_status.value,
        "total_pnl_usd": round(float(t["pnl"]), 2), "total_positions": t["positions"],
        "win_count": t["wins"], "loss_count": t["losses"], "model_valid": False,
    }
    if detail:
        _, _, changed_at, changed_by, reason, capital, approved_by, approved_at, actors, updated_at = (
            stored or (None,) * 10)
        row.update({
            "initial_status": info.initial_status.value, "status_changed_at": _iso(changed_at),
            "status_changed_by": changed_by, "status_reason": reason,
            "max_capital_allocation_usd": float(capital) if capital is not None else None,
            "approved_by": approved_by, "approved_at": _iso(approved_at), "live_actors": actors,
            "updated_at": _iso(updated_at),
        })
    return row


def strategy_rows(container: Container) -> list[dict[str, Any]]:
    """Every strategy in the catalogue, ordered by name; one without events has its initial status."""
    with container.pool.connection() as conn:
        stored = {r[0]: r for r in conn.execute(f"SELECT {_STRATEGY_COLUMNS} FROM views.strategies").fetchall()}
    totals = _totals(container)
    return [_row(i, stored.get(i.id), totals.get(i.id), detail=False) for i in sorted(CATALOGUE, key=lambda i: i.name)]


def strategy_detail(container: Container, info: StrategyInfo) -> dict[str, Any]:
    with container.pool.connection() as conn:
        stored = conn.execute(f"SELECT {_STRATEGY_COLUMNS} FROM views.strategies WHERE strategy_id = %s",
                              (info.id,)).fetchone()
    return _row(info, stored, _totals(container).get(info.id), detail=True)


def recent_orders(container: Container, info: StrategyInfo, limit: int = RECENT_ORDERS) -> list[dict[str, Any]]:
    """The strategy's newest venue orders (both venues; by id or type), newest first, undated last."""
    query = (
        "SELECT record, venue FROM ("
        " SELECT record, 'kalshi' AS venue, created_at, seq FROM views.kalshi_orders WHERE strategy = ANY(%(keys)s)"
        " UNION ALL"
        " SELECT record, 'ibkr', created_at, seq FROM views.ibkr_orders WHERE strategy = ANY(%(keys)s)"
        ") o ORDER BY created_at DESC NULLS LAST, seq DESC LIMIT %(limit)s"
    )
    with container.pool.connection() as conn:
        rows = conn.execute(query, {"keys": [info.id, info.strategy_type], "limit": limit}).fetchall()
    return [{**record, "venue": venue} for record, venue in rows]


def execution_policy(container: Container, info: StrategyInfo) -> dict[str, Any]:
    """The policy the order pipeline holds this strategy to now: its mode's, with the operators' changes
    (ADR 0380, 0402), as a snake_case row of §9's ``execution_policies``."""
    mode = container.execution_mode(info.id)
    p = container.execution_policy(info.id, mode)
    row = container.execution_policies.row(info.id)
    hours = p.trading_hours
    return {
        "strategy_id": info.id, "venue": "kalshi", "mode": p.mode.value,
        "version": 0 if row is None else row.policy_version,
        "max_orders_per_minute": p.max_orders_per_minute, "max_orders_per_hour": p.max_orders_per_hour,
        "max_daily_volume_cents": p.max_daily_volume_cents, "max_single_order_size": p.max_single_order_size,
        "min_order_spacing_ms": p.min_order_spacing_ms if math.isfinite(p.min_order_spacing_ms) else None,
        "trading_hours": {"enabled": hours.enabled, "start_hour_utc": hours.start_hour_utc,
                          "end_hour_utc": hours.end_hour_utc, "trading_days": sorted(hours.trading_days)},
        "paper_trade_slippage_cents": p.paper_trade_slippage_cents,
        "allowed_market_categories": list(p.allowed_market_categories), "blocked_tickers": list(p.blocked_tickers),
        "stale_order_timeout_sec": p.stale_order_timeout_sec, "cancel_on_price_move": p.cancel_on_price_move,
        "min_fill_pct": p.min_fill_pct, "allow_resubmit": p.allow_resubmit, "max_resubmits": p.max_resubmits,
        "require_risk_approval": p.require_risk_approval, "is_active": True,
    }


def unresolved_violations(container: Container, limit: int = UNRESOLVED_SHOWN) -> list[dict[str, Any]]:
    query = (
        "SELECT id, invariant_id, invariant_name, severity, triggered_at, resolved FROM views.invariant_violations"
        " WHERE NOT resolved ORDER BY triggered_at DESC, notification_id DESC, id LIMIT %s"
    )
    with container.pool.connection() as conn:
        rows = conn.execute(query, (limit,)).fetchall()
    keys = ("id", "invariant_id", "invariant_name", "severity", "triggered_at", "resolved")
    return [dict(zip(keys, (*r[:4], iso_utc(r[4]), r[5]), strict=True)) for r in rows]
