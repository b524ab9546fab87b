"""Migration 0099 on a database that already holds orders and positions (ADR 0437): their fills were recorded
before fees, so their fees are unknown (incomplete), as a rebuild from the log leaves them; unfilled orders and the
gross figures are untouched."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from paulp.adapters.migrate import available, migrate
from tests.integration.test_migration_positions_by_mode import _migrate_before

pytestmark = pytest.mark.integration
AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_migration_when_filled_rows_exist_then_fees_unknown_and_gross_figures_unchanged(empty_db):
    _migrate_before(empty_db, 99)
    with psycopg.connect(empty_db, autocommit=True) as conn:
        for oid, filled in (("o-filled", 10), ("o-pending", 0)):
            conn.execute("INSERT INTO views.orders (order_uuid, order_id, strategy, ticker, side, requested_size,"
                         " max_price, state, filled_size, avg_fill_price, created_at, updated_at) VALUES"
                         " (gen_random_uuid(), %s, 'bonding', 'KX-F', 'YES', 10, 45, 'FILLED', %s, 42, %s, %s)",
                         (oid, filled, AT, AT))
        conn.execute("INSERT INTO views.positions (strategy, ticker, side, mode, contracts, cost_cents,"
                     " realized_pnl_usd, last_fill_at) VALUES ('bonding', 'KX-F', 'YES', 'PAPER', 10, 420, 1.5, %s)",
                     (AT,))
    assert migrate(empty_db) == [m.name for m in available() if m.version >= 99]
    with psycopg.connect(empty_db) as conn:
        orders = dict(conn.execute("SELECT order_id, (fees_cents, fees_complete, filled_size, avg_fill_price)::text"
                                   " FROM views.orders").fetchall())
        position = conn.execute("SELECT contracts, cost_cents, realized_pnl_usd, fees_cents, fees_complete"
                                " FROM views.positions").fetchone()
    assert orders == {"o-filled": "(,f,10,42)", "o-pending": "(,t,0,42)"}
    assert position is not None and (position[0], position[1], float(position[2]), position[3], position[4]) == (
        10, 420, 1.5, 0, False)
