"""The periodic and per-event reads of ADR 0518 use their index on a seeded table instead of reading it whole,
and the CLV sweep's rewritten closed-markets read answers as the one it replaced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from paulp.api.clv_job import CLOSED_MARKETS
from paulp.api.scheduler import ABANDONED
from paulp.api.webhook_jobs import BY_KALSHI_ID

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 29, tzinfo=UTC)
ROWS = 20_000
# The query CLOSED_MARKETS replaced (every observation sorted per ticker), kept here to compare answers.
CLOSED_MARKETS_BEFORE = (
    "SELECT m.ticker, m.resolved_at FROM views.market_marks m WHERE m.result IS NOT NULL"
    " AND EXISTS (SELECT 1 FROM views.orders o WHERE o.ticker = m.ticker"
    " AND o.filled_size > 0 AND o.closing_line_at IS NULL)"
    " UNION SELECT x.ticker, x.close_time FROM (SELECT DISTINCT ON (ticker) ticker, close_time"
    " FROM views.market_observations ORDER BY ticker, observed_at DESC) x"
    " WHERE x.close_time < %s AND NOT EXISTS (SELECT 1 FROM views.market_marks m WHERE m.ticker = x.ticker"
    " AND m.result IS NOT NULL)"
    " AND EXISTS (SELECT 1 FROM views.orders o WHERE o.ticker = x.ticker"
    " AND o.filled_size > 0 AND o.closing_line_at IS NULL)"
    " ORDER BY 1"
)


def _seed(conn: psycopg.Connection) -> None:
    """ROWS finished job runs, Kalshi orders and orders (every 97th awaiting its closing line), 100
    tickers observed hourly, half of them resolved: loaded by SQL, as a long-running log leaves the views."""
    conn.execute(
        "INSERT INTO views.job_runs (run_uuid, run_id, job, triggered_by, source, state, started_at, finished_at,"
        " notification_id) SELECT md5(g::text)::uuid, 'run-' || g, 'order-timers', 'scheduler', 'scheduler',"
        " CASE WHEN g <= 2 THEN 'RUNNING' ELSE 'SUCCEEDED' END, %s - g * interval '1 minute',"
        " %s - g * interval '1 minute' + interval '1 second', g FROM generate_series(1, %s) g", (NOW, NOW, ROWS))
    conn.execute(
        "INSERT INTO views.kalshi_orders (order_id, record, status, execution_mode, created_at, seq)"
        " SELECT 'c-' || g, jsonb_build_object('order_id', 'k-' || g), 'filled', 'LIVE', %s - g * interval '1 minute',"
        " g FROM generate_series(1, %s) g", (NOW, ROWS))
    conn.execute(
        "INSERT INTO views.orders (order_uuid, order_id, strategy, ticker, side, requested_size, max_price, state,"
        " filled_size, created_at, updated_at, closing_line_at) SELECT md5('o' || g)::uuid, 'o-' || g, 'bonding',"
        " 'KX-' || (g %% 100), 'YES', 5, 0.5, 'FILLED', 5, %s - g * interval '1 minute', %s,"
        " CASE WHEN g %% 97 = 0 THEN NULL ELSE %s END FROM generate_series(1, %s) g", (NOW, NOW, NOW, ROWS))
    conn.execute(
        "INSERT INTO views.market_observations (ticker, observed_at, close_time, mid_price, depth_yes_usd,"
        " depth_no_usd, spread, notification_id) SELECT 'KX-' || (g %% 100), %s - g * interval '1 hour',"
        " %s - (g %% 100) * interval '1 day' + interval '50 days', 0.5, 100, 100, 0.02, g"
        " FROM generate_series(1, %s) g", (NOW, NOW, ROWS))
    conn.execute(
        "INSERT INTO views.market_marks (ticker, result, resolved_at, last_notification_id) SELECT 'KX-' || t,"
        " CASE WHEN t %% 2 = 0 THEN 'yes' END, %s, t FROM generate_series(0, 99) t", (NOW,))
    for table in ("job_runs", "kalshi_orders", "orders", "market_observations", "market_marks"):
        conn.execute(f"ANALYZE views.{table}")


def _plan(conn: psycopg.Connection, query: str, params: tuple) -> str:
    return "\n".join(r[0] for r in conn.execute("EXPLAIN " + query, params).fetchall())


def test_periodic_reads_when_the_views_are_long_then_they_use_their_index_and_answer_as_before(fresh_db):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        _seed(conn)
        abandoned = (NOW - timedelta(minutes=15),)
        assert "job_runs_running" in _plan(conn, ABANDONED, abandoned)
        assert conn.execute(ABANDONED, abandoned).fetchall() == []  # both RUNNING runs started within 15 minutes
        assert "kalshi_orders_venue_order_id" in _plan(conn, BY_KALSHI_ID, ("k-42",))
        assert conn.execute(BY_KALSHI_ID, ("k-42",)).fetchall() == [("c-42",)]
        plan = _plan(conn, CLOSED_MARKETS, (NOW,))
        assert "orders_awaiting_closing_line" in plan and "Seq Scan on market_observations" not in plan
        closed = conn.execute(CLOSED_MARKETS, (NOW,)).fetchall()
        assert closed == conn.execute(CLOSED_MARKETS_BEFORE, (NOW,)).fetchall()
        assert {"KX-0", "KX-51"} < {t for t, _ in closed}  # one resolved, one past its close (not resolved)
