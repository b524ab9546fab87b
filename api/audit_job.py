"""Hourly audit job (§5.3, §5.5): anchor the chain head, verify chain and anchors, HALT on any break.

The chain walk resumes after the last valid run's verified, anchored records, with a full walk from genesis
every ``PAULP_AUDIT_FULL_VERIFY_HOURS`` and whenever the last run cannot be trusted (ADR 0506)."""

from __future__ import annotations

import logging
from datetime import timedelta

from paulp.adapters.anchors import VerificationOutcome, verify_all
from paulp.api.wiring import Container

log = logging.getLogger("paulp.audit")


def anchor_and_verify(container: Container, full: bool = False) -> VerificationOutcome:
    """``full``: walk the whole chain whatever the last run was (``paulp audit anchor --full``)."""
    every = None if full else timedelta(hours=container.settings.PAULP_AUDIT_FULL_VERIFY_HOURS)
    outcome = verify_all(container.database_url, container.anchor_url, container.clock.now(), every, pin=True)
    log.info("audit chain verification %s from sequence %s (%s): %s record(s), valid %s", outcome.plan.mode,
             outcome.plan.start, outcome.plan.why, outcome.chain.chain.events_checked, outcome.valid)
    if not outcome.valid:
        first = outcome.chain.first_bad_sequence
        log.error("audit chain verification FAILED (first bad sequence %s); tripping the breaker", first)
        container.breaker.trip(f"Audit chain broken at sequence {first}", "audit-verifier")
    return outcome
