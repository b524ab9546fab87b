"""Compliance sources are checkpointed (ADR 0508), on real PostgreSQL: the service's ordinary saves write the
checkpoint into the chain, another process's first load resumes from it to the source a full replay gives (status,
pending proposal, violations, ToS fields and counters included), its first gate check is decided on that source, the
compliance views are unchanged by the checkpoint but for the row's version, and each process sees the other's
changes after it."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from paulp.adapters.audit_store import verify
from paulp.adapters.projector import catch_up_from_log
from paulp.api.wiring import application_env
from paulp.domain.checkpoints import CHECKPOINT_EVERY
from paulp.domain.clock import FixedClock
from paulp.domain.compliance import ComplianceSource
from paulp.domain.services.compliance import RESUME_SOURCE, ComplianceService
from paulp.projections.compliance import ComplianceProjection
from tests.integration.helpers import chain_log, checkpoint_places, load_counting

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
AT = datetime(2026, 3, 2, 15, tzinfo=UTC)
SOURCE = "kalshi_trade_api"


def test_source_when_past_the_interval_then_a_new_process_resumes_from_the_checkpoint_and_both_see_changes(
        fresh_db):
    # Arrange: one process records a violation, a ToS review, a proposal and then failed job runs past one checkpoint
    env = application_env(fresh_db)
    first = ComplianceService(env, FixedClock(AT))
    first.ensure_seeded()
    violation, _ = first.record_violation(SOURCE, "rate_limit", "warning", "429s past the limit", "ops-ann")
    first.review_tos(SOURCE, "ops-ann", "read the v2 terms", "2026-03")
    proposal, _ = first.propose_status(SOURCE, "blocked", "ToS review pending", "ToS changed", "ops-ann")
    runs = CHECKPOINT_EVERY + 10 - 4  # seeded + the three above + the runs: 510 events
    for i in range(runs):
        first.record_event(SOURCE, "api_error", f"marks: run {i} failed (HTTP 503)", "job:marks")
    source_id = ComplianceSource.create_id(SOURCE)
    log = chain_log(fresh_db, source_id)
    # Act: another process's first load, through a probe counting what its resume is handed
    second, replaying = ComplianceService(env, FixedClock(AT)), ComplianceService(env, FixedClock(AT))
    resumed, handed = load_counting(second, source_id, ComplianceSource.Checkpointed, RESUME_SOURCE)
    replayed: ComplianceSource = replaying.repository.get(source_id)  # the library's full replay from Seeded
    # Assert: one checkpoint where the interval put it, chained under its own name, with events after it
    places = checkpoint_places(log, ComplianceSource.Checkpointed)
    assert len(log) == CHECKPOINT_EVERY + 11  # the 510 events and the checkpoint among them
    assert places == [CHECKPOINT_EVERY + 1] and log[places[0] - 1][2] == "ComplianceSource.Checkpointed"
    assert all(event_type is not None for _, _, event_type in log) and verify(fresh_db).valid
    assert handed == [len(log) - places[0] + 1] and handed[0] < 20
    assert vars(resumed) == vars(replayed)
    assert (resumed.version, resumed.checkpointed_at) == (len(log), CHECKPOINT_EVERY + 1)
    assert resumed.pending is not None and resumed.pending["proposal_id"] == proposal
    assert (resumed.violations, resumed.tos_version, resumed.proposals) == ({violation: False}, "2026-03", 1)
    # the same process's first gate check, a new one's, decides on the resumed source (still approved)
    fresh = ComplianceService(env, FixedClock(AT))
    assert fresh.gate("kalshi", "fetch_markets").allowed
    # the views: every run's line, no line for the checkpoint, the row at the source's version
    with psycopg.connect(fresh_db) as conn:
        catch_up_from_log(conn, ComplianceProjection())
        conn.commit()
        row = conn.execute("SELECT status, tos_version, version FROM views.compliance_sources WHERE source_name = %s",
                           (SOURCE,)).fetchone()
        lines = conn.execute("SELECT count(*) FROM views.compliance_events WHERE source_name = %s"
                             " AND event_type = 'api_error'", (SOURCE,)).fetchone()
    assert row == ("approved", "2026-03", len(log)) and lines == (runs,)
    # each process sees the other's writes on its next (cached) load: the approval, then a resolution
    second.approve(proposal, "ops-bob")
    assert not first.gate("kalshi", "fetch_markets").allowed
    first.resolve_violation(violation, "ops-ann", "limits lowered")
    for service in (first, second, fresh):
        src = service.source(SOURCE)
        assert src is not None and vars(src) == vars(replaying.repository.get(source_id))
        assert (src.status.value, src.changed_by, src.unresolved_violations) == ("blocked", ["ops-ann", "ops-bob"], 0)
    for service in (first, second, replaying, fresh):
        service.close()
