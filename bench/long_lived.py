"""Loading the aggregates every order touches as their logs grow (run: python -m bench.long_lived; ADR 0502).

The circuit breaker gains an event per risk check and a venue's execution throttle one per counted order, and both
are loaded for every order. For each size, 200 loads-decide-saves are timed through a service that replays the
aggregate from the log on every load (the cache off: as before ADR 0502) and through one that keeps it cached and
fast-forwards it from the log (as the breaker and orders services do now).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench.common import bench_services, save, summary_ms
from paulp.adapters.migrate import migrate
from paulp.api.wiring import application_env
from paulp.domain.clock import FixedClock
from paulp.domain.services.base import PaulpApplication
from paulp.domain.services.breaker import BreakerService
from paulp.domain.services.pipeline import OrdersService
from paulp.domain.throttle import ExecutionThrottle

AT = datetime(2026, 11, 29, 12, tzinfo=UTC)
SIZES = (1_000, 10_000, 30_000)
CALLS = 200
SCOPE = "kalshi/PAPER"


def timed(step: Callable[[], object]) -> dict[str, float]:
    samples = []
    for _ in range(CALLS):
        t0 = time.perf_counter()
        step()
        samples.append(time.perf_counter() - t0)
    return summary_ms(samples)


def count_order(orders: OrdersService) -> Callable[[], object]:
    def step() -> object:
        throttle = orders.get_or_none(ExecutionThrottle.id_for(SCOPE))
        throttle.count_order(1000, AT)
        return orders.save(throttle)
    return step


def grow(app: PaulpApplication, aggregate: Any, size: int, add: Callable[[Any], None]) -> Any:
    n = 0
    while aggregate.version < size:
        add(aggregate)
        n += 1
        if n % 200 == 0:
            app.save(aggregate)
    app.save(aggregate)
    return aggregate


def main() -> None:
    figures: dict[str, Any] = {}
    with bench_services() as (db_url, _, _):
        migrate(db_url)
        env, clock = application_env(db_url), FixedClock(AT)
        breakers, orders = BreakerService(env, clock), OrdersService(env, clock)
        throttle = ExecutionThrottle(SCOPE, AT)
        for size in SIZES:
            grow(breakers, breakers.get(), size, lambda b: b.record_risk_check(False, AT, True))
            throttle = grow(orders, orders.get_or_none(throttle.id) or throttle, size,
                            lambda t: t.count_order(1000, AT))
            uncached = {**env, "AGGREGATE_CACHE_MAXSIZE": ""}
            row: dict[str, Any] = {}
            for name, replaying, cached, step in (
                    ("breaker_record_risk_check", BreakerService(uncached, clock), BreakerService(env, clock),
                     lambda svc: (lambda: svc.record_risk_check(blocked=False))),
                    ("throttle_count_order", OrdersService(uncached, clock), OrdersService(env, clock), count_order)):
                row[name] = {"replayed_each_load": timed(step(replaying)), "cached": timed(step(cached))}
                replaying.close()
                cached.close()
            figures[f"events_{size}"] = row
        breakers.close()
        orders.close()
    for name, value in figures.items():
        print(f"{name}: {value}")
    print(f"saved {save('long_lived', figures)}")


if __name__ == "__main__":
    main()
