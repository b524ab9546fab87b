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
from typing import Any, TypeVar

from bench.common import bench_services, report, summary_ms
from paulp.adapters.eventstore.recorder import application_env
from paulp.adapters.migrate import migrate
from paulp.domain.clock import FixedClock
from paulp.domain.services.base import PaulpApplication
from paulp.domain.services.breaker import BreakerService
from paulp.domain.services.pipeline import OrdersService
from paulp.domain.throttle import ExecutionThrottle

AT = datetime(2026, 11, 29, 12, tzinfo=UTC)
SIZES = (1_000, 10_000, 30_000)
CALLS = 200
SCOPE = "kalshi/PAPER"
S = TypeVar("S", bound=PaulpApplication)


def timed(step: Callable[[], object]) -> dict[str, float]:
    samples = []
    for _ in range(CALLS):
        t0 = time.perf_counter()
        step()
        samples.append(time.perf_counter() - t0)
    return summary_ms(samples)


def risk_check(breakers: BreakerService) -> Callable[[], object]:
    return lambda: breakers.record_risk_check(blocked=False)


def count_order(orders: OrdersService) -> Callable[[], object]:
    def step() -> object:
        throttle = orders.get_or_none(ExecutionThrottle.id_for(SCOPE))
        throttle.count_order(1000, AT)
        return orders.save(throttle)
    return step


def compare(replaying: S, cached: S, step: Callable[[S], Callable[[], object]]) -> dict[str, Any]:
    try:
        return {"replayed_each_load": timed(step(replaying)), "cached": timed(step(cached))}
    finally:
        replaying.close()
        cached.close()


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
            row["breaker_record_risk_check"] = compare(BreakerService(uncached, clock), BreakerService(env, clock),
                                                       risk_check)
            row["throttle_count_order"] = compare(OrdersService(uncached, clock), OrdersService(env, clock),
                                                  count_order)
            figures[f"events_{size}"] = row
        breakers.close()
        orders.close()
    report("long_lived", figures)


if __name__ == "__main__":
    main()
