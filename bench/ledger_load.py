"""Loading a budget ledger: replayed from ``Opened`` against resumed from its last checkpoint (ADR 0501).

Run: python -m bench.ledger_load. A month's ledger grows by two events per governed call (reserve, settle): about
190,000 by a month's end at the default 3,200 calls a day. A ledger is loaded on a process's first call in its
category, by every dry run and CLI read, and again after any failed save (the in-memory copy is dropped). The
ledger here is built by direct saves of 50 calls at a time, checkpointing as the service's batches do.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from bench.common import bench_services, report
from bench.routing import InstantProviders
from paulp.adapters.eventstore.recorder import application_env
from paulp.adapters.migrate import migrate
from paulp.api.routing_wiring import uuid7
from paulp.domain.budget_ledger import CHECKPOINT_EVERY, BudgetPeriodLedger, open_ledger
from paulp.domain.budgets import PeriodType, usd
from paulp.domain.clock import FixedClock
from paulp.domain.services.routing import RoutingService

AT = datetime(2026, 11, 29, 12, tzinfo=UTC)
SIZES = (10_000, 50_000, 100_000)


def service(db_url: str) -> RoutingService:
    return RoutingService(application_env(db_url), FixedClock(AT), llm_env={}, providers=InstantProviders,
                          new_id=uuid7)


def main() -> None:
    figures: dict[str, Any] = {"checkpoint_every": CHECKPOINT_EVERY}
    with bench_services() as (db_url, _, _):
        migrate(db_url)
        writer = service(db_url)
        ledger = open_ledger("research_scoring", PeriodType.MONTHLY, AT)
        calls = 0
        for size in SIZES:
            while ledger.version < size:
                ledger.reserve(f"r{calls}", usd(0.0123), usd(1e9), AT)
                ledger.settle(f"r{calls}", usd(0.011), AT)
                calls += 1
                if calls % 50 == 0:
                    ledger.checkpoint_if_due(CHECKPOINT_EVERY)
                    writer.save(ledger)
            ledger.checkpoint_if_due(CHECKPOINT_EVERY)
            writer.save(ledger)
            reader = service(db_url)
            t0 = time.perf_counter()
            replayed: BudgetPeriodLedger = reader.repository.get(ledger.id)
            t1 = time.perf_counter()
            resumed = reader.ledger_snapshots("research_scoring", AT)[1]
            t2 = time.perf_counter()
            assert resumed.consumed_usd == replayed.consumed_usd and resumed.open_reservations == len(replayed.holds)
            figures[f"events_{replayed.version}"] = {"full_replay_s": round(t1 - t0, 3),
                                                     "from_checkpoint_ms": round(1000 * (t2 - t1), 1)}
            reader.close()
        writer.close()
    report("ledger_load", figures)


if __name__ == "__main__":
    main()
