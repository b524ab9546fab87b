"""Two-person go-live aggregate (api-and-security §1.3 resolution): validation, decisions and replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from paulp.domain.golive import (
    Confirmed,
    GoLiveApproval,
    GoLiveTerms,
    InvalidCapital,
    Pending,
    RequestExpired,
    RequestMismatch,
    SameActor,
    SameApprover,
    TwoPersonRequired,
    validate_terms,
)
from tests.support.hypothesis_scale import examples, steps

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TERMS = GoLiveTerms("alice", "bob", 10_000)


@pytest.mark.parametrize("approver,second,capital,error,message", [
    ("", "bob", 10, TwoPersonRequired, "Two-person approval required"),
    ("alice", "  ", 10, TwoPersonRequired, "Two-person approval required"),
    (None, "bob", 10, TwoPersonRequired, "Two-person approval required"),
    ("Alice", " alice ", 10, SameApprover, "Second approver must be different person"),
    ("alice", "bob", 0, InvalidCapital, "Valid capital allocation required"),
    ("alice", "bob", -5, InvalidCapital, "Valid capital allocation required"),
    ("alice", "bob", "abc", InvalidCapital, "Valid capital allocation required"),
    ("alice", "bob", True, InvalidCapital, "Valid capital allocation required"),
    ("alice", "bob", float("nan"), InvalidCapital, "Valid capital allocation required"),
    # more cents than 28 digits hold: was a 500 (decimal.InvalidOperation / Overflow), found by the fuzzer (ADR 0495)
    ("alice", "bob", 1e30, InvalidCapital, "Valid capital allocation required"),
    ("alice", "bob", "1e999999", InvalidCapital, "Valid capital allocation required"),
])
def test_validate_terms_when_invalid_then_exact_reference_message(approver: Any, second: Any, capital: Any,
                                                                  error: type[Exception], message: str) -> None:
    with pytest.raises(error) as raised:
        validate_terms(approver, second, capital)
    assert str(raised.value) == message


def test_validate_terms_when_valid_then_trimmed_and_in_cents() -> None:
    assert validate_terms(" alice ", "bob", 100.5) == GoLiveTerms("alice", "bob", 10_050)
    # check 3 is "> 0" on the amount sent; a sub-cent amount passes it (refused later, after the gate checks)
    assert validate_terms("alice", "bob", 0.001) == GoLiveTerms("alice", "bob", 0)
    assert validate_terms("a", "b", "800") == GoLiveTerms("a", "b", 80_000)


def test_approve_when_first_call_then_pending_for_24_hours() -> None:
    # Arrange
    agg = GoLiveApproval(strategy="bonding")
    # Act
    result = agg.approve(TERMS, "token:alice", T0, "r1")
    # Assert
    assert result == Pending("r1", T0 + timedelta(hours=24))
    assert not agg.is_live


def test_approve_when_same_actor_confirms_then_same_actor_error() -> None:
    agg = GoLiveApproval(strategy="bonding")
    agg.approve(TERMS, "Ops@Example.com", T0, "r1")
    with pytest.raises(SameActor):
        agg.approve(TERMS, " ops@example.com", T0, "r2")
    assert not agg.is_live


def test_approve_when_body_differs_then_mismatch_and_still_pending() -> None:
    agg = GoLiveApproval(strategy="bonding")
    agg.approve(TERMS, "a", T0, "r1")
    with pytest.raises(RequestMismatch):
        agg.approve(GoLiveTerms("alice", "carol", 10_000), "b", T0, "r2")
    assert agg.pending_id == "r1"


def test_approve_when_second_operator_confirms_then_one_went_live_event() -> None:
    agg = GoLiveApproval(strategy="weather")
    agg.approve(TERMS, "a", T0, "r1")
    list(agg.collect_events())
    result = agg.approve(GoLiveTerms("ALICE", "Bob", 10_000), "b", T0 + timedelta(hours=1), "r2")
    events = list(agg.collect_events())
    assert result == Confirmed("r1", "a", "b", T0 + timedelta(hours=1))
    assert [type(e).__name__ for e in events] == ["WentLive"]
    assert events[0].actors == ["a", "b"] and events[0].mode == "LIVE" and events[0].capital_cents == 10_000


def test_approve_when_request_older_than_24_hours_then_expired_and_closed() -> None:
    agg = GoLiveApproval(strategy="weather")
    agg.approve(TERMS, "a", T0, "r1")
    with pytest.raises(RequestExpired):
        agg.approve(TERMS, "b", T0 + timedelta(hours=24, microseconds=1), "r2")
    assert agg.pending is None
    assert isinstance(agg.approve(TERMS, "b", T0 + timedelta(hours=25), "r3"), Pending)


def test_create_id_when_same_strategy_then_same_aggregate() -> None:
    assert GoLiveApproval.create_id("bonding") == GoLiveApproval.create_id("bonding")
    assert GoLiveApproval.create_id("bonding") != GoLiveApproval.create_id("weather")


def _view(agg: GoLiveApproval) -> tuple[Any, ...]:
    return (agg.strategy, agg.pending, agg.pending_id, agg.requested_by, agg.expires_at, agg.live_terms,
            agg.approved_at, agg.actors)


class GoLiveMachine(RuleBasedStateMachine):
    """Random approvals: never live without two distinct actors; replay equals the live aggregate."""

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.count = 0
        self.agg = GoLiveApproval(strategy="bonding")
        self.history = list(self.agg.collect_events())

    @rule(hours=st.integers(min_value=0, max_value=30))
    def advance(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

    @rule(actor=st.sampled_from(["a", "A", "b", "c"]), capital=st.sampled_from([100, 200]),
          second=st.sampled_from(["bob", "BOB", "carol"]))
    def approve(self, actor: str, capital: int, second: str) -> None:
        self.count += 1
        try:
            self.agg.approve(GoLiveTerms("alice", second, capital), actor, self.now, f"r{self.count}")
        except (SameActor, RequestMismatch, RequestExpired):
            pass
        new = list(self.agg.collect_events())
        for ev in new:
            if isinstance(ev, GoLiveApproval.WentLive):
                assert len({a.casefold() for a in ev.actors}) == 2, "went live with one operator"
        self.history.extend(new)

    @invariant()
    def pending_is_consistent(self) -> None:
        a = self.agg
        assert (a.pending is None) == (a.pending_id is None) == (a.requested_by is None) == (a.expires_at is None)

    @invariant()
    def replay_equals_live(self) -> None:
        rebuilt = reduce(lambda agg, ev: ev.mutate(agg), self.history, None)
        assert rebuilt is not None and _view(rebuilt) == _view(self.agg)


TestGoLiveMachine = GoLiveMachine.TestCase
TestGoLiveMachine.settings = settings(max_examples=examples(60), stateful_step_count=steps(25), deadline=None)
