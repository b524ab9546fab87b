"""Operator-supplied fair values (ADR 0277): bounds on probability, validity and provenance, expiry and
withdrawal fail closed, and replaying the events rebuilds the aggregate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.fair_values import (
    MAX_VALIDITY,
    FairValue,
    InvalidFairValue,
    NoCurrentFairValue,
    current_fair_probabilities,
    fair_ticker,
)
from tests.support.hypothesis_scale import examples, steps

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def value_set(ticker: str = "KXFED-26MAR-T4.25", p: float = 0.97, at: datetime = T0,
              valid: timedelta = DAY) -> FairValue:
    v = FairValue(ticker=ticker)
    v.set(p, "desk research", "FOMC minutes", "ops-dana", at, at + valid)
    return v


def test_set_when_valid_then_current_until_expiry_and_events_carry_ticker() -> None:
    v = value_set()
    assert (v.probability, v.source, v.reason, v.actor) == (0.97, "desk research", "FOMC minutes", "ops-dana")
    assert v.is_current(T0) and v.is_current(T0 + DAY - timedelta(microseconds=1))
    assert not v.is_current(T0 + DAY)  # at valid_until it is gone
    events = v.collect_events()
    assert [type(e).__name__ for e in events] == ["Registered", "Set"]
    assert {e.ticker for e in events} == {"KXFED-26MAR-T4.25"}  # type: ignore[attr-defined]
    assert FairValue.create_id("KXFED-26MAR-T4.25") == v.id != FairValue.create_id("KXFED-26MAR-T4.50")


@pytest.mark.parametrize("p", [0, 1, 0.0, 1.0, -0.1, 1.5, float("nan"), float("inf"), True, "0.5", None])
def test_set_when_probability_not_strictly_inside_0_1_then_invalid_and_no_event(p: Any) -> None:
    v = FairValue(ticker="KX-A")
    v.collect_events()
    with pytest.raises(InvalidFairValue) as raised:
        v.set(p, "desk", "why", "ops", T0, T0 + DAY)
    assert raised.value.code == "INVALID_FAIR_VALUE"
    assert v.collect_events() == [] and v.probability is None


@pytest.mark.parametrize("valid", [timedelta(0), -DAY, MAX_VALIDITY + timedelta(seconds=1), timedelta(days=30)])
def test_set_when_validity_not_after_now_or_beyond_the_maximum_then_invalid(valid: timedelta) -> None:
    v = FairValue(ticker="KX-A")
    with pytest.raises(InvalidFairValue):
        v.set(0.9, "desk", "why", "ops", T0, T0 + valid)
    v.set(0.9, "desk", "why", "ops", T0, T0 + MAX_VALIDITY)  # the maximum itself is allowed
    assert v.valid_until == T0 + MAX_VALIDITY


@pytest.mark.parametrize("field", ["source", "reason", "actor"])
@pytest.mark.parametrize("blank", ["", "   ", None, 7])
def test_set_when_provenance_blank_then_invalid(field: str, blank: Any) -> None:
    args = {"source": "desk", "reason": "why", "actor": "ops", field: blank}
    with pytest.raises(InvalidFairValue, match=field):
        FairValue(ticker="KX-A").set(0.9, args["source"], args["reason"], args["actor"], T0, T0 + DAY)


def test_set_when_provenance_padded_then_trimmed_and_overlong_rejected() -> None:
    v = FairValue(ticker="KX-A")
    v.set(0.9, " desk ", " why ", " ops ", T0, T0 + DAY)
    assert (v.source, v.reason, v.actor) == ("desk", "why", "ops")
    with pytest.raises(InvalidFairValue, match="longer"):
        v.set(0.9, "desk", "why", "x" * 201, T0, T0 + DAY)


@pytest.mark.parametrize("bad", ["", " ", "kxfed-26mar", "KX A", "-KX", "K" * 101, None, 5])
def test_fair_ticker_when_not_a_catalogue_ticker_then_invalid(bad: Any) -> None:
    with pytest.raises(InvalidFairValue):
        fair_ticker(bad)
    assert fair_ticker(" KXFED-26MAR-T4.25 ") == "KXFED-26MAR-T4.25"


def test_withdraw_when_current_then_no_longer_counts_and_set_again_counts() -> None:
    v = value_set()
    v.withdraw("ops-erin", "model retired", T0 + timedelta(hours=1))
    assert not v.is_current(T0 + timedelta(hours=1)) and v.withdrawn_at == T0 + timedelta(hours=1)
    with pytest.raises(NoCurrentFairValue):
        v.withdraw("ops-erin", "again", T0 + timedelta(hours=2))
    v.set(0.95, "desk", "new view", "ops-dana", T0 + timedelta(hours=2), T0 + 2 * DAY)
    assert v.is_current(T0 + timedelta(hours=3)) and v.withdrawn_at is None


def test_withdraw_when_never_set_or_expired_or_blank_then_refused() -> None:
    with pytest.raises(NoCurrentFairValue):
        FairValue(ticker="KX-A").withdraw("ops", "why", T0)
    v = value_set()
    with pytest.raises(NoCurrentFairValue):
        v.withdraw("ops", "why", T0 + DAY)
    with pytest.raises(InvalidFairValue, match="reason"):
        v.withdraw("ops", " ", T0)
    assert v.withdrawn_at is None


def test_current_fair_probabilities_when_mixed_then_only_unexpired_unwithdrawn() -> None:
    live = value_set("KX-LIVE", 0.98)
    expired = value_set("KX-OLD", 0.97, at=T0 - 2 * DAY)
    withdrawn = value_set("KX-GONE", 0.96)
    withdrawn.withdraw("ops", "wrong", T0)
    never = FairValue(ticker="KX-NEVER")
    now = T0 + timedelta(hours=1)
    assert current_fair_probabilities([live, expired, withdrawn, never], now) == {"KX-LIVE": 0.98}
    assert current_fair_probabilities([live], T0 + DAY) == {}
    assert current_fair_probabilities([], now) == {}


def test_events_when_stored_then_decode_to_equal_events() -> None:
    v = value_set()
    v.withdraw("ops-erin", "figure revised", T0 + timedelta(hours=1))
    mapper = make_mapper()
    for ev in v.collect_events():
        assert mapper.to_domain_event(mapper.to_stored_event(ev)).__dict__ == ev.__dict__


class FairValueMachine(RuleBasedStateMachine):
    """Random sets, withdrawals and clock moves: a refused command emits nothing, the state is always legal,
    and folding the recorded events rebuilds the live aggregate."""

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.value = FairValue(ticker="KX-SM")
        self.history = list(self.value.collect_events())

    @rule(minutes=st.integers(min_value=0, max_value=3 * 24 * 60))
    def advance(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule(p=st.one_of(st.floats(min_value=0, max_value=1), st.sampled_from([0.5, 0.97, 0.0, 1.0, float("nan")])),
          valid_minutes=st.integers(min_value=-60, max_value=8 * 24 * 60),
          actor=st.sampled_from(["ops", "ops-dana", "  "]))
    def set(self, p: float, valid_minutes: int, actor: str) -> None:
        legal = 0 < p < 1 and 0 < valid_minutes <= MAX_VALIDITY.total_seconds() / 60 and actor.strip() != ""
        try:
            self.value.set(p, "desk", "why", actor, self.now, self.now + timedelta(minutes=valid_minutes))
        except InvalidFairValue:
            assert not legal
        else:
            assert legal and self.value.is_current(self.now) and self.value.probability == p
        self._record()

    @rule(reason=st.sampled_from(["stale", ""]))
    def withdraw(self, reason: str) -> None:
        was_current = self.value.is_current(self.now)
        try:
            self.value.withdraw("ops", reason, self.now)
        except (NoCurrentFairValue, InvalidFairValue):
            assert not (was_current and reason)
        else:
            assert was_current and reason and not self.value.is_current(self.now)
        self._record()

    def _record(self) -> None:
        self.history += self.value.collect_events()

    @invariant()
    def state_is_legal(self) -> None:
        v = self.value
        if v.probability is not None:
            assert 0 < v.probability < 1 and v.set_at is not None and v.valid_until is not None
            assert timedelta(0) < v.valid_until - v.set_at <= MAX_VALIDITY
            assert v.actor and v.reason and v.source
        else:
            assert v.set_at is None and v.withdrawn_at is None
        found = current_fair_probabilities([v], self.now)
        assert found == ({"KX-SM": v.probability} if v.is_current(self.now) else {})

    @invariant()
    def replay_equals_live(self) -> None:
        rebuilt = reduce(lambda agg, ev: ev.mutate(agg), self.history, None)
        assert rebuilt is not None
        assert vars(rebuilt) == vars(self.value)


TestFairValueMachine = FairValueMachine.TestCase
TestFairValueMachine.settings = settings(max_examples=examples(50), stateful_step_count=steps(25), deadline=None)
