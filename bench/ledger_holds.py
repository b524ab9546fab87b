"""A reservation's cost as open holds pile up (run: python -m bench.ledger_holds). Pure domain, no database.

Holds pile up when outcomes cannot be stored (a database outage: the writer retries, the stale sweep runs every
15 minutes) or when provider calls are slow; every reservation of that category reads the open total under the
category's lock, so its cost bounds the category's throughput exactly then (ADR 0500). Each figure is one
RESERVE in the daily and the monthly ledger followed by the SETTLE of both, with N other holds open.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from bench.common import report, summary_ms
from paulp.domain.budget_ledger import open_ledger, reserve_both
from paulp.domain.budgets import Envelope, PeriodType, usd

AT = datetime(2026, 11, 29, 12, tzinfo=UTC)
ENVELOPE = Envelope(1e9, 1e10, 80.0)  # never the limit: the figure is the bookkeeping
CALLS = 2000


def reserve_and_settle(open_holds: int) -> dict[str, float]:
    daily = open_ledger("research_scoring", PeriodType.DAILY, AT)
    monthly = open_ledger("research_scoring", PeriodType.MONTHLY, AT)
    for i in range(open_holds):
        reserve_both(daily, monthly, f"open-{i}", usd(0.0123), ENVELOPE, AT)
    samples = []
    for i in range(CALLS):
        t0 = time.perf_counter()
        reserve_both(daily, monthly, f"call-{i}", usd(0.0123), ENVELOPE, AT)
        for ledger in (daily, monthly):
            ledger.settle(f"call-{i}", usd(0.011), AT)
        samples.append(time.perf_counter() - t0)
    return summary_ms(samples)


def main() -> None:
    figures: dict[str, object] = {f"open_holds_{n}": reserve_and_settle(n) for n in (0, 100, 1_000, 10_000)}
    report("ledger_holds", figures)


if __name__ == "__main__":
    main()
