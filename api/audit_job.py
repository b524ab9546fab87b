"""Hourly audit job (§5.3, §5.5): anchor the chain head, verify chain and anchors, HALT on any break."""

from __future__ import annotations

import logging

from paulp.adapters.anchors import VerificationOutcome, verify_all, write_anchor
from paulp.api.wiring import Container

log = logging.getLogger("paulp.audit")


def anchor_and_verify(container: Container) -> VerificationOutcome:
    write_anchor(container.database_url, container.anchor_url, container.clock.now())
    outcome = verify_all(container.database_url, container.anchor_url, container.clock.now())
    if not outcome.valid:
        first = outcome.chain.first_bad_sequence
        log.error("audit chain verification FAILED (first bad sequence %s); tripping the breaker", first)
        container.breaker.trip(f"Audit chain broken at sequence {first}", "audit-verifier")
    return outcome
