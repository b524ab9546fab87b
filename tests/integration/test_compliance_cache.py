"""The compliance service caches its sources and fast-forwards them from the log (ADR 0505), on real PostgreSQL:
the gate a fetching job asks in one process sees a block two operators approved in another on its very next check
(ADR 0368's promise), and each process sees the other's recorded events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from paulp.api.wiring import application_env
from paulp.domain.clock import FixedClock
from paulp.domain.services.compliance import ComplianceService

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
AT = datetime(2026, 3, 2, 15, tzinfo=UTC)
SOURCE = "kalshi_trade_api"


def test_gate_when_another_process_blocks_the_source_then_the_next_check_in_this_one_is_blocked(fresh_db):
    # Arrange: the scheduler's service has asked the gate (its sources now cached) and recorded a failed run
    env = application_env(fresh_db)
    scheduler, operators = ComplianceService(env, FixedClock(AT)), ComplianceService(env, FixedClock(AT))
    assert scheduler.gate("kalshi", "fetch_markets").allowed
    scheduler.record_event(SOURCE, "api_error", "marks: 3 calls failed (HTTP 503)", "job:marks")
    cached = scheduler.source(SOURCE)
    # Act: two operators in another process block the source
    proposal, _ = operators.propose_status(SOURCE, "blocked", "ToS review pending", "ToS changed", "ops-ann")
    operators.approve(proposal, "ops-bob")
    # Assert: the scheduler's next check is blocked, and both processes hold the same source as the log
    decision = scheduler.gate("kalshi", "fetch_markets")
    assert cached is not None and cached.status.value == "approved"
    assert not decision.allowed and decision.status == "blocked", decision
    here, there = scheduler.source(SOURCE), operators.source(SOURCE)
    assert here is not None and there is not None
    assert (here.version, here.status, here.changed_by) == (there.version, there.status, there.changed_by)
    assert (here.version, here.changed_by) == (4, ["ops-ann", "ops-bob"])  # seeded, event, proposal, approval
    for service in (scheduler, operators):
        service.close()
