"""Phase-gate signoff log (api-and-security §1.3 resolution): decisions, the forced flag and replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from paulp.domain.gate_criteria import CRITERIA
from paulp.domain.gate_signoffs import GateNotPassed, GateSignoffs, NotesRequired, WrongPhase
from paulp.domain.gates import CriterionResult, GateResult
from tests.support.hypothesis_scale import examples, steps

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def gate(phase: int, failing: frozenset[str] = frozenset()) -> GateResult:
    stamp = "2026-03-01T12:00:00.000Z"
    results = tuple(CriterionResult(c.id, c.required, c.id not in failing, 1, ">= 1", "m", stamp)
                    for c in CRITERIA[phase])
    return GateResult(phase, min(phase + 1, 4), stamp, "system", results)


def required_id(phase: int) -> str:
    return next(c.id for c in CRITERIA[phase] if c.required)


def test_sign_off_when_gate_passed_then_unforced_record_with_full_result() -> None:
    log = GateSignoffs(phase=2)
    s = log.sign_off(gate(2), "token:alice", T0, "s-1", None, False)
    assert (s.phase, s.target_phase, s.signed_off_by, s.forced, s.passed, s.notes) == (2, 3, "token:alice",
                                                                                      False, True, None)
    assert s.gate_result == gate(2).as_json()
    assert s.as_json() == {"id": "s-1", "phase": 2, "targetPhase": 3, "signedOffBy": "token:alice",
                           "signedOffAt": "2026-03-01T12:00:00.000Z", "gateResult": gate(2).as_json(),
                           "forced": False}


def test_sign_off_when_phase_4_then_target_is_4_live() -> None:
    assert GateSignoffs(phase=4).sign_off(gate(4), "a", T0, "s", None, False).target_phase == 4


def test_sign_off_when_gate_failed_without_force_then_refused_and_nothing_recorded() -> None:
    log = GateSignoffs(phase=1)
    with pytest.raises(GateNotPassed, match="Use force=true to override"):
        log.sign_off(gate(1, frozenset({required_id(1)})), "a", T0, "s", "why", False)
    assert log.signoffs == [] and len(log.collect_events()) == 1  # only Created


@pytest.mark.parametrize("notes", [None, "", "   "])
def test_sign_off_when_forced_without_notes_then_notes_required(notes: str | None) -> None:
    with pytest.raises(NotesRequired):
        GateSignoffs(phase=3).sign_off(gate(3, frozenset({required_id(3)})), "a", T0, "s", notes, True)


def test_sign_off_when_forced_with_notes_then_flagged_forced() -> None:
    s = GateSignoffs(phase=4).sign_off(gate(4, frozenset({"P4_CAPITAL_800_ALLOCATED"})), "a", T0, "s",
                                       " manual attestation ", True)
    assert (s.forced, s.passed, s.notes) == (True, False, "manual attestation")


def test_sign_off_when_force_given_but_gate_passed_then_not_forced_and_notes_optional() -> None:
    s = GateSignoffs(phase=1).sign_off(gate(1), "a", T0, "s", None, True)
    assert (s.forced, s.passed) == (False, True)


def test_sign_off_when_only_optional_criterion_failed_then_passes_unforced() -> None:
    s = GateSignoffs(phase=1).sign_off(gate(1, frozenset({"P1_SLO_DEFINED"})), "a", T0, "s", None, False)
    assert not s.forced and s.passed


def test_sign_off_when_result_of_other_phase_then_refused() -> None:
    with pytest.raises(WrongPhase):
        GateSignoffs(phase=1).sign_off(gate(2), "a", T0, "s", None, False)


def test_create_id_when_same_phase_then_same_log() -> None:
    assert GateSignoffs.create_id(3) == GateSignoffs.create_id(3) != GateSignoffs.create_id(4)


def view_of(log: GateSignoffs) -> tuple[Any, ...]:
    return log.phase, log.version, tuple(log.signoffs)


class SignoffMachine(RuleBasedStateMachine):
    """Random signoff attempts never record a failed gate unforced, nor a forced one without notes."""

    def __init__(self) -> None:
        super().__init__()
        self.phase = 4
        self.log = GateSignoffs(phase=self.phase)
        self.history: list[Any] = list(self.log.collect_events())
        self.now = T0
        self.accepted = 0

    @rule(fail_required=st.booleans(), fail_optional=st.booleans(), force=st.booleans(),
          notes=st.sampled_from([None, "", " ", "attested by ops"]), actor=st.sampled_from(["a", "token:b"]),
          step=st.integers(0, 120))
    def sign_off(self, fail_required: bool, fail_optional: bool, force: bool, notes: str | None, actor: str,
                 step: int) -> None:
        failing = {required_id(self.phase)} if fail_required else set()
        if fail_optional:
            failing.add("P4_MONITORING_ACTIVE")
        self.now += timedelta(minutes=step)
        try:
            self.log.sign_off(gate(self.phase, frozenset(failing)), actor, self.now, f"s-{self.accepted}", notes,
                              force)
            self.accepted += 1
        except (GateNotPassed, NotesRequired):
            assert fail_required and (not force or not (notes or "").strip())
        else:
            assert not fail_required or (force and (notes or "").strip())
        self.history.extend(self.log.collect_events())

    @invariant()
    def only_legal_signoffs(self) -> None:
        assert len(self.log.signoffs) == self.accepted
        for s in self.log.signoffs:
            assert (s.phase, s.target_phase) == (4, 4)
            assert s.forced == (not s.passed)
            assert not s.forced or (s.notes or "").strip()
            assert s.passed == s.gate_result["passed"]
        assert self.log.latest == (self.log.signoffs[-1] if self.log.signoffs else None)

    @invariant()
    def replay_equals_live(self) -> None:
        rebuilt = reduce(lambda agg, ev: ev.mutate(agg), self.history, None)
        assert view_of(rebuilt) == view_of(self.log)


TestSignoffMachine = SignoffMachine.TestCase
TestSignoffMachine.settings = settings(max_examples=examples(60), stateful_step_count=steps(15), deadline=None)
