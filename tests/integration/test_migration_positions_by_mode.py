"""Migration 0056 on a database that already holds positions (ADR 0262): the rows projected before it are
split by mode as far as the views allow, and the new key lets paper and LIVE contracts stand apart."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from paulp.adapters.migrate import available, migrate

pytestmark = pytest.mark.integration
AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _migrate_before(url: str, version: int) -> None:
    """Every migration below ``version``, recorded as ``migrate`` records them."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                     " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
        for mig in available():
            if mig.version >= version:
                break
            with conn.transaction():
                conn.execute(mig.sql)  # type: ignore[arg-type]
                conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                             (mig.version, mig.name, mig.checksum))


def _order(conn: psycopg.Connection, oid: str, ticker: str, filled: int, mode: str, seq: int) -> None:
    conn.execute("INSERT INTO views.orders (order_uuid, order_id, strategy, ticker, side, requested_size, max_price,"
                 " state, filled_size, created_at, updated_at) VALUES (gen_random_uuid(), %s, 'bonding', %s, 'YES',"
                 " %s, 42, 'FILLED', %s, %s, %s)", (oid, ticker, filled, filled, AT, AT))
    conn.execute("INSERT INTO views.kalshi_orders (order_id, record, strategy, ticker, status, execution_mode, seq)"
                 " VALUES (%s, '{}', 'bonding', %s, 'filled', %s, %s)", (oid, ticker, mode, seq))


def test_migration_when_positions_exist_then_live_only_ones_become_live_and_the_key_includes_mode(empty_db):
    _migrate_before(empty_db, 56)
    with psycopg.connect(empty_db, autocommit=True) as conn:
        orders = [("o-live", "KX-L", 40, "LIVE"), ("o-paper", "KX-P", 10, "PAPER"), ("o-m1", "KX-M", 5, "LIVE"),
                  ("o-m2", "KX-M", 7, "PAPER")]
        for seq, (oid, ticker, filled, mode) in enumerate(orders):
            _order(conn, oid, ticker, filled, mode, seq)
        for ticker, n in (("KX-L", 40), ("KX-P", 10), ("KX-M", 12)):
            conn.execute("INSERT INTO views.positions (strategy, ticker, side, contracts, cost_cents, last_fill_at)"
                         " VALUES ('bonding', %s, 'YES', %s, %s, %s)", (ticker, n, n * 42, AT))
    assert migrate(empty_db) == [m.name for m in available() if m.version >= 56]
    with psycopg.connect(empty_db, autocommit=True) as conn:
        modes = dict(conn.execute("SELECT ticker, mode FROM views.positions").fetchall())
        orders = dict(conn.execute("SELECT order_id, mode FROM views.orders").fetchall())
        assert modes == {"KX-L": "LIVE", "KX-P": "PAPER", "KX-M": "PAPER"}  # mixed: replay tells them apart
        assert orders == {"o-live": "LIVE", "o-paper": "PAPER", "o-m1": "LIVE", "o-m2": "PAPER"}
        conn.execute("INSERT INTO views.positions (strategy, ticker, side, mode, contracts, cost_cents, last_fill_at)"
                     " VALUES ('bonding', 'KX-P', 'YES', 'LIVE', 3, 126, %s)", (AT,))  # a second mode: its own row
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO views.positions (strategy, ticker, side, mode, contracts, cost_cents,"
                         " last_fill_at) VALUES ('bonding', 'KX-P', 'YES', 'LIVE', 1, 42, %s)", (AT,))
