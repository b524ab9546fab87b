"""Routing overhead per governed call (run: python -m bench.routing).

Provider time is excluded: the provider port is an in-process stub answering at once (zero latency), so
each figure is what the caller waits for: resolve + budget RESERVE with the decision's plan (one durable
save) + attempt bookkeeping + handing the outcome to the writer (ADR 0275). The outcome saves are timed
too: "all_outcomes_stored_s" is from the first call to the moment ``flush()`` returns, and calls_per_s
counts it. Alongside, in the same run: the reserve phase alone, a bare one-event library save (the floor
of one commit through the chained recorder) and a raw ``SELECT 1`` round trip.
Figures at 1 and at 50 concurrent callers in a closed loop (each caller starts its next call as soon as the
last returns: with a zero-latency provider that measures saturation, latency = 50 / throughput), and at 50
callers that each pause 0.1-0.3 s between calls (about 250 calls/s offered, as callers waiting on real
providers would), and at one caller pausing 2-6 ms (what a call after idle time costs, without
contention). All calls charge one category (the worst case for its lock). Each scenario first makes 300
untimed calls at its own concurrency: the figures are steady state, not the first use of each pool
connection (~35 ms for its first append: function compile and relation caches in a new backend) or the
first WAL segments after the database was created. Like every long-running paulp
process, the bench freezes its start-up heap once wired (``freeze_startup_heap``), so the cyclic
collector's full passes do not walk it with every caller stopped.
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg

from bench.common import bench_services, save, summary_ms
from paulp.adapters.config import Settings
from paulp.adapters.eventstore.recorder import application_env
from paulp.api.routing_wiring import uuid7
from paulp.api.runtime import freeze_startup_heap
from paulp.api.wiring import build
from paulp.domain.budgets import DEFAULT_ASSUMPTIONS
from paulp.domain.executor import CallPort, CallResult, Usage
from paulp.domain.routing_plan import plan_route
from paulp.domain.services.routing import RoutingService
from paulp.domain.services.routing_types import OpenGate

WARM_UP_CALLS = 300  # per scenario, back to back at its concurrency, before anything is timed
KEYS = {"ANTHROPIC_API_KEY": "k-a", "MINIMAX_API_KEY": "k-m", "MOONSHOT_API_KEY": "k-mo", "GOOGLE_AI_API_KEY": "k-g"}
USER_PROMPT = "classify: Fed holds rates steady in March"


class InstantProviders:
    """Zero-latency provider port: every attempt succeeds at once with fixed usage."""

    def port(self, system: str, user: str) -> CallPort:
        def call(model_id: str) -> CallResult:
            return CallResult("ok", Usage(120, 30), 0)

        return call


class PhaseTimer:
    """Wraps the service's two write phases to time them (thread-safe sample lists)."""

    def __init__(self, service: RoutingService) -> None:
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.lock = threading.Lock()
        for name in ("_reserve",):
            setattr(service, name, self._timed(name.strip("_"), getattr(service, name)))

    def _timed(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                with self.lock:
                    self.samples[name].append(time.perf_counter() - t0)

        return wrapper


def routing_service(container: Any) -> RoutingService:
    assumptions = DEFAULT_ASSUMPTIONS.with_overrides({"callsPerDay": 1e9})  # never budget-blocked here
    return RoutingService({**application_env(container.database_url), "AGGREGATE_CACHE_MAXSIZE": "2000"},
                          container.clock, llm_env=KEYS, providers=InstantProviders, new_id=uuid7,
                          assumptions=assumptions)


def run(service: RoutingService, calls: int, concurrency: int, think_s: float = 0.0) -> dict[str, Any]:
    timer = PhaseTimer(service)
    jitter = random.Random(5)

    def one(_: int) -> float:
        if think_s:  # a caller that does something else between calls (as real callers wait on providers)
            time.sleep(think_s * (0.5 + jitter.random()))
        t0 = time.perf_counter()
        out = service.govern("signal_scanning", user_prompt=USER_PROMPT)
        assert out.success, out.error
        return time.perf_counter() - t0

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        totals = list(pool.map(one, range(calls)))
    service.flush()
    wall = time.perf_counter() - t0
    return {"calls": calls, "concurrency": concurrency, "think_s": think_s, "calls_per_s": round(calls / wall, 1),
            "all_outcomes_stored_s": round(wall, 3), "governed_call": summary_ms(totals),
            "reserve_phase": summary_ms(timer.samples["reserve"])}


def warm_up(service: RoutingService, concurrency: int) -> None:
    """Untimed calls at the scenario's concurrency: ledgers cached, the pool grown, each connection used."""
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: service.govern("signal_scanning", user_prompt=USER_PROMPT), range(WARM_UP_CALLS)))
    service.flush()


def plan_only(service: RoutingService, n: int) -> dict[str, float]:
    from paulp.domain.routing import RouteRequest

    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        plan_route(RouteRequest("signal_scanning", 11, 500), service.llm_env, OpenGate(service.clock.now()))
        samples.append(time.perf_counter() - t0)
    return summary_ms(samples)


def bare_save(container: Any, n: int) -> dict[str, float]:
    """One single-event save through the library + chained recorder: the floor of one commit."""
    svc = container.breaker
    breaker = svc.get()
    svc.save(breaker)
    samples = []
    for i in range(n):
        breaker.raise_alert("BENCH", "warning", container.clock.now(), f"{i}")
        t0 = time.perf_counter()
        svc.save(breaker)
        samples.append(time.perf_counter() - t0)
    return summary_ms(samples)


def select_one(db_url: str, n: int) -> dict[str, float]:
    samples = []
    with psycopg.connect(db_url, autocommit=True) as conn:
        for _ in range(n):
            t0 = time.perf_counter()
            conn.execute("SELECT 1").fetchone()
            samples.append(time.perf_counter() - t0)
    return summary_ms(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--concurrent-calls", type=int, default=2000)
    args = parser.parse_args()
    with bench_services() as (db_url, nats_url, namespace):
        container = build(Settings(ENVIRONMENT="test", PAULP_NAMESPACE=namespace), db_url, nats_url)
        with psycopg.connect(db_url, autocommit=True) as conn:
            # Start from a flushed buffer cache: a benchmark run just before (bench.trades_query loads and
            # drops a million rows) otherwise leaves its dirty pages to the checkpointer during these figures.
            conn.execute("CHECKPOINT")
        try:
            figures: dict[str, Any] = {
                "raw_select_1": select_one(db_url, 500),
                "library_one_event_save": bare_save(container, 500),
            }
            for name, calls, concurrency, think in (("sequential", args.calls, 1, 0.0),
                                                    ("sequential_paced", args.calls // 2, 1, 0.004),
                                                    ("concurrent_50", args.concurrent_calls, 50, 0.0),
                                                    ("concurrent_50_paced", args.concurrent_calls, 50, 0.2)):
                service = routing_service(container)
                warm_up(service, concurrency)
                freeze_startup_heap()  # as every long-running paulp process does once wired
                figures.setdefault("plan_route_pure", plan_only(service, 2000))
                figures[name] = run(service, calls, concurrency, think)
                service.close()
            figures["targets"] = {"p50_ms": 2.0, "p99_ms": 10.0}
        finally:
            container.close()
    for name, value in figures.items():
        print(f"{name}: {value}")
    print_table(figures)
    print(f"saved {save('routing', figures)}")


SCENARIOS = {
    "sequential": "1 caller, back to back",
    "sequential_paced": "1 caller, pausing 2-6 ms",
    "concurrent_50_paced": "50 callers, each pausing 0.1-0.3 s",
    "concurrent_50": "50 callers, closed loop (saturation)",
}


def print_table(figures: dict[str, Any]) -> None:
    """The governed call per scenario against the targets. The closed loop with a zero-latency provider is a
    saturation test: its latency is callers / throughput (Little's law), so it is judged by throughput."""
    target = figures["targets"]
    print(f"{'scenario':42s} {'calls/s':>8s} {'p50 ms':>7s} {'p99 ms':>7s}  targets p50 <= {target['p50_ms']},"
          f" p99 <= {target['p99_ms']}")
    for name, label in SCENARIOS.items():
        r = figures[name]
        call = r["governed_call"]
        if name == "concurrent_50":
            verdict = f"n/a: 50 / {r['calls_per_s']:.0f} calls/s = {50000 / r['calls_per_s']:.1f} ms"
        else:
            met = call["p50_ms"] <= target["p50_ms"] and call["p99_ms"] <= target["p99_ms"]
            verdict = "met" if met else "NOT met"
        print(f"{label:42s} {r['calls_per_s']:8.1f} {call['p50_ms']:7.2f} {call['p99_ms']:7.2f}  {verdict}")


if __name__ == "__main__":
    main()
