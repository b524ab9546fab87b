"""What migration 0111's book-change triggers cost the projectors (run: python -m bench.book_triggers [--orders N]).

ADR 0521 journals every change to the rows the risk check's book reads (``views.order_fills``, ``position_exits``,
``positions``, ``market_marks``) into ``public.book_changes`` by row triggers. This bench writes the rebuild
bench's log (filled orders through the Order aggregate, every third LIVE, over 2,000 markets; one breaker alert
per 4 orders) into a throwaway database with ``market_marks`` rows for those markets (one in ten resolved, so the
positions trigger's probe finds some and journals), then projects the whole log with the ``orders`` projection
(``catch_up_from_log``, the projector's batch code, 500 events a batch) again and again, from empty views, with
0111's triggers enabled and disabled in turn (``ALTER TABLE ... DISABLE TRIGGER``: in the throwaway database
only; the migration is not changed). A second figure: resolutions written to ``market_marks`` (the marks
projector's UPDATE of ``result``/``resolved_at``), with and without the marks triggers.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from bench.common import bench_services, report
from bench.rebuild import AT, settle, write_orders
from paulp.adapters.config import Settings
from paulp.adapters.projector import catch_up_from_log
from paulp.api.wiring import build

TRIGGERS = {  # migration 0111's row triggers on the tables the orders projection writes
    "order_fills": ("order_fills_book_changes",),
    "position_exits": ("position_exits_book_changes",),
    "positions": ("positions_book_changes",),
}
MARK_TRIGGERS = ("market_marks_book_changes", "market_marks_book_resolutions")


def set_triggers(conn: psycopg.Connection[Any], on: bool) -> None:
    verb = "ENABLE" if on else "DISABLE"
    for table, names in TRIGGERS.items():
        for name in names:
            conn.execute(f"ALTER TABLE views.{table} {verb} TRIGGER {name}")
    for name in MARK_TRIGGERS:
        conn.execute(f"ALTER TABLE views.market_marks {verb} TRIGGER {name}")


def seed_marks(conn: psycopg.Connection[Any]) -> None:
    conn.execute("DELETE FROM views.market_marks")
    conn.execute(
        "INSERT INTO views.market_marks (ticker, yes_bid, yes_ask, no_bid, no_ask, observed_at, last_notification_id,"
        " result, resolved_at)"
        " SELECT format('KXB-%%s', lpad(i::text, 4, '0')), 40, 44, 56, 60, %s, 0,"
        "        CASE WHEN i %% 10 = 0 THEN 'yes' END, CASE WHEN i %% 10 = 0 THEN %s::timestamptz END"
        " FROM generate_series(0, 1999) i", (AT, AT + timedelta(days=1)))


def reset_orders_views(conn: psycopg.Connection[Any], tables: tuple[str, ...]) -> None:
    conn.execute("TRUNCATE " + ", ".join(f"views.{t}" for t in tables))
    conn.execute("DELETE FROM projection_tracking WHERE name = 'orders'")
    conn.execute("TRUNCATE public.book_changes")


def project_once(db_url: str, proj: Any, on: bool) -> tuple[float, int]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        set_triggers(conn, on)
        reset_orders_views(conn, proj.tables)
    settle(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        t0 = time.perf_counter()
        applied = catch_up_from_log(conn, proj, batch=500)
        seconds = time.perf_counter() - t0
        row = conn.execute("SELECT count(*) FROM public.book_changes").fetchone()
    assert applied > 0
    return seconds, int(row[0]) if row else 0


def resolve_once(db_url: str, on: bool) -> tuple[float, int]:
    """Every market resolved, one UPDATE per market as the marks projector writes a resolution, one transaction."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        set_triggers(conn, on)
        seed_marks(conn)
        conn.execute("TRUNCATE public.book_changes")
    settle(db_url)
    with psycopg.connect(db_url) as conn:
        tickers = [r[0] for r in conn.execute("SELECT ticker FROM views.market_marks ORDER BY ticker")]
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            cur.executemany("UPDATE views.market_marks SET result = 'no', resolved_at = %s WHERE ticker = %s",
                            [(AT + timedelta(days=2), t) for t in tickers])
        conn.commit()
        seconds = time.perf_counter() - t0
        row = conn.execute("SELECT count(*) FROM public.book_changes").fetchone()
    return seconds, int(row[0]) if row else 0


ROW_WRITES = {  # the rows the triggers fire on, written alone (no projector around them), one transaction each
    "insert_20000_fills": ("INSERT INTO views.order_fills (notification_id, order_uuid, strategy, ticker, side, mode,"
                           " fill_size, fill_price, fee_cents, filled_at) SELECT 10000000 + g, gen_random_uuid(),"
                           " 'bonding', 'KXB-0001', 'YES', 'PAPER', 1, 43, 1, %s FROM generate_series(1, 20000) g"),
    "update_every_position": "UPDATE views.positions SET last_fill_at = last_fill_at",
}


def row_writes_once(db_url: str, name: str, on: bool) -> float:
    with psycopg.connect(db_url, autocommit=True) as conn:
        set_triggers(conn, on)
        conn.execute("DELETE FROM views.order_fills WHERE notification_id > 10000000")
        conn.execute("TRUNCATE public.book_changes")
    settle(db_url)
    with psycopg.connect(db_url) as conn:
        t0 = time.perf_counter()
        conn.execute(ROW_WRITES[name], (AT,) if "%s" in ROW_WRITES[name] else None)
        conn.commit()
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5, help="rounds of each (with, without), interleaved")
    args = ap.parse_args()
    fig: dict[str, Any] = {"at": datetime.now(UTC).isoformat(), "orders": args.orders, "repeat": args.repeat}
    with bench_services() as (db_url, nats_url, ns):
        container = build(Settings(ENVIRONMENT="test", PAULP_NAMESPACE=ns), db_url, nats_url)
        proj = container.projections["orders"]
        t0 = time.perf_counter()
        events = write_orders(container, args.orders)
        fig["events_in_log"] = events
        fig["write_s"] = round(time.perf_counter() - t0, 1)
        with psycopg.connect(db_url, autocommit=True) as conn:
            seed_marks(conn)
        runs: dict[str, list[float]] = {"with": [], "without": []}
        journaled = {"with": 0, "without": 0}
        for _ in range(args.repeat):
            for label, on in (("with", True), ("without", False)):
                seconds, rows = project_once(db_url, proj, on)
                runs[label].append(seconds)
                journaled[label] = rows
        with psycopg.connect(db_url) as conn:
            fig["view_rows"] = {t: conn.execute(f"SELECT count(*) FROM views.{t}").fetchone()[0]  # type: ignore[index]
                                for t in proj.tables}
        for label, samples in runs.items():
            fig[f"orders_catch_up_{label}_triggers"] = {
                "best_s": round(min(samples), 2), "median_s": round(statistics.median(samples), 2),
                "events_per_s_best": round(events / min(samples)),
                "events_per_s_median": round(events / statistics.median(samples)),
                "book_changes_rows": journaled[label], "runs_s": [round(s, 2) for s in samples]}
        fig["orders_catch_up_cost_pct_median"] = round(
            100 * (statistics.median(runs["with"]) / statistics.median(runs["without"]) - 1), 1)
        fig["orders_catch_up_cost_pct_best"] = round(100 * (min(runs["with"]) / min(runs["without"]) - 1), 1)
        marks: dict[str, list[float]] = {"with": [], "without": []}
        for _ in range(args.repeat):
            for label, on in (("with", True), ("without", False)):
                seconds, rows = resolve_once(db_url, on)
                marks[label].append(seconds)
                journaled[label] = rows
        for label, samples in marks.items():
            fig[f"resolutions_2000_{label}_triggers"] = {
                "best_ms": round(min(samples) * 1000, 1), "median_ms": round(statistics.median(samples) * 1000, 1),
                "book_changes_rows": journaled[label]}
        for name in ROW_WRITES:
            writes: dict[str, list[float]] = {"with": [], "without": []}
            for _ in range(args.repeat):
                for label, on in (("with", True), ("without", False)):
                    writes[label].append(row_writes_once(db_url, name, on))
            fig[name] = {f"{label}_triggers_best_ms": round(min(v) * 1000, 1) for label, v in writes.items()} | {
                f"{label}_triggers_median_ms": round(statistics.median(v) * 1000, 1) for label, v in writes.items()}
        container.close()
    report("book_triggers", fig)


if __name__ == "__main__":
    main()
