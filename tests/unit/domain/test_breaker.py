"""CircuitBreaker: rules of trading §2 and a stateful property test that replays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.breaker import (
    MANUAL_TRANSITIONS,
    BreakerState,
    CircuitBreaker,
    InvalidBreakerState,
    InvalidBreakerTransition,
    ReasonRequired,
    ResetRefused,
    Trigger,
)
from paulp.domain.breaker_rules import CONSECUTIVE_FAILURES_TO_HALT, ESCALATION, HALT_TIMEOUT
from paulp.domain.checkpoints import resume
from paulp.domain.errors import DomainError
from tests.support.hypothesis_scale import examples, steps

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MAPPER = make_mapper()


def _view(b: CircuitBreaker) -> tuple[Any, ...]:
    """Everything a breaker knows, the library's fields included."""
    return (b.id, b.version, b.created_on, b.modified_on, b.scope, b.state, b.consecutive_failures,
            b.halt_started_at, b.last_state_change, b.last_alert, b.last_tail_hhi, b.tail_breached,
            b.portfolio_alert_levels, b.checkpointed_at)


def _resumed(stored: list[Any]) -> CircuitBreaker | None:
    """The breaker as a first load rebuilds it from its last checkpoint (ADR 0503), or None before the first one."""
    marks = [i for i, ev in enumerate(stored) if isinstance(ev, CircuitBreaker.Checkpointed)]
    return resume(CircuitBreaker, CircuitBreaker.Checkpointed, stored[marks[-1]:]) if marks else None


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


def _transitions(events: list[object]) -> list[tuple[str, str]]:
    return [(e.from_state, e.to_state) for e in events if isinstance(e, CircuitBreaker.Transitioned)]


def test_portfolio_valued_when_drawdown_stays_critical_then_escalates_once_not_on_every_valuation():
    # Arrange
    b = CircuitBreaker(scope="t")
    b.collect_events()
    # Act: a 12 % drawdown found on five valuations, five minutes apart
    changed = [b.portfolio_valued(800.0, 0.0, 0.12 + k / 1000, T0 + timedelta(minutes=5 * k)) for k in range(5)]
    # Assert: one escalation, recorded with its alert and the latched level
    events = list(b.collect_events())
    assert changed == [True, False, False, False, False]
    assert _transitions(events) == [("NORMAL", "CAUTION")]
    assert [(e.code, e.severity) for e in events if isinstance(e, CircuitBreaker.AlertRaised)] == [
        ("DRAWDOWN_ALERT", "critical")]
    assert b.portfolio_alert_levels == {"DRAWDOWN_ALERT": "critical"}


def test_portfolio_valued_when_halt_times_out_under_the_same_drawdown_then_not_escalated_again():
    b = CircuitBreaker(scope="t")
    b.transition("HALT", "drill", "ops", T0)
    b.portfolio_valued(800.0, 0.0, 0.12, T0)  # HALT: nothing to escalate to
    b.collect_events()
    # Act: the halt times out; the drawdown is still there on the next valuations
    for minutes in (65, 70, 75):
        b.portfolio_valued(800.0, 0.0, 0.12, T0 + timedelta(minutes=minutes))
    # Assert: RECOVERY holds (no RECOVERY -> CAUTION -> HALT -> ... cycle)
    assert _transitions(list(b.collect_events())) == [("HALT", "RECOVERY")]
    assert b.state is BreakerState.RECOVERY


def test_portfolio_valued_when_drawdown_hovers_at_critical_then_rearmed_only_below_warning():
    b = CircuitBreaker(scope="t")
    at = [T0 + timedelta(minutes=5 * k) for k in range(6)]
    b.portfolio_valued(800.0, 0.0, 0.101, at[0])  # critical: NORMAL -> CAUTION
    b.portfolio_valued(800.0, 0.0, 0.099, at[1])  # warning: still latched critical, nothing
    b.portfolio_valued(800.0, 0.0, 0.101, at[2])  # critical again: not a new alert
    assert b.state is BreakerState.CAUTION and b.portfolio_alert_levels == {"DRAWDOWN_ALERT": "critical"}
    assert b.portfolio_valued(800.0, 0.0, 0.05, at[3])  # below 7 %: cleared (recorded)
    assert b.portfolio_alert_levels == {}
    b.portfolio_valued(800.0, 0.0, 0.08, at[4])  # warning: recorded only
    assert b.state is BreakerState.CAUTION
    b.portfolio_valued(800.0, 0.0, 0.11, at[5])  # warning -> critical: escalates
    assert b.state is BreakerState.HALT


def test_portfolio_valued_when_daily_loss_and_drawdown_both_critical_then_two_steps():
    b = CircuitBreaker(scope="t")
    assert b.portfolio_valued(800.0, -30.0, 0.11, T0)  # 3.75 % daily loss and 11 % drawdown
    assert b.state is BreakerState.HALT
    assert b.portfolio_alert_levels == {"DAILY_LOSS_ALERT": "critical", "DRAWDOWN_ALERT": "critical"}


@pytest.mark.parametrize("total_value", [0.0, -100.0])
def test_portfolio_update_when_loss_against_no_portfolio_value_then_daily_loss_is_critical(total_value: float):
    # §2.3: dailyLoss% = max(0, -dailyPnL) / totalValue x 100; a loss over no value is unbounded (+inf >= 3),
    # never 0 % (fail closed, as I5 fails without a positive portfolio value, ADR 0121)
    b = CircuitBreaker(scope="t")
    b.portfolio_update(total_value, -5.0, 0.0, [], T0)
    alerts = [(e.code, e.severity) for e in b.collect_events() if isinstance(e, CircuitBreaker.AlertRaised)]
    assert alerts == [("DAILY_LOSS_ALERT", "critical")]
    assert b.state is BreakerState.CAUTION


def test_portfolio_update_when_no_loss_and_no_portfolio_value_then_no_alert():
    b = CircuitBreaker(scope="t")
    b.portfolio_update(0.0, 0.0, 0.0, [], T0)
    b.portfolio_update(0.0, 25.0, 0.0, [], T0)
    assert not [e for e in b.collect_events() if isinstance(e, CircuitBreaker.AlertRaised)]
    assert b.state is BreakerState.NORMAL


def _book(*positions: tuple[str, float, float]) -> list[dict[str, object]]:
    return [{"marketId": m, "size": size, "currentPrice": price} for m, size, price in positions]


# A bond at 95 holding most of the tail money and a longshot at 10; the 43-cent position is no tail (§3.6).
CONCENTRATED = _book(("BOND-1", 23.75, 0.95), ("LONG-1", 12.0, 0.10), ("MID-1", 21.5, 0.43))
# The same book after three more bonds: five tails, HHI about 0.23 (< 0.3).
DIVERSIFIED = [*CONCENTRATED, *_book(("BOND-2", 23.75, 0.95), ("BOND-3", 23.75, 0.96), ("BOND-4", 23.75, 0.94))]


def test_portfolio_valued_when_tail_book_concentrated_then_cautions_once_and_does_not_flap():
    # Arrange
    b = CircuitBreaker(scope="t")
    b.collect_events()
    # Act: the same concentrated tail book found on four valuations, five minutes apart
    changed = [b.portfolio_valued(800.0, 0.0, 0.0, T0 + timedelta(minutes=5 * k), CONCENTRATED) for k in range(4)]
    # Assert: one evaluation recorded, one step up, nothing after
    events = list(b.collect_events())
    assert changed == [True, False, False, False]
    [evaluated] = [e for e in events if isinstance(e, CircuitBreaker.TailEvaluated)]
    assert (evaluated.count, evaluated.compliant) == (2, False)
    assert evaluated.hhi == pytest.approx((23.75 / 35.75) ** 2 + (12 / 35.75) ** 2)
    assert [(e.from_state, e.to_state, e.trigger) for e in events if isinstance(e, CircuitBreaker.Transitioned)] == [
        ("NORMAL", "CAUTION", "tail_concentration")]
    assert b.tail_breached and b.state is BreakerState.CAUTION


def test_portfolio_valued_when_tail_book_diversifies_then_rearmed_without_transition_and_a_new_breach_escalates():
    b = CircuitBreaker(scope="t")
    at = [T0 + timedelta(minutes=5 * k) for k in range(4)]
    b.portfolio_valued(800.0, 0.0, 0.0, at[0], CONCENTRATED)  # NORMAL -> CAUTION
    b.collect_events()
    assert b.portfolio_valued(800.0, 0.0, 0.0, at[1], DIVERSIFIED)  # compliant: the latch clears, recorded
    assert not b.tail_breached and b.state is BreakerState.CAUTION
    assert not b.portfolio_valued(800.0, 0.0, 0.0, at[2], DIVERSIFIED)  # still compliant: nothing
    assert _transitions(list(b.collect_events())) == []
    b.portfolio_valued(800.0, 0.0, 0.0, at[3], CONCENTRATED)  # a new breach: one more step
    assert b.state is BreakerState.HALT


def test_portfolio_valued_when_barbell_deployed_then_tail_compliant_and_nothing_recorded():
    # Five bonds at 20 % of the bond bucket and three tails (§6.1): every position is tail-priced, HHI ~0.17
    book = _book(*((f"B{n}", 1800.0, 0.95) for n in range(5)), ("T1", 400.0, 0.05), ("T2", 400.0, 0.1),
                 ("T3", 200.0, 0.08))
    b = CircuitBreaker(scope="t")
    b.collect_events()
    assert not b.portfolio_valued(10_000.0, 0.0, 0.0, T0, book)
    assert list(b.collect_events()) == [] and b.state is BreakerState.NORMAL


def test_portfolio_valued_when_halt_times_out_under_the_same_tail_breach_then_not_escalated_again():
    b = CircuitBreaker(scope="t")
    b.transition("HALT", "drill", "ops", T0)
    b.portfolio_valued(800.0, 0.0, 0.0, T0, CONCENTRATED)  # latched in HALT: nothing to escalate to
    b.collect_events()
    for minutes in (65, 70, 75):
        b.portfolio_valued(800.0, 0.0, 0.0, T0 + timedelta(minutes=minutes), CONCENTRATED)
    assert _transitions(list(b.collect_events())) == [("HALT", "RECOVERY")]


STATES = [s.value for s in BreakerState]


class BreakerMachine(RuleBasedStateMachine):
    """Random command sequences: never an illegal state or transition; replay equals the live aggregate, and so
    does the breaker resumed from its last checkpoint (ADR 0503)."""

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.breaker = CircuitBreaker(scope="prop")
        self.history = list(self.breaker.collect_events())
        self.stored = [MAPPER.to_domain_event(MAPPER.to_stored_event(ev)) for ev in self.history]  # as loads read
        # the breaker as its recorded events say, walked one event at a time (§2.2-2.3)
        self.seen_state, self.seen_halt_at, self.seen_failures = BreakerState.NORMAL, T0, 0

    def _collect(self, refused: bool = False) -> None:
        new = list(self.breaker.collect_events())
        for ev in new:
            if isinstance(ev, CircuitBreaker.RiskCheckRecorded):
                self.seen_failures = 0 if not ev.blocked else self.seen_failures + ev.counted
            if isinstance(ev, CircuitBreaker.Transitioned):
                self._check_transition(ev)
        self.history.extend(new)
        self.stored.extend(MAPPER.to_domain_event(MAPPER.to_stored_event(ev)) for ev in new)
        # the timeout is evaluated before every command (§2.3); a refused one is not saved, so it need not be
        if self.breaker.state is BreakerState.HALT and not refused:
            assert self.breaker.halt_started_at is not None
            assert self.now - self.breaker.halt_started_at <= HALT_TIMEOUT

    def _check_transition(self, ev: CircuitBreaker.Transitioned) -> None:
        """Each recorded transition starts where the last one ended and is one its trigger may make."""
        src, dst, trigger = BreakerState(ev.from_state), BreakerState(ev.to_state), Trigger(ev.trigger)
        assert src is self.seen_state, "a transition that does not start where the breaker was"
        assert src is not dst or trigger is Trigger.RESET, "self-transition recorded"
        assert ev.reset_counter is (trigger is Trigger.RESET), "only a reset clears the counter (§2.2)"
        if trigger is Trigger.MANUAL:
            assert dst in MANUAL_TRANSITIONS[src]
        elif trigger is Trigger.RESET:
            assert dst is BreakerState.NORMAL
        elif trigger is Trigger.TIMEOUT:
            assert (src, dst) == (BreakerState.HALT, BreakerState.RECOVERY)
            assert ev.at - self.seen_halt_at > HALT_TIMEOUT, "recovered before 60 minutes of HALT"
        elif trigger in (Trigger.ALERT, Trigger.TAIL):
            assert dst is ESCALATION[src], "a critical finding escalates one step"
        elif trigger is Trigger.RISK_CHECKS:
            assert dst is BreakerState.HALT and self.seen_failures >= CONSECUTIVE_FAILURES_TO_HALT
        elif trigger is Trigger.DRIFT:
            assert dst is BreakerState.HALT or (src, dst) == (BreakerState.NORMAL, BreakerState.CAUTION)
        else:
            assert (trigger, dst) == (Trigger.CONTROL, BreakerState.HALT)
        if ev.reset_counter:
            self.seen_failures = 0
        if dst is BreakerState.HALT:
            self.seen_halt_at = ev.at
        self.seen_state = dst

    @rule(minutes=st.integers(min_value=0, max_value=90))
    def advance(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule(to=st.sampled_from([*STATES, "BOGUS"]), reason=st.sampled_from(["ops", ""]))
    def transition(self, to: str, reason: str) -> None:
        try:
            self.breaker.transition(to, reason, "prop", self.now)
        except (InvalidBreakerTransition, InvalidBreakerState, ReasonRequired):
            self._collect(refused=True)
        else:
            assert self.breaker.state == to
            self._collect()

    @rule(force=st.booleans())
    def reset(self, force: bool) -> None:
        try:
            self.breaker.reset("ops", force, "prop", self.now)
        except ResetRefused:
            assert self.breaker.state is BreakerState.HALT and not force
            self._collect(refused=True)
        else:
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

    @rule(daily_pnl=st.sampled_from([0.0, -20.0, -30.0]), drawdown=st.sampled_from([0.0, 0.05, 0.08, 0.12]))
    def portfolio(self, daily_pnl: float, drawdown: float) -> None:
        self.breaker.portfolio_valued(800.0, daily_pnl, drawdown, self.now)
        self._collect()

    @rule(book=st.sampled_from([(), tuple(CONCENTRATED), tuple(DIVERSIFIED)]))
    def tail_book(self, book: tuple[dict[str, object], ...]) -> None:
        self.breaker.portfolio_valued(800.0, 0.0, 0.0, self.now, book)
        self._collect()

    @rule()
    def tick(self) -> None:
        self.breaker.expire_halt(self.now)
        self._collect()

    @rule(reason=st.sampled_from(["Audit chain break", "Evidence store unreachable"]))
    def trip(self, reason: str) -> None:
        halt_at = self.breaker.halt_started_at
        was_halted = halt_at is not None and self.now - halt_at <= HALT_TIMEOUT  # a HALT that has not timed out
        assert self.breaker.trip(reason, "system", self.now) is not was_halted
        assert self.breaker.state is BreakerState.HALT
        self._collect()

    @rule(broker=st.sampled_from([100.0, 99.0, 97.5, 96.0, 90.0, 0.0]), orphan=st.booleans())
    def drift_check(self, broker: float, orphan: bool) -> None:
        """The governor's expected-vs-broker check over one expected position of 100 contracts."""
        held = [{"marketId": "KX-A", "side": "yes", "size": broker}]
        if orphan:
            held.append({"marketId": "KX-ORPHAN", "side": "yes", "size": 5})
        self.breaker.position_drift_check([{"marketId": "KX-A", "side": "YES", "size": 100}], held, self.now)
        if orphan or broker <= 95.0:
            assert self.breaker.state is BreakerState.HALT  # >= 5 % or an orphan halts from any state
        self._collect()

    @rule(every=st.integers(min_value=1, max_value=6))
    def checkpoint(self, every: int) -> None:
        """As the service does before each save, with intervals short enough to land often. A save follows a
        command, and every command first lets a stale HALT expire (§2.3)."""
        self.breaker.expire_halt(self.now)
        due = self.breaker.version - self.breaker.checkpointed_at >= every
        assert self.breaker.checkpoint_if_due(every) is due
        self._collect()

    @invariant()
    def state_is_legal(self) -> None:
        b = self.breaker
        assert b.state in BreakerState
        assert b.consecutive_failures >= 0
        assert (b.halt_started_at is not None) == (b.state is BreakerState.HALT)
        assert b.state is self.seen_state and b.consecutive_failures == self.seen_failures

    @invariant()
    def replay_equals_live(self) -> None:
        rebuilt = reduce(lambda agg, ev: ev.mutate(agg), self.history, None)
        assert rebuilt is not None
        live, back = self.breaker, rebuilt
        assert (back.state, back.consecutive_failures, back.halt_started_at, back.version) == (
            live.state, live.consecutive_failures, live.halt_started_at, live.version)
        assert back.portfolio_alert_levels == live.portfolio_alert_levels
        assert (back.tail_breached, back.last_tail_hhi) == (live.tail_breached, live.last_tail_hhi)

    @invariant()
    def resumed_equals_replayed_equals_live(self) -> None:
        """From the stored events, as a process loads them: the last checkpoint and what follows it rebuild every
        field a full replay rebuilds, and both equal the live breaker."""
        replayed = reduce(lambda agg, ev: ev.mutate(agg), self.stored, None)
        assert isinstance(replayed, CircuitBreaker) and _view(replayed) == _view(self.breaker)
        resumed = _resumed(self.stored)
        assert resumed is None or _view(resumed) == _view(self.breaker)


BreakerMachine.TestCase.settings = settings(max_examples=examples(150), stateful_step_count=steps(40), deadline=None)
TestBreakerMachine = BreakerMachine.TestCase


def test_resume_when_events_do_not_start_at_a_checkpoint_then_refused():
    # Arrange: a breaker's events with no checkpoint among them
    b = CircuitBreaker(scope="t")
    b.record_risk_check(True, T0)
    events = b.collect_events()
    # Act / Assert: a load would otherwise build a breaker from half its history
    with pytest.raises(ValueError, match=r"resumes from a CircuitBreaker\.Checkpointed event"):
        resume(CircuitBreaker, CircuitBreaker.Checkpointed, events[1:])


def test_domain_errors_have_stable_codes():
    for cls in (InvalidBreakerState, InvalidBreakerTransition, ReasonRequired, ResetRefused):
        assert issubclass(cls, DomainError) and cls.code != DomainError.code


def test_event_topics_when_rules_split_out_then_unchanged():
    # Stored events name their class by topic: the split into breaker_rules must not move any of them.
    from eventsourcing.utils import get_topic, resolve_topic

    events = ("Created", "Transitioned", "RiskCheckRecorded", "AlertRaised", "PortfolioAlertsChanged",
              "TailEvaluated", "Checkpointed")
    for name in events:
        cls = getattr(CircuitBreaker, name)
        assert get_topic(cls) == f"paulp.domain.breaker:CircuitBreaker.{name}"
        assert resolve_topic(f"paulp.domain.breaker:CircuitBreaker.{name}") is cls
    assert get_topic(CircuitBreaker) == "paulp.domain.breaker:CircuitBreaker"
