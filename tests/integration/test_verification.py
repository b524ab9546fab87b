"""Verification runs on real PostgreSQL and NATS: ``paulp verify run`` stores a run, the relay and the
test_results projector carry it to the view, and gates 1 and 2 read it (ADR 0264)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paulp.api.cli import app
from paulp.api.verify_job import verify_job
from paulp.api.wiring import Container
from paulp.domain.verification import CLV_SUITE, RISK_SUITE, SUITES, Status, SuiteRun, run_cases
from paulp.domain.verification_clv import CLV_CASES, ClvCase
from paulp.domain.verification_risk import RISK_CASES
from tests.integration.helpers import max_notification_id, wait_tracked, workers
from tests.security.support import app_client

pytestmark = pytest.mark.integration

TOKEN = "verify-admin-token-0123456789abcdefghij"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WRONG = ClvCase("YES wrongly expected unfavourable", "YES", 0.42, 0.51, None, -9.0, True)


@pytest.fixture
def api(fresh_db: str, nats_url: str, namespace: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, Container]]:
    for name, value in (("ENVIRONMENT", "test"), ("PAULP_DATABASE_URL", fresh_db), ("PAULP_NATS_URL", nats_url),
                        ("PAULP_NAMESPACE", namespace)):
        monkeypatch.setenv(name, value)  # the CLI, run in-process, resolves the same services
    with app_client(fresh_db, nats_url, namespace, ADMIN_TOKEN=TOKEN, PAULP_EVIDENCE_DIR=str(tmp_path / "evidence"),
                    PAULP_MARKS=False) as (client, container):
        with workers(container, projections=["test_results"]):  # relay + this view's projector, over NATS
            yield client, container


def _criterion(client: TestClient, phase: int, criterion: str) -> dict[str, Any]:
    r = client.get(f"/admin/gates/verify/{phase}", headers=AUTH)
    assert r.status_code == 200, r.text
    [found] = [x for x in r.json()["results"] if x["criterionId"] == criterion]
    return dict(found)


def _projected(container: Container) -> None:
    wait_tracked(container.database_url, "test_results", max_notification_id(container.database_url))


def _view(container: Container) -> list[tuple[Any, ...]]:
    with psycopg.connect(container.database_url) as conn:
        return conn.execute("SELECT run_id, suite, name, status, duration_ms, error, run_at, triggered_by,"
                            " code_version FROM views.test_results ORDER BY notification_id, name").fetchall()


def test_verify_run_when_stored_then_view_shows_it_via_nats_and_gates_1_and_2_pass(api: Any):
    client, container = api
    for phase, criterion, suite in ((1, "P1_CLV_SIGN_VALIDATION", CLV_SUITE),
                                    (2, "P2_17_INVARIANTS_TESTED", RISK_SUITE)):
        before = _criterion(client, phase, criterion)
        assert (before["passed"], before["actualValue"]) == (False, None)
        assert before["message"] == (f"Not verifiable: suite {suite} has never been run"
                                     f" (paulp verify run --suite {suite})")

    out = CliRunner().invoke(app, ["verify", "run", "--by", "ops-alice"])
    assert out.exit_code == 0, out.output
    assert f"clv: {len(CLV_CASES)} passed, 0 failed, 0 skipped" in out.output
    assert f"risk_invariants: {len(RISK_CASES)} passed, 0 failed, 0 skipped" in out.output
    _projected(container)

    rows = _view(container)
    assert len(rows) == len(CLV_CASES) + len(RISK_CASES)
    assert {r[1] for r in rows} == {CLV_SUITE, RISK_SUITE} and len({r[0] for r in rows}) == 1
    assert f"recorded run {rows[0][0]}" in out.output
    assert {(r[3], r[5], r[7]) for r in rows} == {("passed", None, "ops-alice")}
    assert all(r[4] >= 0 and r[6] is not None and r[8] for r in rows)
    assert {r[2] for r in rows if r[1] == RISK_SUITE} == {c.name for c in RISK_CASES}

    p1 = _criterion(client, 1, "P1_CLV_SIGN_VALIDATION")
    p2 = _criterion(client, 2, "P2_17_INVARIANTS_TESTED")
    assert (p1["passed"], p1["actualValue"], p1["expectedValue"]) == (True, len(CLV_CASES), ">= 5")
    assert (p2["passed"], p2["actualValue"], p2["expectedValue"]) == (True, len(RISK_CASES), ">= 17")


def test_latest_run_when_a_later_run_fails_or_repeats_then_the_gates_count_only_the_latest(api: Any):
    client, container = api
    svc = container.verification
    svc.record("first", svc.run([CLV_SUITE, RISK_SUITE]), "itest", None)
    # a later clv run with 4 cases, one of which fails: it replaces the first for the gate
    later = SuiteRun(CLV_SUITE, container.clock.now(), run_cases(CLV_SUITE, [*CLV_CASES[:3], WRONG], lambda: 0.0))
    svc.record("second", [later], "itest", None)
    _projected(container)
    p1 = _criterion(client, 1, "P1_CLV_SIGN_VALIDATION")
    assert (p1["passed"], p1["actualValue"]) == (False, 3)
    assert _criterion(client, 2, "P2_17_INVARIANTS_TESTED")["actualValue"] == len(RISK_CASES)

    # the same run id again is refused by the store, not counted twice
    head = max_notification_id(container.database_url)
    with pytest.raises(IntegrityError):
        svc.record("second", [later], "itest", None)
    assert max_notification_id(container.database_url) == head

    # repeating full runs does not inflate the count
    for run_id in ("third", "fourth"):
        svc.record(run_id, svc.run([CLV_SUITE]), "itest", None)
    _projected(container)
    assert _criterion(client, 1, "P1_CLV_SIGN_VALIDATION")["actualValue"] == len(CLV_CASES)


def test_verify_run_when_a_case_fails_then_exit_1_with_the_case_and_its_error_and_the_run_is_recorded(
        api: Any, monkeypatch: pytest.MonkeyPatch):
    _, container = api
    monkeypatch.setitem(SUITES, CLV_SUITE, (*CLV_CASES, WRONG))  # a case table the code does not satisfy
    out = CliRunner().invoke(app, ["verify", "run", "--suite", "clv"])
    assert out.exit_code == 1, out.output
    assert f"clv: {len(CLV_CASES)} passed, 1 failed, 0 skipped" in out.output
    assert "FAILED YES wrongly expected unfavourable: expected -9 cents valid=True; got +9.0" in out.output
    assert "risk_invariants" not in out.output
    _projected(container)
    failed = [r for r in _view(container) if r[3] == Status.FAILED.value]
    assert [(r[2], r[5][:21]) for r in failed] == [(WRONG.name, "expected -9 cents val")]

    shown = CliRunner().invoke(app, ["verify", "results"])
    assert shown.exit_code == 0, shown.output
    assert f"{len(CLV_CASES)} passed, 1 failed" in shown.output and "risk_invariants: never run" in shown.output
    assert CliRunner().invoke(app, ["verify", "run", "--suite", "regression"]).exit_code == 2


def test_verify_job_when_its_slot_runs_then_keyed_by_the_slot_and_a_failing_case_fails_the_job(
        api: Any, monkeypatch: pytest.MonkeyPatch):
    _, container = api
    slot = container.clock.now().replace(hour=2, minute=30, second=0, microsecond=0)
    result = verify_job(container, slot)
    run_id = result["runId"]
    assert run_id == f"scheduled:verify:{slot.strftime('%Y-%m-%dT%H:%MZ')}"
    assert result["suites"] == {CLV_SUITE: {"passed": len(CLV_CASES), "failed": 0, "skipped": 0},
                                RISK_SUITE: {"passed": len(RISK_CASES), "failed": 0, "skipped": 0}}
    stored = container.verification.verification_run(run_id, RISK_SUITE)
    assert stored is not None and stored.triggered_by == "scheduler" and stored.count(Status.PASSED) == len(RISK_CASES)

    from paulp.api.venue_session import JobFailed

    monkeypatch.setitem(SUITES, CLV_SUITE, (WRONG,))
    with pytest.raises(JobFailed) as failed:
        verify_job(container, slot.replace(day=slot.day % 28 + 1))
    assert failed.value.code == "verification_failed"
    assert failed.value.message == "1 verification case(s) failed: clv/YES wrongly expected unfavourable"
