"""``paulp rebuild`` of the orders projection on a realistic log (run: python -m bench.rebuild [--orders N]).

Orders are written through the Order aggregate's own methods (the events the pipeline stores for a paper or
LIVE fill: Created, transitions, pre-trade and risk checks, the fill), 200 orders per save, with one breaker
alert per 4 orders so the log also holds events the projection ignores. The live view is projected with
the projector's batch code, then corrupted. Printed, in the same run:

* the projector's catch-up rate on that log (the live path) beside the rebuild's replay rate;
* the dry run (REPEATABLE READ diff) and the swap (DELETE + INSERT under the projector's lock): how long the
  lock is held, and the longest wait of a reader querying the view meanwhile;
* for ADR 0010, the two swaps not taken, on the same rows: TRUNCATE + INSERT and renaming tables in, each
  with the reader's longest wait.
"""

from __future__ import annotations

import argparse
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from bench.common import bench_services, save, summary_ms
from paulp.adapters import rebuild as rb
from paulp.adapters.config import Settings
from paulp.adapters.projector import catch_up_from_log
from paulp.api.wiring import Container, build
from paulp.domain.order_values import ExecutionResult, ExecutionStatus, PaperFill, PreTradeCheck, RiskCheckResult
from paulp.domain.orders import Order

AT = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
STRATEGIES = ["bonding", "weather", "xv_signal", "smart_money", "resolution"]
PER_SAVE = 200


def write_orders(container: Container, n: int) -> int:
    """n filled orders over 2,000 markets; every third LIVE (its fill's mode comes from the SUBMITTED step)."""
    breaker = container.breaker.get()
    for start in range(0, n, PER_SAVE):
        batch = []
        for i in range(start, min(n, start + PER_SAVE)):
            at = AT + timedelta(seconds=7 * i)
            order = Order.create(signal_id=f"bench-{i}", strategy=STRATEGIES[i % 5], ticker=f"KXB-{i % 2000:04d}",
                                 side="YES" if i % 2 else "NO", requested_size=25, max_price=42, now=at,
                                 signal_model_probability=0.6, signal_edge=0.1, signal_confidence=0.8)
            order.pre_trade_check(PreTradeCheck(True, spread=0.01, depth=5000, vpin_score=0.1), at)
            order.validate(at)
            order.apply_risk_result(RiskCheckResult(True, input_hash="0" * 64), at)
            order.request_submission(at)
            mode = "LIVE" if i % 3 == 0 else "PAPER"
            order.apply_execution_result(ExecutionResult(True, ExecutionStatus.PAPER_FILLED, PaperFill(25, 43),
                                                         mode=mode), at)
            batch.append(order)
            if i % 4 == 0:
                breaker.raise_alert("BENCH", "warning", at, f"noise {i}")
        container.orders.save(*batch)
        container.breaker.save(breaker)
    with psycopg.connect(container.database_url) as conn:
        row = conn.execute("SELECT max(notification_id) FROM paulp_events").fetchone()
    return int(row[0]) if row else 0


class Reader:
    """Queries the view as the API does (an order by id, a strategy's positions) until stopped; keeps each
    query's latency so the longest wait during a swap can be read."""

    def __init__(self, db_url: str, order_ids: list[str]) -> None:
        self.db_url, self.order_ids = db_url, order_ids
        self.samples: list[tuple[float, float]] = []  # (start, seconds)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            i = 0
            while not self.stop.is_set():
                t0 = time.perf_counter()
                conn.execute("SELECT state, filled_size FROM views.orders WHERE order_id = %s",
                             (self.order_ids[i % len(self.order_ids)],)).fetchall()
                conn.execute("SELECT contracts FROM views.positions WHERE strategy = %s AND ticker = %s",
                             (STRATEGIES[i % 5], f"KXB-{i % 2000:04d}")).fetchall()
                self.samples.append((t0, time.perf_counter() - t0))
                i += 1
                time.sleep(0.002)

    def during(self, t0: float, t1: float) -> dict[str, float]:
        inside = [s for start, s in self.samples if t0 <= start <= t1 or t0 <= start + s <= t1]
        out = summary_ms(inside) if inside else {}
        out["max_ms"] = round(max(inside, default=0.0) * 1000, 3)
        out["queries"] = len(inside)
        return out


def timed_with_reader(db_url: str, order_ids: list[str], work: Any) -> tuple[float, dict[str, float], Any]:
    reader = Reader(db_url, order_ids)
    reader.thread.start()
    time.sleep(0.3)
    t0 = time.perf_counter()
    result = work()
    t1 = time.perf_counter()
    time.sleep(0.1)
    reader.stop.set()
    reader.thread.join(10)
    return t1 - t0, reader.during(t0, t1), result


def corrupt(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("DELETE FROM views.orders WHERE order_id IN (SELECT order_id FROM views.orders LIMIT 50)")
        conn.execute("UPDATE views.positions SET contracts = contracts + 1 WHERE ticker LIKE 'KXB-00%'")


def stage_copy(conn: psycopg.Connection[Any], schema: str, tables: tuple[str, ...]) -> None:
    """A scratch copy of the live rows (the rows a rebuild would swap in) for the swaps not taken."""
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    for t in tables:
        cols = sql.SQL(", ").join(sql.Identifier(c) for c, gen in rb.live_columns(conn, t) if not gen)
        conn.execute(sql.SQL("CREATE TABLE {s}.{t} (LIKE views.{t} INCLUDING ALL)").format(
            s=sql.Identifier(schema), t=sql.Identifier(t)))
        conn.execute(sql.SQL("INSERT INTO {s}.{t} ({c}) SELECT {c} FROM views.{t}").format(
            s=sql.Identifier(schema), t=sql.Identifier(t), c=cols))
        conn.execute(sql.SQL("ANALYZE {}.{}").format(sql.Identifier(schema), sql.Identifier(t)))


def truncate_swap(db_url: str, schema: str, tables: tuple[str, ...]) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(
            sql.SQL("views.{}").format(sql.Identifier(t)) for t in tables)))
        for t in tables:
            cols = sql.SQL(", ").join(sql.Identifier(c) for c, gen in rb.live_columns(conn, t) if not gen)
            conn.execute(sql.SQL("INSERT INTO views.{t} ({c}) SELECT {c} FROM {s}.{t}").format(
                s=sql.Identifier(schema), t=sql.Identifier(t), c=cols))


def rename_swap(db_url: str, schema: str, tables: tuple[str, ...]) -> None:
    """Old tables moved out, new ones moved in (index names would collide otherwise); grants, the table's
    comment and dependent views stay with the old table, so the real thing would need more than this."""
    with psycopg.connect(db_url) as conn:
        for t in tables:
            conn.execute(sql.SQL("ALTER TABLE views.{} SET SCHEMA bench_old").format(sql.Identifier(t)))
            conn.execute(sql.SQL("ALTER TABLE {}.{} SET SCHEMA views").format(sql.Identifier(schema),
                                                                              sql.Identifier(t)))


def settle(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=20_000)
    args = ap.parse_args()
    fig: dict[str, Any] = {"at": datetime.now(UTC).isoformat(), "orders": args.orders}
    with bench_services() as (db_url, nats_url, ns):
        container = build(Settings(ENVIRONMENT="test", PAULP_NAMESPACE=ns), db_url, nats_url)
        proj = container.projections["orders"]
        t0 = time.perf_counter()
        fig["events_in_log"] = write_orders(container, args.orders)
        fig["write_s"] = round(time.perf_counter() - t0, 1)
        with psycopg.connect(db_url, autocommit=True) as conn:
            t0 = time.perf_counter()
            catch_up_from_log(conn, proj, batch=500)
            fig["projector_catch_up_events_per_s"] = round(fig["events_in_log"] / (time.perf_counter() - t0))
            fig["rows"] = {t: conn.execute(sql.SQL("SELECT count(*) FROM views.{}").format(sql.Identifier(t)))
                           .fetchone()[0] for t in proj.tables}  # type: ignore[index]
            order_ids = [r[0] for r in conn.execute("SELECT order_id FROM views.orders ORDER BY random() LIMIT 2000")]
        corrupt(db_url)
        settle(db_url)

        with rb.exclusive(db_url, proj):
            t0 = time.perf_counter()
            prepared = rb.prepare(db_url, proj)
            fig["prepare_s"] = round(time.perf_counter() - t0, 2)
            fig["prepare_events_per_s"] = round(prepared.events / (time.perf_counter() - t0))
            t0 = time.perf_counter()
            _, diffs = rb.preview(db_url, proj, prepared)
            fig["dry_run_diff_s"] = round(time.perf_counter() - t0, 2)
            fig["dry_run"] = {d.table: [d.live, d.rebuilt, d.differ, d.only_live, d.only_rebuilt] for d in diffs}
            held, reader, swapped = timed_with_reader(db_url, order_ids, lambda: rb.swap(db_url, proj, prepared))
            rb.drop(db_url, prepared)
        fig["swap_delete_insert_lock_held_s"] = round(held, 2)
        fig["swap_delete_insert_reader"] = reader
        fig["swapped_rows"] = swapped.rows

        settle(db_url)
        with psycopg.connect(db_url, autocommit=True) as conn:
            stage_copy(conn, "bench_swap", proj.tables)
        held, reader, _ = timed_with_reader(db_url, order_ids, lambda: truncate_swap(db_url, "bench_swap", proj.tables))
        fig["swap_truncate_insert_s"] = round(held, 2)
        fig["swap_truncate_insert_reader"] = reader
        with psycopg.connect(db_url, autocommit=True) as conn:
            stage_copy(conn, "bench_swap", proj.tables)
            conn.execute("CREATE SCHEMA bench_old")
        held, reader, _ = timed_with_reader(db_url, order_ids, lambda: rename_swap(db_url, "bench_swap", proj.tables))
        fig["swap_rename_s"] = round(held, 3)
        fig["swap_rename_reader"] = reader
        container.close()
    for k, v in fig.items():
        print(f"{k:36s} {v}")
    print(f"saved {save('rebuild', fig)}")


if __name__ == "__main__":
    main()
