"""The ingestion gate (api-and-security §6.3, §7.2) in front of every scheduled fetch from an external source.

A blocked fetch is not made: the caller skips it and reports the decision (the slot is acknowledged, never
retried), and ``IngestionBlocked`` records INGESTION_BLOCKED_BY_COMPLIANCE in the log. A matrix that cannot be
read blocks (fail closed). A pass is not a separate event: it is in the run's report (ADR 0368).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from paulp.api.venue_session import JobFailed
from paulp.domain.compliance_matrix import GateDecision, unreadable_decision

log = logging.getLogger("paulp.compliance")
BLOCKED = "compliance_blocked"


def admit(container: Any, venue: str, message_type: str, job: str) -> GateDecision:
    """Ask the gate before fetching; a blocked answer is audited here, so every caller only has to obey it."""
    try:
        decision: GateDecision = container.compliance.gate(venue, message_type)
    except Exception as exc:  # any failure to read the matrix blocks: never fetch on an unknown answer
        log.exception("compliance matrix unreadable; %s %s blocked", venue, message_type)
        decision = unreadable_decision(venue, message_type, type(exc).__name__)
    if not decision.allowed:
        log.warning("%s: %s %s blocked by compliance: %s", job, venue, message_type, decision.reason)
        try:
            container.compliance.record_block(uuid.uuid4().hex, decision, venue, message_type, job)
        except Exception:
            log.exception("could not record the compliance block of %s %s", venue, message_type)
    return decision


def require(container: Any, venue: str, message_type: str, job: str) -> GateDecision:
    """``admit`` for a fetch inside a job step: a block raises ``JobFailed`` (code ``compliance_blocked``)."""
    decision = admit(container, venue, message_type, job)
    if not decision.allowed:
        raise JobFailed(BLOCKED, blocked_message(venue, message_type, decision), 403)
    return decision


def blocked_message(venue: str, message_type: str, decision: GateDecision) -> str:
    entities = ", ".join(decision.blocked_entities) or "none mapped"
    return f"{venue} {message_type} blocked by compliance ({decision.status}: {decision.reason}; {entities})"
