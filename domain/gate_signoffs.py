"""Phase-gate signoffs (api-and-security §1.3 "Phase gates"): one append-only log aggregate per phase.

A signoff carries the full gate result it was decided on. A failing gate is signed off only when
forced, and a forced signoff needs notes (resolution); ``forced`` is recorded so go-live can ignore it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.clock import iso_utc
from paulp.domain.errors import DomainError
from paulp.domain.gate_criteria import target_phase
from paulp.domain.gates import GateResult
from paulp.domain.namespace import PAULP_NAMESPACE

FAILED_GATE = "Cannot sign off on failed gate. Use force=true to override."
FORCED_WARNING = "FORCED: Gate was signed off despite failing criteria"


class GateNotPassed(DomainError):
    """Raised when a failing gate is signed off without force=true."""

    code = "gate_not_passed"


class NotesRequired(DomainError):
    """Raised when a forced signoff has no (non-blank) notes."""

    code = "notes_required"


class WrongPhase(DomainError):
    """Raised when a gate result of another phase is offered to this phase's log."""

    code = "wrong_phase"


@dataclass(frozen=True)
class Signoff:
    signoff_id: str
    phase: int
    target_phase: int
    signed_off_by: str
    signed_off_at: datetime
    forced: bool
    passed: bool
    notes: str | None
    gate_result: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.signoff_id, "phase": self.phase, "targetPhase": self.target_phase,
                               "signedOffBy": self.signed_off_by, "signedOffAt": iso_utc(self.signed_off_at),
                               "gateResult": self.gate_result, "forced": self.forced}
        if self.notes is not None:
            out["notes"] = self.notes
        return out


class GateSignoffs(Aggregate):
    """The signoffs of one phase, oldest first; found again through its uuid5 id."""

    class Created(Aggregate.Created):
        phase: int

    class SignedOff(Aggregate.Event):
        signoff_id: str
        phase: int
        target_phase: int
        signed_off_by: str
        signed_off_at: datetime
        forced: bool
        passed: bool
        notes: str | None
        gate_result: dict[str, Any]

    @staticmethod
    def create_id(phase: int) -> UUID:
        return uuid5(PAULP_NAMESPACE, f"gate-signoffs/{phase}")

    @event(Created)
    def __init__(self, phase: int) -> None:
        self.phase = phase
        self.signoffs: list[Signoff] = []

    def repeat_of(self, result: GateResult, actor: str, notes: str | None, force: bool) -> Signoff | None:
        """The phase's latest signoff when this one would say the same again: the same operator (case-insensitive),
        the gate passed or failed as then, forced as then, the same notes. A retried request whose answer was lost
        is answered with it, nothing recorded (ADR 0517); different notes make a new signoff."""
        latest = self.latest
        text = (notes.strip() if isinstance(notes, str) else "") or None
        if latest is None or latest.signed_off_by.casefold() != actor.casefold():
            return None
        if (latest.passed, latest.forced, latest.notes) != (result.passed, not result.passed and force, text):
            return None
        return latest

    def sign_off(self, result: GateResult, actor: str, now: datetime, signoff_id: str, notes: str | None,
                 force: bool) -> Signoff:
        """Record a passing gate, or a failing one when forced with notes (phase 4 targets 4, "live")."""
        if result.phase != self.phase:
            raise WrongPhase(f"gate result is for phase {result.phase}, not {self.phase}")
        if not result.passed and not force:
            raise GateNotPassed(FAILED_GATE)
        forced = not result.passed
        text = notes.strip() if isinstance(notes, str) else ""
        if forced and not text:
            raise NotesRequired("Notes are required to force a signoff on a failed gate")
        self._signed_off(signoff_id, self.phase, target_phase(self.phase), actor, now, forced, result.passed,
                         text or None, result.as_json())
        return self.signoffs[-1]

    @event(SignedOff)
    def _signed_off(self, signoff_id: str, phase: int, target_phase: int, signed_off_by: str,
                    signed_off_at: datetime, forced: bool, passed: bool, notes: str | None,
                    gate_result: dict[str, Any]) -> None:
        self.signoffs.append(Signoff(signoff_id, phase, target_phase, signed_off_by, signed_off_at, forced, passed,
                                     notes, dict(gate_result)))

    @property
    def latest(self) -> Signoff | None:
        return self.signoffs[-1] if self.signoffs else None
