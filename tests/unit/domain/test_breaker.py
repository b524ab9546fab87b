"""CircuitBreaker: rules of trading §2 and a stateful property test that replays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from paulp.domain.breaker import (
    MANUAL_TRANSITIONS,
    BreakerState,
    CircuitBreaker,
    InvalidBreakerState,
    InvalidBreakerTransition,
    ReasonRequired,
    ResetRefused,
)
from paulp.domain.errors import DomainError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_blocked_check_when_already_halted_then_timer_not_restarted():
    # Arrange
    b = CircuitBreaker(scope="t")
    b.transition("HALT", "drill", "ops", T0)
    # Act
    for minutes in (10, 20, 30):
        b.record_risk_check(blocked=True, now=T0 + timedelta(minutes=minutes))
    # Assert
    assert b.halt_started_at == T0
    assert b.consecutive_failures == 3
    assert b.expire_halt(T0 + timedelta(minutes=61)) and b.state is BreakerState.RECOVERY


def test_reset_when_halted_without_force_then_refused_and_with_force_then_normal():
    b = CircuitBreaker(scope="t")
    b.transition("HALT", "drill", "ops", T0)
    with pytest.raises(ResetRefused):
        b.reset("ops", False, "ops", T0)
    b.reset("ops", True, "ops", T0)
    assert (b.state, b.consecutive_failures, b.halt_started_at) == (BreakerState.NORMAL, 0, None)


def test_transition_when_reason_blank_then_reason_required():
    with pytest.raises(ReasonRequired):
        CircuitBreaker(scope="t").transition("HALT", "  ", "ops", T0)


def test_transition_when_target_unknown_then_invalid_state():
    with pytest.raises(InvalidBreakerState):
        CircuitBreaker(scope="t").transition("PANIC", "x", "ops", T0)


def test_lookup_failure_when_blocked_uncounted_then_counter_unchanged():
    b = CircuitBreaker(scope="t")
    b.record_risk_check(blocked=True, now=T0)
    b.record_risk_check(blocked=True, now=T0, counted=False)
    assert b.consecutive_failures == 1


def test_breaker_id_when_created_twice_then_same_uuid5():
    assert CircuitBreaker(scope="global").id == CircuitBreaker.create_id("global")


STATES = [s.value for s in BreakerState]


class BreakerMachine(RuleBasedStateMachine):
    """Random command sequences: never an illegal state or transition; replay equals the live aggregate."""

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.breaker = CircuitBreaker(scope="prop")
        self.history = list(self.breaker.collect_events())

    def _collect(self) -> None:
        new = list(self.breaker.collect_events())
        for ev in new:
            if isinstance(ev, CircuitBreaker.Transitioned):
                assert ev.from_state != ev.to_state or ev.trigger == "reset", "self-transition recorded"
                if ev.trigger == "manual":
                    assert BreakerState(ev.to_state) in MANUAL_TRANSITIONS[BreakerState(ev.from_state)]
        self.history.extend(new)

    @rule(minutes=st.integers(min_value=0, max_value=90))
    def advance(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule(to=st.sampled_from([*STATES, "BOGUS"]), reason=st.sampled_from(["ops", ""]))
    def transition(self, to: str, reason: str) -> None:
        try:
            self.breaker.transition(to, reason, "prop", self.now)
        except (InvalidBreakerTransition, InvalidBreakerState, ReasonRequired):
            pass
        else:
            assert self.breaker.state == to
        self._collect()

    @rule(force=st.booleans())
    def reset(self, force: bool) -> None:
        try:
            self.breaker.reset("ops", force, "prop", self.now)
        except ResetRefused:
            assert self.breaker.state is BreakerState.HALT and not force
        self._collect()

    @rule(blocked=st.booleans(), counted=st.booleans())
    def risk_check(self, blocked: bool, counted: bool) -> None:
        self.breaker.record_risk_check(blocked, self.now, counted)
        self._collect()

    @rule(severity=st.sampled_from(["critical", "warning"]))
    def alert(self, severity: str) -> None:
        self.breaker.raise_alert("X", severity, self.now)
        self._collect()

    @rule(status=st.sampled_from(["ok", "drift_detected", "major_drift", "critical_drift"]))
    def reconciliation(self, status: str) -> None:
        self.breaker.reconciliation_status(status, self.now)
        self._collect()

    @rule()
    def tick(self) -> None:
        self.breaker.expire_halt(self.now)
        self._collect()

    @invariant()
    def state_is_legal(self) -> None:
        b = self.breaker
        assert b.state in BreakerState
        assert b.consecutive_failures >= 0
        assert (b.halt_started_at is not None) == (b.state is BreakerState.HALT)

    @invariant()
    def replay_equals_live(self) -> None:
        rebuilt = reduce(lambda agg, ev: ev.mutate(agg), self.history, None)
        assert rebuilt is not None
        live, back = self.breaker, rebuilt
        assert (back.state, back.consecutive_failures, back.halt_started_at, back.version) == (
            live.state, live.consecutive_failures, live.halt_started_at, live.version)


BreakerMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestBreakerMachine = BreakerMachine.TestCase


def test_domain_errors_have_stable_codes():
    for cls in (InvalidBreakerState, InvalidBreakerTransition, ReasonRequired, ResetRefused):
        assert issubclass(cls, DomainError) and cls.code != DomainError.code
