"""The capital allocations the scan, the risk check and the dashboard read (api-and-security §7.1, §1.5; ADR 0389).

One reading of ``views.capital_allocations`` overlaid on §5.7's static table: a strategy's row once an
allocation event exists, the static row only when none does. A failed read raises; no caller falls back to the
static table on an error, because that could size orders with capital no operator approved, or scan a strategy
an operator disabled.
"""

from __future__ import annotations

from typing import Any

from psycopg_pool import ConnectionPool

from paulp.domain.capital import DEFAULT_ALLOCATIONS, StrategyAllocation

_ROWS = "SELECT strategy_id, capital, max_position_pct, enabled FROM views.capital_allocations"
_APPROVED = ("SELECT capital FROM views.capital_allocations"
             " WHERE strategy_id = %s AND enabled AND allocated_at IS NOT NULL")


def current_allocations(pool: ConnectionPool[Any]) -> dict[str, StrategyAllocation]:
    """Every catalogue strategy's allocation, in §5.7's order."""
    with pool.connection() as conn:
        rows = {s: (float(c), float(p), bool(e)) for s, c, p, e in conn.execute(_ROWS).fetchall()}
    out: dict[str, StrategyAllocation] = {}
    for static in DEFAULT_ALLOCATIONS:
        row = rows.get(static.strategy)
        out[static.strategy] = static if row is None else StrategyAllocation(
            static.strategy, row[0], row[1], row[2], static.enable_after_days)
    return out


def approved_capital(pool: ConnectionPool[Any], strategy: str) -> float | None:
    """The capital a go-live allocated to ``strategy`` while that allocation is enabled; None otherwise."""
    with pool.connection() as conn:
        row = conn.execute(_APPROVED, (strategy,)).fetchone()
    return None if row is None else float(row[0])
