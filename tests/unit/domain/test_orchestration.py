"""JobRun and ReconciliationReport: the orchestrator's records, a replaying stateful test, the §1.3 shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import reduce

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.errors import DomainError
from paulp.domain.orchestration import (
    InvalidJobRun,
    JobRun,
    JobRunFinished,
    JobRunState,
    ReconciliationReport,
    UnknownJob,
    reconciliation_result,
)
from paulp.domain.reconciliation import Position, reconcile
from tests.support.hypothesis_scale import examples, steps

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RESULT_FIELDS = {"timestamp", "internalPositionCount", "venuePositionCount", "matchedCount", "drifts",
                 "totalAbsoluteDrift", "maxDriftPct", "status"}


def test_start_when_job_unknown_then_unknown_job():
    with pytest.raises(UnknownJob):
        JobRun.start("r1", "anchor", "ops", "admin", T0)


@pytest.mark.parametrize("actor,source", [("  ", "admin"), ("ops", "cron"), ("ops", "")])
def test_start_when_actor_blank_or_source_unknown_then_invalid(actor: str, source: str):
    with pytest.raises(InvalidJobRun):
        JobRun.start("r1", "scan", actor, source, T0)


def test_run_when_completed_then_result_kept_and_second_finish_refused():
    run = JobRun.start("r1", "execute", "api-token-user", "admin", T0)
    run.complete({"processed": 0}, T0 + timedelta(seconds=1))
    assert (run.state, run.result, run.finished_at) == (JobRunState.COMPLETED, {"processed": 0},
                                                        T0 + timedelta(seconds=1))
    with pytest.raises(JobRunFinished):
        run.fail("late", T0)
    assert run.id == JobRun.create_id("r1")


def test_run_when_failed_with_blank_error_then_generic_message():
    run = JobRun.start("r1", "ingest", "webhook", "webhook", T0)
    run.fail("   ", T0)
    assert (run.state, run.error) == (JobRunState.FAILED, "Job failed")


def test_reconciliation_result_when_drift_then_exact_fields_and_every_key_listed():
    run = reconcile([Position("KX-A", "YES", 100), Position("KX-B", "NO", 10)],
                    [Position("KX-A", "yes", 98), Position("KX-B", "no", 10), Position("KX-C", "YES", 3)])
    result = reconciliation_result(run, T0)
    assert set(result) == RESULT_FIELDS
    assert result["timestamp"] == "2026-03-01T12:00:00.000Z"
    assert (result["internalPositionCount"], result["venuePositionCount"], result["matchedCount"]) == (2, 3, 1)
    assert [(d["marketId"], d["side"], d["drift"], d["severity"]) for d in result["drifts"]] == [
        ("KX-A", "YES", -2.0, "major"), ("KX-B", "NO", 0.0, "none"), ("KX-C", "YES", 3.0, "critical")]
    assert (result["totalAbsoluteDrift"], result["maxDriftPct"], result["status"]) == (5.0, 100.0, "critical_drift")


def test_reconciliation_report_when_stored_then_round_trips_through_the_transcoder():
    run = reconcile([Position("KX-A", "YES", 10)], [Position("KX-A", "YES", 10)])
    report = ReconciliationReport.record("scheduled:reconcile:2026-03-01T12:00Z", "kalshi", "scheduler", run,
                                         ["ab" * 32], T0, "scheduler", T0)
    assert report.status == "ok" and report.drift_count == 0
    assert (report.source, report.slot) == ("scheduler", T0)
    mapper = make_mapper()
    for ev in report.collect_events():
        stored = mapper.to_stored_event(ev)
        back = mapper.to_domain_event(stored)
        assert back.__dict__ == ev.__dict__
        assert json.loads(stored.state)["class_version"] == 2


def test_reconciliation_report_when_source_unknown_then_refused():
    run = reconcile([], [])
    with pytest.raises(InvalidJobRun):
        ReconciliationReport.record("run-1", "kalshi", "ops", run, [], T0, "cron")


class JobRunMachine(RuleBasedStateMachine):
    """Random finish commands: a run ends once, never changes after; replay equals the live aggregate."""

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.run = JobRun.start("prop", "reconcile", "ops", "admin", T0)
        self.history = list(self.run.collect_events())
        self.ended: JobRunState | None = None

    @rule(seconds=st.integers(min_value=0, max_value=600))
    def advance(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @rule(status=st.sampled_from(["ok", "major_drift"]))
    def complete(self, status: str) -> None:
        self._finish(lambda: self.run.complete({"status": status}, self.now), JobRunState.COMPLETED)

    @rule(error=st.text(max_size=1200))
    def fail(self, error: str) -> None:
        self._finish(lambda: self.run.fail(error, self.now), JobRunState.FAILED)

    def _finish(self, command, target: JobRunState) -> None:
        try:
            command()
        except JobRunFinished:
            assert self.ended is not None
        else:
            assert self.ended is None, "a finished run finished again"
            self.ended = target
        self.history.extend(self.run.collect_events())

    @invariant()
    def state_is_legal(self) -> None:
        assert self.run.state is (self.ended or JobRunState.RUNNING)
        assert (self.run.finished_at is None) == (self.ended is None)
        assert self.run.error is None or 0 < len(self.run.error) <= 1000

    @invariant()
    def replay_equals_live(self) -> None:
        rebuilt = reduce(lambda agg, ev: ev.mutate(agg), self.history, None)
        assert rebuilt is not None
        fields = ("state", "result", "error", "finished_at", "triggered_by", "source", "job", "version")
        assert [getattr(rebuilt, f) for f in fields] == [getattr(self.run, f) for f in fields]


JobRunMachine.TestCase.settings = settings(max_examples=examples(100), stateful_step_count=steps(20), deadline=None)
TestJobRunMachine = JobRunMachine.TestCase


def test_domain_errors_have_stable_codes():
    for cls in (UnknownJob, InvalidJobRun, JobRunFinished):
        assert issubclass(cls, DomainError) and cls.code != DomainError.code


def test_v1_reconciliation_reports_when_decoded_then_current_class_without_trigger_source():
    # Arrange: reports stored before ADR 0393 (one from before ADR 0362, sizes as floats), as the old code wrote them
    from tests.unit.test_stored_event_fixtures import decode, old_version_rows, stored_version

    rows = [r for r in old_version_rows() if r["topic"].endswith("ReconciliationReport.Completed")]
    # Act
    reports = {decode(r).run_id: (stored_version(r), decode(r)) for r in rows}
    # Assert: same figures and grades as recorded, source and slot unknown
    assert set(reports) == {"v1-floats-run", "v1-exact-run"}
    for version, report in reports.values():
        assert version == 1 and type(report) is ReconciliationReport.Completed
        assert (report.source, report.slot) == (None, None)
    _, floats = reports["v1-floats-run"]
    assert [d["severity"] for d in floats.result["drifts"]] == ["critical", "major", "none"]  # ADR 0331's grade
    _, exact = reports["v1-exact-run"]
    assert exact.triggered_by == "scheduler" and exact.drift_count == 3
