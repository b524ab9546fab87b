"""Governance context: phase-gate signoffs. The gate result is evaluated before the call (it needs I/O);
the service loads the phase's log, lets the aggregate decide, and saves."""

from __future__ import annotations

from dataclasses import dataclass

from paulp.domain.gate_signoffs import GateSignoffs, Signoff
from paulp.domain.gates import GateResult
from paulp.domain.services.base import PaulpApplication


@dataclass(frozen=True)
class SignoffOutcome:
    signoff: Signoff
    notification_id: int
    repeated: bool = False  # the phase's latest signoff said this already: nothing recorded (ADR 0517)


class GateSignoffService(PaulpApplication):
    def sign_off(self, result: GateResult, actor: str, signoff_id: str, notes: str | None,
                 force: bool) -> SignoffOutcome:
        def command() -> SignoffOutcome:
            log = self.phase_log(result.phase) or GateSignoffs(phase=result.phase)
            repeat = log.repeat_of(result, actor, notes, force)
            if repeat is not None:
                return SignoffOutcome(repeat, 0, repeated=True)
            signoff = log.sign_off(result, actor, self.clock.now(), signoff_id, notes, force)
            return SignoffOutcome(signoff, self.last_notification_id(self.save(log)))

        return self.retry_on_conflict(command)

    def phase_log(self, phase: int) -> GateSignoffs | None:
        found: GateSignoffs | None = self.get_or_none(GateSignoffs.create_id(phase))
        return found
