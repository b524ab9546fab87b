"""Budgets: derivation, periods, the check, and the reserve/settle/release ledger (property-tested)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paulp.domain.budgets import (
    DEFAULT_ASSUMPTIONS,
    BudgetState,
    BudgetUsage,
    InvalidBudgetAssumptions,
    PeriodType,
    check_budget,
    daily_period_key,
    derive_budget,
    monthly_period_key,
    usd,
)
from paulp.domain.routing import BudgetCategory

CAT = BudgetCategory.RESEARCH_SCORING
money = st.decimals(min_value=0, max_value=50, places=6, allow_nan=False, allow_infinity=False)


def test_derive_when_default_assumptions_then_spec_totals() -> None:
    p = derive_budget()
    assert p.projected_daily_cost_usd == pytest.approx(75.1826124, rel=1e-9)
    assert p.envelopes[CAT].daily_limit_usd == pytest.approx(30.07304496, rel=1e-9)
    assert p.daily_total == pytest.approx(p.projected_daily_cost_usd, rel=1e-9)


def test_derive_when_category_mix_off_then_error_names_mix_and_sum() -> None:
    bad = DEFAULT_ASSUMPTIONS.with_overrides({"categoryMix.governance_audit": 0.2})
    with pytest.raises(InvalidBudgetAssumptions, match=r"categoryMix.*1\.1000"):
        derive_budget(bad)


def test_derive_when_mix_sum_ends_on_a_half_then_message_rounds_it_up() -> None:
    # 0.5 + 0.25 + 0.25 + 0.03125 = 1.03125 exactly: the source's toFixed(4) writes 1.0313 (a tie goes up).
    bad = DEFAULT_ASSUMPTIONS.with_overrides({"categoryMix.research_scoring": 0.5,
                                              "categoryMix.governance_audit": 0.03125})
    with pytest.raises(InvalidBudgetAssumptions, match=r"categoryMix.*1\.0313\b"):
        derive_budget(bad)


def test_period_keys_when_last_millisecond_of_year_then_same_day_and_month() -> None:
    at = datetime(2026, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
    assert (daily_period_key(at), monthly_period_key(at)) == ("2026-12-31", "2026-12-01")


def test_check_when_exactly_reaching_limit_then_allowed() -> None:
    daily = BudgetState(CAT, PeriodType.DAILY, "d", 10.0, 9.5)
    monthly = BudgetState(CAT, PeriodType.MONTHLY, "m", 100.0, 0.0)
    assert check_budget(daily, monthly, 0.5, 80).allowed


def test_check_when_monthly_would_overflow_then_monthly_reason() -> None:
    daily = BudgetState(CAT, PeriodType.DAILY, "d", 10.0, 0.0)
    monthly = BudgetState(CAT, PeriodType.MONTHLY, "m", 100.0, 99.99)
    verdict = check_budget(daily, monthly, 0.02, 80)
    assert not verdict.allowed and verdict.reason == f"Monthly budget exceeded for {CAT}"


@given(st.lists(st.floats(min_value=0, max_value=5, allow_nan=False), max_size=30),
       st.lists(st.integers(min_value=0, max_value=86_399_999), max_size=30))
def test_budget_state_when_usage_recorded_within_a_period_then_consumption_monotonic(
        costs: list[float], offsets_ms: list[int]) -> None:
    # Arrange: usage facts on one UTC day, folded in recording order
    day = datetime(2026, 3, 15, tzinfo=UTC)
    facts = [BudgetUsage.recorded(f"u{i}", CAT, c, day + timedelta(milliseconds=o))
             for i, (c, o) in enumerate(zip(costs, offsets_ms, strict=False))]
    consumed, previous = 0.0, None
    for fact in facts:
        # Act
        assert fact.daily_period_key == "2026-03-15" and fact.monthly_period_key == "2026-03-01"
        consumed += fact.cost_usd
        state = BudgetState(CAT, PeriodType.DAILY, fact.daily_period_key, 30.0, consumed)
        # Assert
        if previous is not None:
            assert state.consumed_usd >= previous.consumed_usd
            assert state.percent_used >= previous.percent_used
            assert state.remaining_usd <= previous.remaining_usd
            assert state.is_blocked or not previous.is_blocked
        previous = state


def test_usd_when_float_then_exact_shortest_repr() -> None:
    assert usd(0.1) + usd(0.2) == Decimal("0.3")
