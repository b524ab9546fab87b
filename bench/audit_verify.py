"""The hourly audit job, full vs incremental, over a log of real events (run: python -m bench.audit_verify
[--sizes 100000,300000] [--hour 1000]; ADR 0506).

Unlike ``bench.audit_anchors`` (chain rows by COPY, no events) the chain here is appended by the recorder, one
row per stored event, so the walk re-hashes real payloads and compares each with its ``paulp_events`` row. The
log is grown by the breaker service's saves of 200 risk checks (the long-lived-aggregate benches' load); for each
size a full job is run, then an hour of new events (``--hour``, ~22,000 a day of LLM routing alone is ~900 an
hour) is appended and the job is timed both ways on the same head: incremental (what the hourly slot now does)
and full (what it did before, and still does once a day). Each job's parts are timed on their own as well: the
anchor write, the chain walk and the check of every anchor, and the anchor write and check done in one pass as the
job now does them (ADR 0509).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from bench.common import bench_services, report
from paulp.adapters.anchors import pin_and_verify_anchors, verify_stored_anchors, write_anchor
from paulp.adapters.audit_store import verify
from paulp.adapters.config import Settings
from paulp.adapters.eventstore.recorder import application_env
from paulp.api.audit_job import anchor_and_verify
from paulp.api.wiring import Container, build
from paulp.domain.checkpoints import CHECKPOINT_EVERY
from paulp.domain.clock import FixedClock
from paulp.domain.services.breaker import BreakerService

AT = datetime(2026, 11, 29, 12, tzinfo=UTC)
SAVE = 200
T = TypeVar("T")


def grow(breakers: BreakerService, events: int) -> None:
    """Append ``events`` risk-check events in saves of ``SAVE``, checkpointed as the service's saves are."""
    breaker = breakers.get()
    while events > 0:
        for _ in range(min(SAVE, events)):
            breaker.record_risk_check(False, AT, True)
        events -= SAVE
        breaker.checkpoint_if_due(CHECKPOINT_EVERY)
        breakers.save(breaker)


def timed(step: Callable[[], T]) -> tuple[T, float]:
    t0 = time.perf_counter()
    out = step()
    return out, round(time.perf_counter() - t0, 3)


def job(c: Container, full: bool) -> dict[str, Any]:
    outcome, seconds = timed(lambda: anchor_and_verify(c, full))
    assert outcome.valid and outcome.plan.mode == ("full" if full else "incremental"), outcome.plan
    return {"job_s": seconds, "mode": outcome.plan.mode, "from_sequence": outcome.plan.start,
            "records_walked": outcome.chain.chain.events_checked, "anchors_checked": outcome.anchors.verified}


def parts(c: Container, start: int) -> dict[str, float]:
    """The job's three steps, each alone: anchor write, chain walk (full and from ``start``), anchor checks."""
    _, anchor_s = timed(lambda: write_anchor(c.database_url, c.anchor_url, c.clock.now()))
    _, walk_full_s = timed(lambda: verify(c.database_url))
    _, walk_incremental_s = timed(lambda: verify(c.database_url, start, linked=True))
    _, anchors_s = timed(lambda: verify_stored_anchors(c.database_url, c.anchor_url))
    _, pinned_s = timed(lambda: pin_and_verify_anchors(c.database_url, c.anchor_url, c.clock.now()))
    return {"write_anchor_s": anchor_s, "walk_full_s": walk_full_s, "walk_incremental_s": walk_incremental_s,
            "verify_anchors_s": anchors_s, "write_plus_verify_anchors_s": round(anchor_s + anchors_s, 3),
            "pin_and_verify_anchors_s": pinned_s}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,300000", help="log sizes (events), comma-separated, ascending")
    ap.add_argument("--hour", type=int, default=1_000, help="events appended between the two jobs")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    figures: dict[str, Any] = {"hour_events": args.hour}
    with bench_services() as (db_url, nats_url, ns):
        c = build(Settings(ENVIRONMENT="test", PAULP_NAMESPACE=ns), db_url, nats_url, FixedClock(AT))
        breakers = BreakerService(application_env(db_url), FixedClock(AT))
        grown = 0
        try:
            for size in sizes:
                n = size - args.hour - grown
                _, grow_s = timed(lambda: grow(breakers, n))  # noqa: B023 (called at once)
                baseline = job(c, full=True)
                grow(breakers, args.hour)
                grown = size
                row: dict[str, Any] = {"append_events_per_s": round(n / max(grow_s, 1e-9)),
                                       "baseline_full_s": baseline["job_s"]}
                row["incremental"] = job(c, full=False)
                row["full"] = job(c, full=True)
                row["parts"] = parts(c, row["incremental"]["from_sequence"])
                figures[f"events_{size}"] = row
        finally:
            breakers.close()
            c.close()
    report("audit_verify", figures)


if __name__ == "__main__":
    main()
