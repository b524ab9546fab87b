"""Every projection catching up from JetStream through the shared pool (ADR 0507), by pool size.

Per size: a fresh database and namespace, ``--events`` breaker events appended (100 per save) and relayed to
JetStream first, then ``run_workers`` (projectors only) timed until every projection has tracked the last
event. Prints events/s summed over the projections (each projection reads every event) and the most
PostgreSQL connections the projectors held. Size 26 stands for the former layout's apply concurrency (one
connection per projection), which also held a lock connection per projection. Run: python -m bench.projector_pool
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from datetime import UTC, datetime
from typing import Any

import psycopg

from bench.common import bench_services, report
from paulp.adapters.config import Settings
from paulp.adapters.relay import Relay
from paulp.api.runtime import run_workers
from paulp.api.wiring import build


def _append(container: Any, events: int) -> int:
    breaker = container.breaker
    done = 0
    while done < events:
        b = breaker.get()
        for i in range(min(100, events - done)):
            b.raise_alert(f"BENCH{(done + i) % 7}", "warning", container.clock.now())
        breaker.save(b)
        done += min(100, events - done)
    with psycopg.connect(container.database_url) as conn:
        row = conn.execute("SELECT max(notification_id) FROM paulp_events").fetchone()
    return int(row[0]) if row else 0


async def _relay_all(container: Any, head: int) -> None:
    stop = asyncio.Event()
    relay = Relay(container.database_url, container.nats_url, container.names)
    task = asyncio.create_task(relay.run(stop))
    deadline = time.monotonic() + 300
    while relay.stats.last_notification_id < head and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    stop.set()
    await task


def _connections(url: str) -> int:
    """Every other session on the bench's database: only the projectors use it while they run."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                           " AND pid <> pg_backend_pid()").fetchone()
    return int(row[0]) if row else 0


def _tracked_min(url: str, names: list[str]) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = dict(conn.execute("SELECT name, last_notification_id FROM projection_tracking").fetchall())
    return min(int(rows.get(n, 0)) for n in names)


def run_size(size: int, events: int) -> dict[str, Any]:
    with bench_services() as (db_url, nats_url, ns):
        settings = Settings(ENVIRONMENT="test", PAULP_NAMESPACE=ns, PAULP_PROJECTOR_CONNECTIONS=size)
        container = build(settings, db_url, nats_url)
        try:
            head = _append(container, events)
        finally:
            container.close()  # its applications' pools: only the projectors' connections are counted below
        asyncio.run(_relay_all(container, head))
        names = list(container.projections)
        held: dict[str, Any] = {}
        started = threading.Event()

        async def main() -> None:
            held["loop"], held["stop"] = asyncio.get_running_loop(), asyncio.Event()
            started.set()
            await run_workers(container, held["stop"], relay=False)

        thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
        t0 = time.perf_counter()
        thread.start()
        started.wait(10)
        peak = 0
        deadline = time.monotonic() + 600
        while _tracked_min(db_url, names) < head and time.monotonic() < deadline:
            peak = max(peak, _connections(db_url))
            time.sleep(0.05)
        elapsed = time.perf_counter() - t0
        caught_up = _tracked_min(db_url, names) >= head
        held["loop"].call_soon_threadsafe(held["stop"].set)
        thread.join(30)
    return {"pool": size, "events": head, "projections": len(names), "caught_up": caught_up,
            "seconds": round(elapsed, 2), "events_per_s_all_projections": round(head * len(names) / elapsed, 1),
            "peak_connections": peak}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=5000)
    ap.add_argument("--sizes", default="1,4,26")
    args = ap.parse_args()
    fig: dict[str, Any] = {"at": datetime.now(UTC).isoformat()}
    for size in (int(s) for s in args.sizes.split(",")):
        fig[f"pool_{size}"] = run_size(size, args.events)
    report("projector_pool", fig)
    print(f"{'pool':>5} {'events/s (all projections)':>28} {'seconds':>8} {'peak connections':>17}")
    for key, row in fig.items():
        if key.startswith("pool_"):
            print(f"{row['pool']:>5} {row['events_per_s_all_projections']:>28} {row['seconds']:>8}"
                  f" {row['peak_connections']:>17}")


if __name__ == "__main__":
    main()
