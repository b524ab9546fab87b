"""What the time-driven rules decide when the wall clock steps back or forward (ADR 0522): throttles, order
timers, the breaker's HALT timeout, budget holds and the schedule, each given the stepped ``now``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from paulp.domain.breaker import BreakerState, CircuitBreaker
from paulp.domain.budget_ledger import BudgetPeriodLedger
from paulp.domain.budgets import PeriodType
from paulp.domain.execution import initial_rate_state, record_order, roll_windows, throttle_wait_ms, validate_request
from paulp.domain.execution_orders import ExecutionRequest, ExecutionSignal, MarketSnapshot, Side
from paulp.domain.execution_policy import ExecutionMode, policy_for_mode
from paulp.domain.order_states import OrderState
from paulp.domain.order_timers import expire_stale, time_out_risk_check
from paulp.domain.schedule import SCHEDULE, build_schedule, due_slots
from tests.unit.domain.orders_support import NOW, placed

S = OrderState
MONDAY = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def _throttled(state, now: datetime) -> list[str]:  # type: ignore[no-untyped-def]
    request = ExecutionRequest("order-1", ExecutionSignal("T-1", Side.YES, 0.65, 0.5, 0.15, 0.8), 1, 50)
    market = MarketSnapshot("T-1", "active", 48, 52, 48, 52, 5000, MONDAY + timedelta(days=2), None, "politics")
    errors = validate_request(request, market, policy_for_mode(ExecutionMode.LIVE), state, now).errors
    return [e for e in errors if e.startswith(("Rate limit", "Order spacing", "Daily volume"))]


# ------------------------------------------------------------------- throttle (already right)
def test_throttle_when_the_clock_steps_back_then_the_full_minute_still_blocks_and_nothing_bursts() -> None:
    limit = policy_for_mode(ExecutionMode.LIVE).max_orders_per_minute
    state = initial_rate_state(MONDAY)
    for i in range(limit):  # the minute's allowance, one order every 2 s
        state = record_order(state, 100, MONDAY + timedelta(seconds=2 * i))
    for back in (timedelta(seconds=30), timedelta(hours=1), timedelta(days=1)):
        now = MONDAY + timedelta(seconds=2 * limit) - back
        rolled = roll_windows(state, now)
        assert rolled == state, back  # no window rolls on a clock that went back
        assert any(e.startswith("Rate limit") for e in _throttled(rolled, now)), back
        assert throttle_wait_ms(rolled, policy_for_mode(ExecutionMode.LIVE), now) > 0


def test_throttle_when_the_clock_steps_back_across_midnight_then_the_days_volume_is_kept() -> None:
    after_midnight = datetime(2026, 3, 3, 0, 5, tzinfo=UTC)
    state = record_order(initial_rate_state(after_midnight), 49_990, after_midnight)  # 499.90 of LIVE's 500 USD
    back = after_midnight - timedelta(minutes=10)  # 23:55 the day before
    assert roll_windows(state, back).volume_today == 49_990
    assert "Daily volume limit: would exceed 50000 cents" in _throttled(
        replace(roll_windows(state, back), last_order_ms=0), back)


# ------------------------------------------------------------------- order timers
def test_expire_stale_when_the_clock_stepped_back_past_the_timeout_then_cancelled_naming_the_step() -> None:
    order = placed(S.SUBMITTED)  # submitted at NOW
    assert expire_stale(order, NOW - timedelta(seconds=301))  # the wall reads more than the timeout before it
    assert order.state == S.CANCELLED
    assert "clock stepped back" in order.history[-1].reason


def test_expire_stale_when_the_clock_stepped_back_less_than_the_timeout_then_still_working() -> None:
    order = placed(S.SUBMITTED)
    assert expire_stale(order, NOW - timedelta(seconds=300)) is False  # within the bound: 2 x the timeout at most
    assert order.state == S.SUBMITTED


def test_expire_stale_when_partial_fill_and_the_clock_stepped_back_then_thin_remainder_cancelled() -> None:
    order = placed(S.SUBMITTED)
    order.record_fill(4, 50, NOW)  # 40 %: below min_fill_pct
    assert expire_stale(order, NOW - timedelta(hours=1))
    assert order.state == S.CANCELLED


def test_time_out_risk_check_when_the_clock_stepped_back_past_the_timeout_then_timed_out() -> None:
    order = placed(S.RISK_CHECK)
    assert time_out_risk_check(order, NOW - timedelta(minutes=5))
    assert order.times_entered(S.RISK_TIMEOUT) == 1


# ------------------------------------------------------------------- breaker HALT timeout
def test_halt_when_the_clock_steps_back_then_it_does_not_end_early() -> None:
    b = CircuitBreaker(scope="t")
    b.transition("HALT", "drill", "ops", NOW)
    assert b.expire_halt(NOW - timedelta(hours=2)) is False
    assert b.expire_halt(NOW + timedelta(minutes=59)) is False  # the wall clock catching up does not shorten it
    assert b.state is BreakerState.HALT
    assert b.expire_halt(NOW + timedelta(minutes=61)) and b.state is BreakerState.RECOVERY


def test_halt_when_the_clock_steps_forward_past_the_timeout_then_recovery_as_after_a_real_hour() -> None:
    """The wall clock is the breaker's only time that survives a restart: a VM paused for an hour did halt for an
    hour. RECOVERY is not NORMAL (half sizes, CAUTION again on the next critical alert)."""
    b = CircuitBreaker(scope="t")
    b.transition("HALT", "drill", "ops", NOW)
    assert b.expire_halt(NOW + timedelta(hours=3)) and b.state is BreakerState.RECOVERY


# ------------------------------------------------------------------- budget holds
def test_stale_holds_when_the_clock_steps_back_then_none_is_charged_or_handed_back() -> None:
    ledger = BudgetPeriodLedger(category="research_scoring", period_type=str(PeriodType.DAILY),
                                period_key="2026-03-02")
    ledger.reserve("r1", Decimal("0.50"), Decimal("10"), NOW)
    assert ledger.charge_stale(timedelta(minutes=15), NOW - timedelta(hours=1), "stale") == []
    assert ledger.reserved_usd == Decimal("0.50")  # still held: the budget it blocks is not given back


def test_stale_holds_when_the_clock_steps_forward_then_charged_in_full_never_released() -> None:
    ledger = BudgetPeriodLedger(category="research_scoring", period_type=str(PeriodType.DAILY),
                                period_key="2026-03-02")
    ledger.reserve("r1", Decimal("0.50"), Decimal("10"), NOW)
    assert ledger.charge_stale(timedelta(minutes=15), NOW + timedelta(hours=2), "stale") == ["r1"]
    assert ledger.consumed_usd == Decimal("0.50")
    ledger.record_late_usage("r1", Decimal("0.70"), NOW + timedelta(seconds=5))  # the call then reports back
    assert ledger.consumed_usd == Decimal("0.70")


# ------------------------------------------------------------------- schedule
def test_due_slots_when_the_clock_steps_forward_hours_then_each_job_once_at_its_latest_slot() -> None:
    jobs, _ = build_schedule(SCHEDULE)
    slots = due_slots(jobs, MONDAY, MONDAY + timedelta(hours=3, minutes=3))
    assert len(slots) == len({s.job for s in slots})  # no backlog
    assert all(s.minute > MONDAY + timedelta(hours=2, minutes=58) for s in slots)


def test_due_slots_when_the_clock_steps_back_then_no_minute_already_looked_at_is_due() -> None:
    jobs, _ = build_schedule(SCHEDULE)
    assert due_slots(jobs, MONDAY, MONDAY - timedelta(minutes=30)) == []


# ------------------------------------------------------------------- risk loss windows (already right)
def test_loss_windows_when_the_clock_steps_back_then_losses_recorded_after_now_still_count() -> None:
    from paulp.adapters.book_history import Prefix
    from paulp.adapters.portfolio import _Book

    lost_at = datetime(2026, 3, 3, 0, 5, tzinfo=UTC)  # a loss just after midnight
    book = _Book(closes=[(lost_at, Decimal("-40"))], unrealised=Decimal(0), open_positions=(), fees=(),
                 prefix=Prefix.opening(Decimal(1000)))  # no history folded before the week (ADR 0521)
    for now in (lost_at - timedelta(minutes=10), lost_at - timedelta(hours=3)):  # back across midnight
        daily, weekly, _ = book.loss_figures(now)
        assert (daily, weekly) == (-40.0, -40.0), now


# ------------------------------------------------------------------- market marks
def test_mark_when_the_clock_stepped_back_then_the_new_quotes_are_recorded_but_a_late_read_is_not() -> None:
    from paulp.domain.marks import MarketMark, Quotes

    mark = MarketMark(ticker="KX-1")
    assert mark.observe(Quotes(44, 46, 54, 56), NOW, None)
    assert mark.observe(Quotes(40, 42, 58, 60), NOW - timedelta(seconds=20), None) is False  # a read that lost a race
    assert mark.observe(Quotes(30, 32, 68, 70), NOW - timedelta(hours=1), None)  # only a step back reads so far back
    assert (mark.quotes, mark.at) == (Quotes(30, 32, 68, 70), NOW - timedelta(hours=1))
