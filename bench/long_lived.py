"""Loading the aggregates every order or marks tick touches as their logs grow (run: python -m bench.long_lived;
ADRs 0502, 0503, 0505, 0508).

The circuit breaker gains an event per risk check and a venue's execution throttle one per counted order, and both
are loaded for every order; a held market's mark gains one per minute its quotes move and is loaded by every
one-minute marks tick; a compliance source gains one per failed job run and is loaded by every fetch's gate check
(its first load in a process: ``compliance_first_load``).
For each size:
- 200 loads-decide-saves through a service without the aggregate cache (before ADR 0502 this replayed the whole
  history on every load; since ADR 0503 it resumes from the last checkpoint on every load) and through one that
  keeps it cached and fast-forwards it from the log (as the breaker and orders services do);
- a process's first load (a cache miss: the aggregate is evicted before each of 10 loads), replayed from its first
  event (as before ADR 0503) and resumed from its last checkpoint (as the services load it now).
The aggregates are grown by saves of 200 events, checkpointed before each save as the services' saves do.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar
from uuid import UUID

from bench.common import bench_services, report, summary_ms
from paulp.adapters.eventstore.recorder import application_env
from paulp.adapters.migrate import migrate
from paulp.domain.breaker import CircuitBreaker
from paulp.domain.checkpoints import CHECKPOINT_EVERY
from paulp.domain.clock import FixedClock
from paulp.domain.compliance import ComplianceSource
from paulp.domain.marks import MarketMark, Quotes
from paulp.domain.services.base import PaulpApplication
from paulp.domain.services.breaker import BreakerService
from paulp.domain.services.compliance import ComplianceService
from paulp.domain.services.markets import MarketsService
from paulp.domain.services.pipeline import OrdersService
from paulp.domain.throttle import ExecutionThrottle

AT = datetime(2026, 11, 29, 12, tzinfo=UTC)
SIZES = (1_000, 10_000, 30_000)
CALLS = 200
FIRST_LOADS = 10
SCOPE = "kalshi/PAPER"
TICKER = "KXHIGHNY-26MAR02-B45"
SOURCE = "kalshi_trade_api"  # what the gate reads before every Kalshi fetch
S = TypeVar("S", bound=PaulpApplication)


def timed(step: Callable[[], object], calls: int = CALLS, before: Callable[[], object] = lambda: None
          ) -> dict[str, float]:
    samples = []
    for _ in range(calls):
        before()
        t0 = time.perf_counter()
        step()
        samples.append(time.perf_counter() - t0)
    return summary_ms(samples)


def first_loads(app: PaulpApplication, aggregate_id: UUID, load: Callable[[], Any]) -> dict[str, Any]:
    """A process's first load, ``FIRST_LOADS`` times: the aggregate is evicted from the cache before each load."""
    cache = app.repository.cache
    assert cache is not None

    def evict() -> None:
        with contextlib.suppress(KeyError):
            cache.get(aggregate_id, evict=True)

    replayed: Any = app.repository.get(aggregate_id)
    evict()
    resumed = load()
    assert (resumed.version, resumed.modified_on) == (replayed.version, replayed.modified_on)
    return {"replayed_from_first_event": timed(lambda: app.repository.get(aggregate_id), FIRST_LOADS, evict),
            "resumed_from_checkpoint": timed(load, FIRST_LOADS, evict),
            "events_since_checkpoint": replayed.version - replayed.checkpointed_at}


def risk_check(breakers: BreakerService) -> Callable[[], object]:
    return lambda: breakers.record_risk_check(blocked=False)


def count_order(orders: OrdersService) -> Callable[[], object]:
    def step() -> object:
        throttle = orders.throttle(SCOPE)
        assert throttle is not None
        throttle.count_order(1000, AT)
        return orders.save(throttle)
    return step


def quotes(i: int) -> Quotes:
    """Quotes that move every minute, so each observation is an event (the marks job's worst case)."""
    bid = 20 + i % 50
    return Quotes(bid, bid + 2, 98 - bid, 100 - bid)


class Minutes:
    """The marks job's clock: one observation a minute, after those that grew the mark."""

    def __init__(self) -> None:
        self.n = 0

    def observe(self, mark: MarketMark) -> None:
        self.n += 1
        mark.observe(quotes(self.n), AT + timedelta(minutes=self.n), None)

    def tick(self, markets: MarketsService) -> Callable[[], object]:
        def step() -> object:
            self.n += 1
            return markets.observe(TICKER, quotes(self.n), AT + timedelta(minutes=self.n), None)
        return step


def failed_runs(compliance: ComplianceService, size: int) -> None:
    """The Kalshi source's history as a long outage leaves it: one ``EventRecorded`` per failed job run, checkpointed
    before each save as the service's saves do (ADR 0508)."""
    source = compliance.source(SOURCE)
    assert source is not None
    while source.version < size:
        for _ in range(min(200, size - source.version)):
            source.record_event("api_error", "marks: calls failed (HTTP 503)", "job:marks", AT)
        source.checkpoint_if_due(CHECKPOINT_EVERY)
        compliance.save(source)


def gate(compliance: ComplianceService) -> Callable[[], object]:
    return lambda: compliance.gate("kalshi", "fetch_markets")


def compare(uncached: S, cached: S, step: Callable[[S], Callable[[], object]]) -> dict[str, Any]:
    try:
        return {"uncached": timed(step(uncached)), "cached": timed(step(cached))}
    finally:
        uncached.close()
        cached.close()


def grow(app: PaulpApplication, aggregate: Any, size: int, add: Callable[[Any], None]) -> Any:
    n = 0
    while aggregate.version < size:
        add(aggregate)
        n += 1
        if n % 200 == 0:
            aggregate.checkpoint_if_due(CHECKPOINT_EVERY)
            app.save(aggregate)
    aggregate.checkpoint_if_due(CHECKPOINT_EVERY)
    app.save(aggregate)
    return aggregate


def main() -> None:
    figures: dict[str, Any] = {"checkpoint_every": CHECKPOINT_EVERY}
    with bench_services() as (db_url, _, _):
        migrate(db_url)
        env, clock = application_env(db_url), FixedClock(AT)
        breakers, orders = BreakerService(env, clock), OrdersService(env, clock)
        throttle, mark, minutes = ExecutionThrottle(SCOPE, AT), MarketMark(TICKER), Minutes()
        markets, compliance = MarketsService(env, clock), ComplianceService(env, clock)
        compliance.ensure_seeded()
        for size in SIZES:
            grow(breakers, breakers.get(), size, lambda b: b.record_risk_check(False, AT, True))
            throttle = grow(orders, orders.get_or_none(throttle.id) or throttle, size,
                            lambda t: t.count_order(1000, AT))
            mark = grow(markets, markets.mark(TICKER) or mark, size, minutes.observe)
            uncached = {**env, "AGGREGATE_CACHE_MAXSIZE": ""}
            row: dict[str, Any] = {}
            row["breaker_record_risk_check"] = compare(BreakerService(uncached, clock), BreakerService(env, clock),
                                                       risk_check)
            row["throttle_count_order"] = compare(OrdersService(uncached, clock), OrdersService(env, clock),
                                                  count_order)
            row["mark_observe"] = compare(MarketsService(uncached, clock), MarketsService(env, clock), minutes.tick)
            failed_runs(compliance, size)
            row["compliance_gate"] = compare(ComplianceService(uncached, clock), ComplianceService(env, clock), gate)
            fresh_breakers, fresh_orders = BreakerService(env, clock), OrdersService(env, clock)
            fresh_markets, fresh_compliance = MarketsService(env, clock), ComplianceService(env, clock)
            row["breaker_first_load"] = first_loads(fresh_breakers, CircuitBreaker.create_id("global"),
                                                    fresh_breakers.get)
            row["throttle_first_load"] = first_loads(fresh_orders, throttle.id, partial(fresh_orders.throttle, SCOPE))
            row["mark_first_load"] = first_loads(fresh_markets, mark.id, partial(fresh_markets.mark, TICKER))
            row["compliance_first_load"] = first_loads(fresh_compliance, ComplianceSource.create_id(SOURCE),
                                                       partial(fresh_compliance.source, SOURCE))
            fresh_breakers.close()
            fresh_orders.close()
            fresh_markets.close()
            fresh_compliance.close()
            figures[f"events_{size}"] = row
        breakers.close()
        orders.close()
        markets.close()
        compliance.close()
    report("long_lived", figures)


if __name__ == "__main__":
    main()
