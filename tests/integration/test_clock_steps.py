"""The host's wall clock steps (NTP, a resumed VM) while the system runs, on real PostgreSQL with the loopback
Kalshi exchange (ADR 0522): the scheduler keeps running its jobs once per slot, and the order timers still
cancel a resting order whose age the clock can no longer tell."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest

from paulp.api.exit_jobs import monitor_exits
from paulp.api.order_timers_job import run_order_timers
from paulp.api.scheduler import CronScheduler
from paulp.domain.marks import Quotes
from paulp.domain.order_states import OrderState
from tests.integration.helpers import NOW
from tests.integration.kalshi_system import System, resting_live_order, venue_order

pytestmark = pytest.mark.integration
EVERY_MINUTE = (("anchor", "* * * * *"),)
EXIT_TICKER = "KXEXIT-A"


class Monotonic:
    """The seconds the process measures (``time.monotonic``'s role), moved by the test: it never steps."""

    def __init__(self) -> None:
        self.at = 1000.0

    def __call__(self) -> float:
        return self.at


def _step_alerts(system: System) -> list[str]:
    """The messages of the breaker's clock-step alerts, oldest first (each a warning: no transition)."""
    found = [e for e in system.events("CircuitBreaker.AlertRaised") if e.code == "CLOCK_STEPPED"]
    assert {e.severity for e in found} <= {"warning"}
    return [e.message for e in found]


def _tick(system: System, cron: CronScheduler, mono: Monotonic, wall: datetime, passed_s: float) -> list[str]:
    mono.at += passed_s
    system.container.clock.set(wall)  # type: ignore[attr-defined]
    started = [s.run_id for s in cron.tick()]
    assert system.container.jobs.wait(30)
    return started


def test_tick_when_the_wall_clock_steps_back_then_every_minute_still_runs_once_and_the_step_is_logged(
        system: System, caplog: pytest.LogCaptureFixture):
    mono = Monotonic()
    cron = CronScheduler(system.container, EVERY_MINUTE, trading=False, monotonic=mono)
    try:
        seen: list[str] = []
        for minute in range(3):  # 15:00, 15:01, 15:02
            seen += _tick(system, cron, mono, NOW + timedelta(minutes=minute), 60)
        assert seen == [f"scheduled:anchor:2026-03-02T15:0{m}Z" for m in range(3)]
        with caplog.at_level(logging.WARNING, logger="paulp.scheduler"):
            # NTP steps the clock back 2 minutes while one more minute passes: the wall reads 15:01 again.
            back = _tick(system, cron, mono, NOW + timedelta(minutes=1), 60)
        assert back == ["scheduled:anchor:2026-03-02T15:03Z"]  # the minute that passed runs; 15:01 not again
        assert any("stepped back" in r.getMessage() for r in caplog.records), caplog.text
        assert [a.startswith("wall clock stepped back by 0:02:00") for a in _step_alerts(system)] == [True]
        later = _tick(system, cron, mono, NOW + timedelta(minutes=2), 60)
        assert later == ["scheduled:anchor:2026-03-02T15:04Z"]
        assert len(set(seen + back + later)) == 5
    finally:
        cron.close()


def test_tick_when_the_wall_clock_steps_forward_then_the_latest_slot_runs_once_and_the_step_is_logged(
        system: System, caplog: pytest.LogCaptureFixture):
    mono = Monotonic()
    cron = CronScheduler(system.container, EVERY_MINUTE, trading=False, monotonic=mono)
    try:
        assert _tick(system, cron, mono, NOW, 60) == ["scheduled:anchor:2026-03-02T15:00Z"]
        with caplog.at_level(logging.WARNING, logger="paulp.scheduler"):
            ahead = _tick(system, cron, mono, NOW + timedelta(hours=2), 60)  # one minute measured, two hours read
        assert ahead == ["scheduled:anchor:2026-03-02T17:00Z"]  # no backlog of the 120 minutes skipped
        assert any("stepped forward" in r.getMessage() for r in caplog.records), caplog.text
        assert [a.startswith("wall clock stepped forward by 1:59:00") for a in _step_alerts(system)] == [True]
    finally:
        cron.close()


def test_tick_when_restarted_after_the_wall_clock_stepped_back_then_it_goes_on_from_the_last_slot_run(
        system: System):
    mono = Monotonic()
    first = CronScheduler(system.container, EVERY_MINUTE, trading=False, monotonic=mono)
    try:
        for minute in range(3):  # 15:00, 15:01, 15:02
            _tick(system, first, mono, NOW + timedelta(minutes=minute), 60)
    finally:
        first.close()
    system.project("job_runs")
    mono = Monotonic()
    again = CronScheduler(system.container, EVERY_MINUTE, trading=False, monotonic=mono)  # a new process
    try:
        assert _tick(system, again, mono, NOW + timedelta(minutes=1), 0) == []  # the wall reads 15:01 again
        assert _tick(system, again, mono, NOW + timedelta(minutes=2), 60) == ["scheduled:anchor:2026-03-02T15:03Z"]
    finally:
        again.close()


def test_order_timers_when_the_clock_stepped_back_past_the_timeout_then_a_resting_order_is_cancelled_at_kalshi(
        system: System):
    system.container.compliance.seed()
    _, order_id = resting_live_order(system, "cs-back")  # submitted at NOW
    system.container.clock.set(NOW - timedelta(minutes=1))  # type: ignore[attr-defined]
    system.project("orders")
    assert run_order_timers(system.container)["results"] == []  # within the bound: still working
    system.container.clock.set(NOW - timedelta(hours=1))  # type: ignore[attr-defined]
    report = run_order_timers(system.container)
    assert {r["orderId"]: r["outcome"] for r in report["results"]} == {order_id: "cancelled_at_venue"}
    order = system.order(order_id)
    assert order.state == OrderState.CANCELLED and "clock stepped back" in (order.cancel_reason or "")
    assert venue_order(system, order_id)["status"] == "canceled"


def _paper_position_marked(system: System) -> None:
    """A PAPER position of 50 YES bought at 43 in EXIT_TICKER, its market marked at NOW (mid 45: held)."""
    system.container.compliance.seed()
    system.paper_fill("cs-exit", EXIT_TICKER)
    system.mark(EXIT_TICKER, Quotes(44, 46, 54, 56))


def test_exits_when_the_clock_stepped_back_and_the_market_fell_then_the_new_mark_counts_and_the_stop_fires(
        system: System):
    _paper_position_marked(system)
    back = NOW - timedelta(hours=1)
    system.container.clock.set(back)  # type: ignore[attr-defined]
    assert system.container.markets.observe(EXIT_TICKER, Quotes(30, 32, 68, 70), back, None)  # the marks job's read
    system.project("market_marks")
    report = monitor_exits(system.container)
    assert [(e["reason"], e["state"]) for e in report["exits"]] == [("STOP_LOSS_HIT", "FILLED")], report


def test_exits_when_the_clock_stepped_back_and_no_mark_came_since_then_the_mark_is_stale_not_judged(
        system: System):
    _paper_position_marked(system)
    system.container.clock.set(NOW - timedelta(hours=1))  # type: ignore[attr-defined]  # marked an hour "ahead"
    report = monitor_exits(system.container)
    assert [s["ticker"] for s in report["staleMarks"]] == [EXIT_TICKER] and report["checked"] == 0
