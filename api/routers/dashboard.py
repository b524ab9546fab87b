"""/dashboard: read-only operator figures (api-and-security §1.5) computed from projections.

The breaker comes from ``views.breaker_state``; open positions from ``views.positions`` valued against the
market marks, closed ones from today's exits (ADR 0260) and the markets that resolved today (ADR 0166).
Execution figures come from ``views.execution_reports``: the reports of orders whose latest fill is in today's
UTC day, PAPER and LIVE (ADR 0387); every division is guarded (no report: percentages 0 or null).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from paulp.api.capital_allocations import approved_capital
from paulp.api.errors import now_iso
from paulp.api.execution_reports import reports_executed_between
from paulp.api.positions import ClosedByExit, ValuedPosition, exits_filled_since, valued_positions
from paulp.api.queries import breaker_view
from paulp.api.routers.exec import strategy_modes
from paulp.api.wiring import Container
from paulp.domain.marks import unrealized_pnl_usd

router = APIRouter(prefix="/dashboard", tags=["dashboard"])
log = logging.getLogger("paulp.api.dashboard")

DEFAULT_BONDING_CAPITAL = 250.0  # §1.5: the loss budget's capital while no enabled bonding allocation exists
EVER = datetime(1970, 1, 1, tzinfo=UTC)  # "cumulative" figures cover every close since the log began
GRADE_SCORES = {"EXCELLENT": 4, "GOOD": 3, "ACCEPTABLE": 2, "POOR": 1}


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def _today(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%d")


def open_positions(positions: list[ValuedPosition], now: datetime) -> list[dict[str, Any]]:
    """Open positions, newest first. Prices in dollars per contract (a contract pays $1), so
    ``unrealized_pnl_percent = unrealized / (entry * size) * 100`` is unit-consistent."""
    rows = []
    opened = [p for p in positions if p.status == "open"]
    for p in sorted(opened, key=lambda p: p.first_fill_at, reverse=True):
        entry, current = p.avg_entry_cents / 100, p.current_cents / 100
        basis = entry * p.contracts
        rows.append({
            "id": f"{p.strategy}:{p.ticker}:{p.side}:{p.mode}", "market": p.ticker, "side": p.side,
            "entry_price": round(float(entry), 4), "current_price": round(float(current), 4), "size": p.contracts,
            "unrealized_pnl": round(float(p.unrealized_pnl_usd), 2),
            "unrealized_pnl_percent": round(float(p.unrealized_pnl_usd / basis * 100), 2) if basis else 0,
            "time_held_minutes": int((now - p.first_fill_at).total_seconds() // 60), "status": "open",
        })
    return rows


def closed_today(positions: list[ValuedPosition], exits: list[ClosedByExit],
                 midnight: datetime) -> list[dict[str, Any]]:
    """Positions closed since UTC midnight: contracts sold by an exit today (ADR 0260) and positions whose
    market resolved today, each with the PnL realised by that close only (a resolved position's earlier
    exits are counted as the exits they were, not again at settlement)."""
    rows = [{"id": f"{x.strategy}:{x.ticker}:{x.side}:{x.mode}", "market": x.ticker, "side": x.side,
             "size": x.contracts, "realized_pnl": round(float(x.realized_pnl_usd), 2)}
            for x in exits if x.closed_at >= midnight]
    rows += [{"id": f"{p.strategy}:{p.ticker}:{p.side}:{p.mode}", "market": p.ticker, "side": p.side,
              "size": p.contracts,
              "realized_pnl": round(float(unrealized_pnl_usd(p.avg_entry_cents, p.current_cents, p.contracts)), 2)}
             for p in positions
             if p.status == "resolved" and p.resolved_at is not None and p.resolved_at >= midnight]
    return rows


def _midnight(now: datetime) -> datetime:
    """UTC midnight of ``now``, the container clock's time (time is injected: a replay or a test sees its
    own day)."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def execution_reports_today(container: Container, now: datetime) -> list[dict[str, Any]]:
    """Reports of the orders whose latest fill falls in ``now``'s UTC day."""
    midnight = _midnight(now)
    return reports_executed_between(container.pool, midnight, midnight + timedelta(days=1))


def daily_loss_budget(container: Container) -> float:
    """§1.5: capital x maxDailyLossPct / 100, the capital being bonding's enabled go-live allocation (250 while
    there is none) and the percentage of the risk limits in force now, read where the risk check reads them."""
    capital = approved_capital(container.pool, "bonding")
    pct = container.risk_limits().max_daily_loss_pct
    return (DEFAULT_BONDING_CAPITAL if capital is None else capital) * pct / 100


def _unavailable(what: str) -> JSONResponse:
    """Inside an ``except``: logged with its traceback; the body names what failed, never why (§1.5)."""
    log.exception("dashboard: failed to fetch %s", what)
    return JSONResponse({"error": f"Failed to fetch {what}", "code": "dashboard_unavailable"}, status_code=500)


def _pnl(rows: list[dict[str, Any]], key: str) -> float:
    return float(sum(float(r.get(key) or 0) for r in rows))


def _wins(closed: list[dict[str, Any]]) -> int:
    return sum(1 for r in closed if float(r.get("realized_pnl") or 0) > 0)


def _mean_grade(reports: list[dict[str, Any]]) -> str:
    scores = [GRADE_SCORES[r["grade"]] for r in reports if r.get("grade") in GRADE_SCORES]
    if not scores:
        return "NO DATA"
    mean = round(sum(scores) / len(scores))
    return next(name for name, score in GRADE_SCORES.items() if score == mean)


@router.get("/summary")
def summary(request: Request) -> Any:
    container = _container(request)
    try:
        breaker = breaker_view(container)
        modes = strategy_modes(request, "kalshi")
        now = container.clock.now()
        positions = valued_positions(container.pool)
        exits = exits_filled_since(container.pool, EVER)
        reports = execution_reports_today(container, now)
        loss_budget = daily_loss_budget(container)
    except Exception:
        return _unavailable("summary")
    opened = open_positions(positions, now)
    closed, closed_ever = closed_today(positions, exits, _midnight(now)), closed_today(positions, exits, EVER)
    realized, unrealized = _pnl(closed, "realized_pnl"), _pnl(opened, "unrealized_pnl")
    wins, wins_ever = _wins(closed), _wins(closed_ever)
    remaining = max(0.0, loss_budget - abs(min(0.0, realized + unrealized)))
    last_change = breaker["lastStateChange"]
    return {
        "timestamp": now_iso(),
        "execution_mode": "LIVE" if modes.get("bonding") == "LIVE" else "PAPER",
        "circuit_breaker_state": breaker["state"] or "UNKNOWN",
        "account_status": "NORMAL" if remaining > 0 else "LOSS_LIMIT_EXCEEDED",
        "open_positions_count": len(opened),
        "total_position_value": round(unrealized, 2),
        "today_realized_pnl": round(realized, 2),
        "today_unrealized_pnl": round(unrealized, 2),
        "today_total_pnl": round(realized + unrealized, 2),
        "today_win_rate": round(wins / len(closed) * 100, 1) if closed else 0,
        "today_sharpe_ratio": 0,
        "cumulative_pnl": round(_pnl(closed_ever, "realized_pnl"), 2),
        "cumulative_win_rate": round(wins_ever / len(closed_ever) * 100, 1) if closed_ever else 0,
        "cumulative_sharpe_ratio": 0,
        "max_drawdown": 0,
        "daily_loss_remaining_budget": round(remaining, 2),
        "circuit_breaker_triggered": breaker["state"] != "NORMAL",
        "last_circuit_breaker_time": last_change.isoformat() if last_change else None,
        "avg_execution_grade": _mean_grade(reports),
        "poor_execution_count": sum(1 for r in reports if r.get("grade") == "POOR"),
        "kill_switch_triggered": any(float(r.get("slippage_edge_ratio") or 0) > 0.5 for r in reports),
    }


@router.get("/positions/open")
def positions_open(request: Request) -> Any:
    try:
        container = _container(request)
        rows = open_positions(valued_positions(container.pool), container.clock.now())
    except Exception:
        return _unavailable("open positions")
    return {"count": len(rows), "positions": rows, "total_unrealized_pnl": round(_pnl(rows, "unrealized_pnl"), 2)}


@router.get("/daily-pnl")
def daily_pnl(request: Request) -> Any:
    try:
        container = _container(request)
        now = container.clock.now()
        positions = valued_positions(container.pool)
        exits = exits_filled_since(container.pool, _midnight(now))
    except Exception:
        return _unavailable("daily PnL")
    closed, opened = closed_today(positions, exits, _midnight(now)), open_positions(positions, now)
    realized, unrealized = _pnl(closed, "realized_pnl"), _pnl(opened, "unrealized_pnl")
    wins = sum(1 for r in closed if float(r.get("realized_pnl") or 0) > 0)
    return {"date": _today(now), "realized_pnl": round(realized, 2), "unrealized_pnl": round(unrealized, 2),
            "total_pnl": round(realized + unrealized, 2), "closed_positions": len(closed),
            "open_positions": len(opened), "wins": wins, "losses": len(closed) - wins,
            "win_rate": round(wins / len(closed) * 100, 1) if closed else 0,
            "avg_pnl": round(realized / len(closed), 2) if closed else 0, "sharpe_ratio": 0}


@router.get("/execution-quality")
def execution_quality(request: Request) -> Any:
    try:
        container = _container(request)
        now = container.clock.now()
        reports = execution_reports_today(container, now)
    except Exception:
        return _unavailable("execution quality")
    grades = {name.lower(): sum(1 for r in reports if r.get("grade") == name) for name in GRADE_SCORES}
    total = len(reports)
    distribution = {f"{k}_pct": round(v / total * 100, 1) for k, v in grades.items()} if total else None
    return {"date": _today(now), "grades": grades, "total_orders": total,
            "average_slippage_cents": round(_pnl(reports, "slippage_cents") / total, 2) if total else 0,
            "average_slippage_ratio": round(_pnl(reports, "slippage_ratio") / total, 3) if total else 0,
            "grade_distribution": distribution}
