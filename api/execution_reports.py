"""Execution reports as the dashboard reads them (api-and-security §1.5; ADR 0387): ``views.execution_reports``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

# Named as the dashboard's figures use them: grade, slippage in cents, ratio to the expectation, ratio to edge.
_EXECUTED_BETWEEN = (
    "SELECT order_id, ticker, mode, execution_grade AS grade, realized_slippage AS slippage_cents, slippage_ratio,"
    " slippage_vs_edge_ratio AS slippage_edge_ratio, executed_at FROM views.execution_reports"
    " WHERE executed_at >= %s AND executed_at < %s ORDER BY executed_at, order_id"
)


def reports_executed_between(pool: ConnectionPool[Any], start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Reports of the orders whose latest fill is in [start, end), oldest first; raises when unreadable."""
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        return list(cur.execute(_EXECUTED_BETWEEN, (start, end)).fetchall())
