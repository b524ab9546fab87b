"""Budgets: derivation, periods, the check, and the reserve/settle/release ledger (property-tested)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from paulp.domain.budgets import (
    DEFAULT_ASSUMPTIONS,
    BudgetExceeded,
    BudgetLedger,
    BudgetState,
    BudgetUsage,
    DuplicateReservation,
    InvalidBudgetAssumptions,
    LedgerError,
    PeriodType,
    UnknownReservation,
    check_budget,
    daily_period_key,
    derive_budget,
    monthly_period_key,
    usd,
)
from paulp.domain.routing import BudgetCategory
from tests.support.hypothesis_scale import examples, steps

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


def test_ledger_when_settle_twice_then_unknown_reservation() -> None:
    ledger = BudgetLedger(Decimal(10)).reserve("r1", Decimal(1)).settle("r1", Decimal("0.5"))
    with pytest.raises(UnknownReservation):
        ledger.settle("r1", Decimal(1))


def test_ledger_when_reservation_would_overflow_then_budget_exceeded() -> None:
    ledger = BudgetLedger(Decimal(1)).reserve("a", Decimal("0.6"))
    with pytest.raises(BudgetExceeded) as err:
        ledger.reserve("b", Decimal("0.5"))
    assert err.value.code == "BUDGET_EXCEEDED"


def test_ledger_when_duplicate_or_negative_then_refused() -> None:
    ledger = BudgetLedger(Decimal(5)).reserve("a", Decimal(1))
    with pytest.raises(DuplicateReservation):
        ledger.reserve("a", Decimal(1))
    with pytest.raises(LedgerError):
        ledger.reserve("b", Decimal(-1))


def test_usd_when_float_then_exact_shortest_repr() -> None:
    assert usd(0.1) + usd(0.2) == Decimal("0.3")


class LedgerMachine(RuleBasedStateMachine):
    """Random reserve/settle/release sequences: never negative, never a leaked or double-closed reservation."""

    reservations = Bundle("reservations")

    def __init__(self) -> None:
        super().__init__()
        self.ledger = BudgetLedger(Decimal(100))
        self.counter = 0
        self.settled = Decimal(0)
        self.open: set[str] = set()

    @rule(target=reservations, amount=money)
    def reserve(self, amount: Decimal) -> str:
        self.counter += 1
        rid = f"r{self.counter}"
        try:
            self.ledger = self.ledger.reserve(rid, amount)
        except BudgetExceeded:
            assert self.ledger.consumed_usd + self.ledger.reserved_usd + amount > self.ledger.limit_usd \
                or self.ledger.consumed_usd >= self.ledger.limit_usd
            return "never-opened-" + rid
        self.open.add(rid)
        return rid

    @rule(rid=consumes(reservations), actual=money)
    def settle(self, rid: str, actual: Decimal) -> None:
        if rid not in self.open:
            with pytest.raises(UnknownReservation):
                self.ledger.settle(rid, actual)
            return
        self.ledger = self.ledger.settle(rid, actual)
        self.open.discard(rid)
        self.settled += actual

    @rule(rid=consumes(reservations))
    def release(self, rid: str) -> None:
        if rid not in self.open:
            with pytest.raises(UnknownReservation):
                self.ledger.release(rid)
            return
        self.ledger = self.ledger.release(rid)
        self.open.discard(rid)

    @invariant()
    def never_negative(self) -> None:
        assert self.ledger.consumed_usd >= 0 and self.ledger.reserved_usd >= 0 and self.ledger.available_usd >= 0
        assert all(v >= 0 for v in self.ledger.reservations.values())

    @invariant()
    def no_leak(self) -> None:
        assert set(self.ledger.reservations) == self.open
        assert self.ledger.consumed_usd == self.settled

    @invariant()
    def reservations_fit_the_limit(self) -> None:
        assert self.ledger.reserved_usd <= self.ledger.limit_usd


TestLedgerMachine = LedgerMachine.TestCase
TestLedgerMachine.settings = settings(max_examples=examples(60), stateful_step_count=steps(30), deadline=None)
