"""Closing lines and CLV in the running system (trading §4.2-4.4, §8; ADRs 0419, 0420).

Each run (every minute beside the marks, and ``paulp clv sweep``): every market that closed for us (its outcome
is known, or its last observed close time is past by ``CLOSE_GRACE``) and still has filled orders without a
closing line gets its line estimated once from its observations, and each of those orders records it as its
CLV. Then every strategy with enough valid CLVs is judged by the degradation rule, and one that degraded is
disabled through its status (the one source of modes, ADR 0402) with a CLV_DEGRADED alert. Both steps are
idempotent: the line, each order's record and the status change are each made once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from paulp.domain.clv_monitor import DEFAULT_RULE, DEGRADATION_ALERT, ClvTrend, DegradationRule, clv_trend
from paulp.domain.strategy_registry import Strategy, StrategyStatus, find_strategy

log = logging.getLogger("paulp.clv")
ACTOR = "clv-monitor"
CLOSE_GRACE = timedelta(minutes=10)  # after the close time, when no outcome came yet: the book is no more read
AWAITING = "o.filled_size > 0 AND o.closing_line_at IS NULL"
CLOSED_MARKETS = (
    "SELECT m.ticker, m.resolved_at FROM views.market_marks m WHERE m.result IS NOT NULL"
    f" AND EXISTS (SELECT 1 FROM views.orders o WHERE o.ticker = m.ticker AND {AWAITING})"
    # each awaiting ticker's latest observation, one index probe apiece, not every observation ever sorted (ADR 0518)
    f" UNION SELECT x.ticker, x.close_time FROM (SELECT DISTINCT o.ticker FROM views.orders o WHERE {AWAITING}) a"
    " CROSS JOIN LATERAL (SELECT ticker, close_time FROM views.market_observations"
    " WHERE ticker = a.ticker ORDER BY observed_at DESC LIMIT 1) x"
    " WHERE x.close_time < %s AND NOT EXISTS (SELECT 1 FROM views.market_marks m WHERE m.ticker = x.ticker"
    " AND m.result IS NOT NULL)"
    " ORDER BY 1"
)
AWAITING_ORDERS = f"SELECT o.order_id FROM views.orders o WHERE o.ticker = %s AND {AWAITING} ORDER BY o.order_id"
STRATEGY_CLVS = (
    "SELECT strategy, clv, closing_line_at FROM views.orders WHERE clv_valid AND clv IS NOT NULL"
    " ORDER BY closing_line_time, closing_line_at, order_id"
)


def record_closing_lines(container: Any) -> dict[str, Any]:
    """Closing lines for closed markets, CLVs on their filled orders; a market's failure spares the others."""
    now = container.clock.now()
    with container.pool.connection() as conn:
        markets = conn.execute(CLOSED_MARKETS, (now - CLOSE_GRACE,)).fetchall()
    recorded = invalid = 0
    failed: dict[str, str] = {}
    for ticker, closed_at in markets:
        try:
            n, bad = _record_market(container, ticker, closed_at or now)
        except Exception as exc:
            failed[ticker] = str(getattr(exc, "code", type(exc).__name__))
            log.exception("closing line of %s not recorded", ticker)
            continue
        recorded, invalid = recorded + n, invalid + bad
    return {"markets": len(markets), "ordersRecorded": recorded, "invalid": invalid, "failed": failed}


def _record_market(container: Any, ticker: str, closed_at: datetime) -> tuple[int, int]:
    line, estimate = container.markets.close_line(ticker, closed_at)
    usable = estimate.valid_observation_count > 0
    assert line.resolution_time is not None
    with container.pool.connection() as conn:
        order_ids = [oid for (oid,) in conn.execute(AWAITING_ORDERS, (ticker,))]
    recorded = 0
    for oid in order_ids:

        def command(oid: str = oid) -> bool:
            order = container.orders.find(oid)
            if order is None or not order.record_closing_line(
                    estimate.closing_line_price, estimate.quality_score, estimate.is_valid, estimate.method,
                    line.market_class.value, usable, line.resolution_time, container.clock.now()):
                return False
            container.orders.save(order)
            return True

        recorded += container.orders.retry_on_conflict(command)
    return recorded, 0 if estimate.is_valid and usable else recorded


def strategy_clvs(container: Any) -> dict[str, tuple[list[float], datetime | None]]:
    """Each catalogued strategy's valid CLVs (cents) in closing order, and when its latest was recorded."""
    out: dict[str, tuple[list[float], datetime | None]] = defaultdict(lambda: ([], None))
    with container.pool.connection() as conn:
        rows = conn.execute(STRATEGY_CLVS).fetchall()
    for strategy, clv, at in rows:
        info = find_strategy(strategy)
        if info is None:
            continue
        values, latest = out[info.id]
        values.append(float(clv))
        out[info.id] = (values, at if latest is None or at > latest else latest)
    return dict(out)


def disable_degraded(container: Any, rule: DegradationRule = DEFAULT_RULE) -> dict[str, ClvTrend]:
    """Disable every strategy whose CLV degraded (ADR 0420); the strategies disabled now, with their trend.
    Judged only when a valid CLV was recorded after the strategy's last status change, so an operator who
    re-enables a strategy is overruled by new evidence only, not by the history that disabled it."""
    disabled: dict[str, ClvTrend] = {}
    for strategy_id, (clvs, latest) in strategy_clvs(container).items():
        trend = clv_trend(clvs, rule)
        if trend is None or not trend.degraded:
            continue
        info = container.strategies.info(strategy_id)
        if container.strategies.status_of(info) in (StrategyStatus.DISABLED, StrategyStatus.HALTED):
            continue
        aggregate: Strategy | None = container.strategies.get_or_none(Strategy.create_id(strategy_id))
        changed_at = None if aggregate is None else aggregate.changed_at
        if changed_at is not None and latest is not None and latest <= changed_at:
            continue
        change = container.strategies.set_status(strategy_id, StrategyStatus.DISABLED, ACTOR, trend.reason())
        if change.changed:
            container.breaker.raise_alert(DEGRADATION_ALERT, "warning", f"{strategy_id} disabled: {trend.reason()}")
            log.warning("strategy %s disabled: %s", strategy_id, trend.reason())
            disabled[strategy_id] = trend
    return disabled


def clv_sweep(container: Any, rule: DegradationRule = DEFAULT_RULE) -> dict[str, Any]:
    """One run: closing lines and CLVs, then the degradation check over what the orders view holds."""
    report = record_closing_lines(container)
    disabled = disable_degraded(container, rule)
    return {**report, "disabled": {s: t.reason() for s, t in disabled.items()}}
