"""Execution policy engine: throttles, windows, trading hours, modes and the decision."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paulp.domain.execution import (
    RateLimitState,
    epoch_ms,
    evaluate_execution,
    execution_priority,
    initial_rate_state,
    record_order,
    roll_windows,
    throttle_wait_ms,
    validate_request,
)
from paulp.domain.execution_orders import ExecutionRequest, ExecutionSignal, MarketSnapshot, Side
from paulp.domain.execution_policy import (
    BlackoutPeriod,
    ExecutionMode,
    ExecutionPolicy,
    TradingHours,
    UnknownPolicyField,
    check_trading_hours,
    customize_policy,
    mode_for_strategy,
    policy_for_mode,
)

SUNDAY_NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MONDAY_14 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def _request(size: int = 10, max_price: int = 55) -> ExecutionRequest:
    signal = ExecutionSignal("T-1", Side.YES, 0.65, 0.5, 0.15, 0.8)
    return ExecutionRequest("order-1", signal, size, max_price)


def _market(**changes: object) -> MarketSnapshot:
    base = MarketSnapshot("T-1", "active", 48, 52, 48, 52, 5000, SUNDAY_NOON + timedelta(days=2), None, "politics")
    return replace(base, **changes)


def test_validate_when_minute_window_elapsed_then_throttle_is_lifted() -> None:
    # Arrange: the per-minute limit was reached 61 s ago; the source never rolled it (lock-out).
    paper = policy_for_mode(ExecutionMode.PAPER)
    then = SUNDAY_NOON - timedelta(seconds=61)
    state = replace(initial_rate_state(then), orders_this_minute=10, orders_this_hour=10,
                    last_order_ms=epoch_ms(then))
    # Act
    result = validate_request(_request(), _market(), paper, state, SUNDAY_NOON)
    # Assert
    assert result.valid, result.errors


def test_validate_when_minute_limit_reached_within_window_then_rejected() -> None:
    paper = policy_for_mode(ExecutionMode.PAPER)
    state = replace(initial_rate_state(SUNDAY_NOON - timedelta(seconds=30)), orders_this_minute=10)
    result = validate_request(_request(), _market(), paper, state, SUNDAY_NOON)
    assert result.errors == ("Rate limit: 10 orders per minute exceeded",)


def test_roll_windows_when_utc_midnight_passes_then_only_daily_volume_resets() -> None:
    before = datetime(2026, 3, 1, 23, 59, 50, tzinfo=UTC)
    state = record_order(initial_rate_state(before), 900, before)
    rolled = roll_windows(state, before + timedelta(seconds=20))
    assert (rolled.orders_this_minute, rolled.orders_this_hour, rolled.volume_today) == (1, 1, 0)


def test_validate_when_daily_volume_would_exceed_then_rejected_with_limit() -> None:
    paper = policy_for_mode(ExecutionMode.PAPER)
    state = replace(initial_rate_state(SUNDAY_NOON), volume_today=99_500)
    result = validate_request(_request(10, 55), _market(), paper, state, SUNDAY_NOON)
    assert result.errors == ("Daily volume limit: would exceed 100000 cents",)


def test_validate_when_disabled_then_single_error_and_nothing_else_checked() -> None:
    disabled = policy_for_mode(ExecutionMode.DISABLED)
    result = validate_request(_request(0, 0), _market(status="closed"), disabled,
                              initial_rate_state(SUNDAY_NOON), SUNDAY_NOON)
    assert (result.valid, result.errors) == (False, ("Execution is disabled",))


def test_validate_when_live_on_sunday_then_outside_trading_hours() -> None:
    live = policy_for_mode(ExecutionMode.LIVE)
    result = validate_request(_request(), _market(), live, initial_rate_state(SUNDAY_NOON), SUNDAY_NOON)
    assert result.errors == ("Outside trading hours: Sunday is not a trading day",)


def test_validate_when_settles_soon_and_wide_spread_then_warnings_only() -> None:
    paper = policy_for_mode(ExecutionMode.PAPER)
    market = _market(yes_bid=30, yes_ask=45, settlement_time=SUNDAY_NOON + timedelta(minutes=30))
    result = validate_request(_request(), market, paper, initial_rate_state(SUNDAY_NOON), SUNDAY_NOON)
    assert result.valid
    assert result.warnings == ("Wide spread: 15 cents", "Market settles in 0.5 hours")


def test_check_trading_hours_when_inside_blackout_bounds_then_blocked_inclusively() -> None:
    blackout = BlackoutPeriod("FOMC", MONDAY_14 - timedelta(hours=1), MONDAY_14, "rate decision")
    hours = TradingHours(True, 13, 21, frozenset({1}), (blackout,))
    assert check_trading_hours(hours, MONDAY_14).reason == "Blackout period: FOMC - rate decision"
    assert check_trading_hours(hours, MONDAY_14 + timedelta(seconds=1)).allowed


def test_check_trading_hours_when_at_end_hour_then_outside() -> None:
    hours = TradingHours(True, 13, 21, frozenset({1}))
    result = check_trading_hours(hours, MONDAY_14.replace(hour=21))
    assert result.reason == "Current hour 21 UTC outside 13-21"


def test_customize_policy_when_hours_partially_changed_then_other_hours_fields_kept() -> None:
    live = policy_for_mode(ExecutionMode.LIVE)
    changed = customize_policy(live, {"max_orders_per_minute": 2}, {"end_hour_utc": 22})
    assert changed.max_orders_per_minute == 2
    assert (changed.trading_hours.start_hour_utc, changed.trading_hours.end_hour_utc) == (13, 22)
    assert changed.trading_hours.trading_days == live.trading_hours.trading_days


def test_customize_policy_when_unknown_field_then_raises_with_code() -> None:
    with pytest.raises(UnknownPolicyField) as err:
        customize_policy(policy_for_mode(ExecutionMode.PAPER), {"max_orders": 1})
    assert err.value.code == "UNKNOWN_POLICY_FIELD"


def test_mode_for_strategy_when_seeded_then_bonding_paper_and_others_disabled() -> None:
    assert mode_for_strategy("bonding") is ExecutionMode.PAPER
    assert mode_for_strategy("weather") is ExecutionMode.PAPER
    assert mode_for_strategy("smart_money") is ExecutionMode.DISABLED
    assert mode_for_strategy("unknown") is ExecutionMode.PAPER


def test_evaluate_when_market_unknown_then_rejected_with_not_found() -> None:
    decision = evaluate_execution(_request(), None, policy_for_mode(ExecutionMode.PAPER),
                                  initial_rate_state(SUNDAY_NOON), SUNDAY_NOON)
    assert decision.rejection_reason == "Market T-1 not found"
    assert decision.venue_order is None


def test_evaluate_when_valid_then_order_capped_to_single_order_size() -> None:
    live = customize_policy(policy_for_mode(ExecutionMode.LIVE), {}, {"enabled": False})
    decision = evaluate_execution(_request(size=50), _market(), live, initial_rate_state(SUNDAY_NOON), SUNDAY_NOON)
    assert decision.approved and decision.venue_order is not None
    assert decision.venue_order.count == 50 and decision.venue_order.yes_price == 55


def test_execution_priority_when_edge_above_cap_then_edge_half_saturates() -> None:
    assert execution_priority(0.5, 0.0) == 50
    assert execution_priority(0.03, 0.0) == 8  # 7.5 rounds half up


@given(st.lists(st.integers(min_value=0, max_value=120_000), min_size=1, max_size=40))
def test_record_order_when_any_gaps_then_windows_stay_current_and_count_this_order(gaps: list[int]) -> None:
    now = SUNDAY_NOON
    state = initial_rate_state(now)
    for gap in gaps:
        now += timedelta(milliseconds=gap)
        state = record_order(state, 100, now)
        assert state.orders_this_minute >= 1 and state.orders_this_hour >= 1
        assert epoch_ms(now) - state.minute_window_start_ms < 60_000
        assert epoch_ms(now) - state.hour_window_start_ms < 3_600_000
        assert state.last_order_ms == epoch_ms(now)


def test_throttle_wait_when_last_order_recent_then_spacing_remainder_else_zero() -> None:
    now = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    policy = policy_for_mode(ExecutionMode.PAPER)  # 1000 ms spacing, 10 a minute
    never = initial_rate_state(now)
    just_sent = record_order(never, 100, now - timedelta(milliseconds=400))
    assert throttle_wait_ms(never, policy, now) == 0.0
    assert throttle_wait_ms(just_sent, policy, now) == 600.0
    assert throttle_wait_ms(just_sent, policy, now + timedelta(milliseconds=600)) == 0.0
    assert throttle_wait_ms(just_sent, policy_for_mode(ExecutionMode.DISABLED), now) == float("inf")
    full_minute = replace(just_sent, orders_this_minute=10, minute_window_start_ms=epoch_ms(now) - 45_000)
    assert throttle_wait_ms(full_minute, policy, now) == 15_000.0  # until the minute window rolls over


def _throttled(state: RateLimitState, policy: ExecutionPolicy, at: datetime) -> list[str]:
    errors = validate_request(_request(1, 1), _market(), policy, state, at).errors
    return [e for e in errors if e.startswith(("Rate limit", "Order spacing"))]


@given(st.lists(st.integers(0, 20_000), max_size=60), st.integers(0, 130_000),
       st.sampled_from([ExecutionMode.PAPER, ExecutionMode.LIVE]))
def test_throttle_wait_when_waited_out_then_throttle_passes_and_not_a_millisecond_sooner(
        gaps: list[int], after: int, mode: ExecutionMode) -> None:
    policy, at = policy_for_mode(mode), SUNDAY_NOON
    state = initial_rate_state(at)
    for gap in gaps:  # any history of counted orders, spacing and limits ignored
        at += timedelta(milliseconds=gap)
        state = record_order(state, 1, at)
    now = at + timedelta(milliseconds=after)
    wait = throttle_wait_ms(roll_windows(state, now), policy, now)
    assert _throttled(state, policy, now + timedelta(milliseconds=wait)) == []
    if wait > 0:
        assert _throttled(state, policy, now + timedelta(milliseconds=wait - 1)) != []
