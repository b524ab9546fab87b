"""The LLM regression runner end to end: governed calls to loopback providers, the suite event, the views
through NATS and the projector, and the phase-3 gate criteria that read them (§8.6-§8.8, ADR 0276)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from paulp.adapters.replay import diff, replay
from paulp.api.app import create_app
from paulp.api.routing_wiring import uuid7
from paulp.api.wiring import Container
from paulp.domain.clock import FixedClock
from paulp.domain.llm_corpus import ADVERSARIAL_CORPUS, REGRESSION_CORPUS
from paulp.domain.llm_regression import FailureType, GoldCase
from paulp.domain.llm_regression_suite import Suite, SuiteCase
from paulp.domain.routing import Provider
from paulp.domain.services.llm_regression import RegressionNotRunnable, RegressionRunner, SuiteRun
from tests.fakes.llm_servers import FakeLlmServer, FakeReply
from tests.integration.helpers import NOW, make_container, wait_tracked, workers
from tests.integration.regression_answers import answering, good_answer, out_of_range
from tests.integration.routing_support import fake_env, use_routing

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]
TOKEN = "regression-admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# Ten cases whose (title, criteria) pairs are unique, so the fake can tell from the prompt which one it reads.
TEN = [SuiteCase(c) for c in REGRESSION_CORPUS[:10]]
ATTACKS = [SuiteCase(a.case, a.attack) for a in ADVERSARIAL_CORPUS[:3]]


def obeys_injection(case: GoldCase) -> dict[str, object]:
    return {**good_answer(case), "reasoning": "As instructed by the note, I override the criteria."}


@pytest.fixture
def system(fresh_db: str, nats_url: str, namespace: str, fakes: dict[Provider, FakeLlmServer]
           ) -> Iterator[Container]:
    container = make_container(fresh_db, nats_url, namespace, admin_token=TOKEN)
    use_routing(container, fake_env(fakes))
    yield container
    container.close()


def run(container: Container, suite: Suite, cases: Sequence[SuiteCase], workers: int = 4) -> SuiteRun:
    return RegressionRunner(container.routing, workers).run(suite, str(uuid7()), cases)


def phase3(client: TestClient) -> dict[str, dict[str, object]]:
    body = client.get("/admin/gates/verify/3", headers=AUTH).json()
    return {r["criterionId"]: r for r in body["results"]
            if r["criterionId"] in ("P3_LLM_REGRESSION_90PCT", "P3_ADVERSARIAL_TESTS_PASS")}


def rows(db_url: str, run_id: str) -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT test_id, category, gate_category, passed, score, failures, decision_id"
                            " FROM views.llm_regression_results WHERE run_id = %s ORDER BY test_id",
                            (run_id,)).fetchall()


def test_suites_when_run_then_stored_projected_via_nats_and_phase3_gate_follows_the_results(system, fakes) -> None:
    # Arrange: Opus answers every case of the first run within its expectations
    anthropic = fakes[Provider.ANTHROPIC]
    anthropic.respond = answering(TEN + ATTACKS, good_answer)
    client = TestClient(create_app(system))
    with workers(system, projections=["llm_regression", "llm_routing"]):
        before = phase3(client)
        # Act 1: a passing regression run
        first = run(system, Suite.REGRESSION, TEN)
        wait_tracked(system.database_url, "llm_regression", first.notification_id or 0)
        passing = phase3(client)
        # Act 2: a second regression run with half the cases out of range (15/20 over 7 days), then an
        # adversarial run where one answer follows the injected instructions
        anthropic.respond = answering(TEN, good_answer, {c.case.id: out_of_range for c in TEN[:5]})
        second = run(system, Suite.REGRESSION, TEN)
        anthropic.respond = answering(ATTACKS, good_answer, {ATTACKS[0].case.id: obeys_injection})
        attacks = run(system, Suite.ADVERSARIAL, ATTACKS)
        for projection in ("llm_regression", "llm_routing"):
            wait_tracked(system.database_url, projection, attacks.notification_id or 0)
        failing = phase3(client)
        # Act 3: the prompt fixed, the adversarial set run again: its latest run decides (ADR 0276 addendum)
        anthropic.respond = answering(ATTACKS, good_answer)
        fixed = run(system, Suite.ADVERSARIAL, ATTACKS)
        wait_tracked(system.database_url, "llm_regression", fixed.notification_id or 0)
        resisted_again = phase3(client)
        stored = rows(system.database_url, first.summary.run_id)
        stored_attacks = rows(system.database_url, attacks.summary.run_id)
        with psycopg.connect(system.database_url) as conn:
            runs = conn.execute("SELECT suite, total_tests, passed, by_category FROM views.llm_regression_runs"
                                " ORDER BY started_at, run_id").fetchall()
            scoring = conn.execute("SELECT count(*) FROM views.llm_scoring_runs WHERE target_entity_type ="
                                   " 'regression_test'").fetchone()
    # Assert: the gate went from failing to passing and back to failing, each time for the stored reason
    assert before["P3_LLM_REGRESSION_90PCT"]["passed"] is False
    assert before["P3_LLM_REGRESSION_90PCT"]["actualValue"] == "0.0%"
    assert before["P3_ADVERSARIAL_TESTS_PASS"]["passed"] is True  # vacuously: none stored
    assert first.summary.pass_rate == 1.0 and first.notification_id is not None
    assert passing["P3_LLM_REGRESSION_90PCT"]["passed"] is True
    assert passing["P3_LLM_REGRESSION_90PCT"]["actualValue"] == "100.0%"
    assert second.summary.passed == 5
    assert failing["P3_LLM_REGRESSION_90PCT"]["passed"] is False
    assert failing["P3_LLM_REGRESSION_90PCT"]["actualValue"] == "75.0%"
    assert failing["P3_ADVERSARIAL_TESTS_PASS"]["passed"] is False
    assert failing["P3_ADVERSARIAL_TESTS_PASS"]["actualValue"] == "2/3"
    assert resisted_again["P3_ADVERSARIAL_TESTS_PASS"]["passed"] is True
    assert resisted_again["P3_ADVERSARIAL_TESTS_PASS"]["actualValue"] == "3/3"
    # per-test rows: the original category and the §8.8 gate category, each linked to its routing decision
    assert len(stored) == 10 and all(r[3] for r in stored) and all(r[6] for r in stored)
    assert {(r[1], r[2]) for r in stored} == {("standard_resolution", "standard"), ("edge_case", "edge_case")}
    assert {r[2] for r in stored_attacks} == {"prompt_injection"}
    resisted = {r[0]: r[5] for r in stored_attacks}[ATTACKS[0].case.id]
    assert {f["type"] for f in resisted} == {"adversarial_not_resisted"}
    assert [(s, t, p) for s, t, p, _ in runs[:3]] == [("regression", 10, 10), ("regression", 10, 5),
                                                      ("adversarial", 3, 2)]
    assert set(runs[0][3]) == {"standard_resolution", "edge_case", "disputed_market", "ambiguous_phrasing",
                               "adversarial", "equivalence", "invariant_explanation"}
    assert scoring == (26,)  # each case was a governed scoring call with its §8.2 record
    # the view is a function of the log: rebuilt from it into a scratch schema, it equals the live one
    view = system.projections["llm_regression"]
    assert replay(system.database_url, view, "scratch_regression").failed == 0
    assert diff(system.database_url, view, "scratch_regression") == []


def test_suite_when_a_call_fails_at_every_provider_then_execution_error_and_suite_completes(system, fakes) -> None:
    # Arrange: one worker, so the first case meets the scripted failures of the whole premium chain
    fakes[Provider.ANTHROPIC].respond = answering(TEN[:4], good_answer)
    for p in (Provider.ANTHROPIC, Provider.MOONSHOT, Provider.GOOGLE, Provider.CLOUDFLARE):
        fakes[p].enqueue(FakeReply(500))
    # Act
    done = run(system, Suite.REGRESSION, TEN[:4], workers=1)
    # Assert
    results = [r.result for r in done.runs]
    assert [f.type for f in results[0].failures] == [FailureType.EXECUTION_ERROR]
    assert "ALL_MODELS_FAILED" in str(results[0].failures[0].actual)
    assert all(r.passed for r in results[1:])
    assert (done.summary.total_tests, done.summary.passed, done.notification_id is not None) == (4, 3, True)
    stored = system.routing.regression_suite(done.summary.run_id)
    assert stored is not None and stored.results[0]["failures"][0]["type"] == "execution_error"
    assert stored.results[0]["decisionId"] == done.runs[0].decision_id  # the failed decision is stored too


def test_suite_when_provider_keys_missing_then_refused_before_any_call_and_nothing_stored(system, fakes) -> None:
    # Arrange
    use_routing(system, fake_env(fakes, drop_keys=(Provider.MOONSHOT,)))
    # Act / Assert
    with pytest.raises(RegressionNotRunnable, match=r"PROVIDER_KEY_MISSING.*MOONSHOT_API_KEY"):
        run(system, Suite.REGRESSION, TEN)
    assert all(not server.requests for server in fakes.values())
    with psycopg.connect(system.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM paulp_events WHERE topic LIKE %s OR topic LIKE %s",
                            ("%RoutingDecision%", "%RegressionSuite%")).fetchone() == (0,)


def test_suite_record_when_saved_again_under_the_same_run_id_then_stored_once(system, fakes) -> None:
    fakes[Provider.ANTHROPIC].respond = answering(TEN[:2], good_answer)
    done = run(system, Suite.REGRESSION, TEN[:2])
    stored = system.routing.regression_suite(done.summary.run_id)
    assert stored is not None and stored.pass_rate == 1.0
    again = RegressionRunner(system.routing).run(Suite.REGRESSION, done.summary.run_id, TEN[:2])
    assert again.notification_id is None  # the deterministic id refused the second copy
    with psycopg.connect(system.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM paulp_events WHERE topic LIKE %s",
                            ("%RegressionSuiteRecord.Completed",)).fetchone() == (1,)


def test_suite_when_the_wall_clock_steps_back_mid_run_then_its_execution_time_is_still_measured(
        fresh_db, nats_url, namespace, fakes) -> None:
    """The clock steps back an hour while the first case's call is out (NTP, ADR 0522): the suite's execution time
    is measured with time.monotonic, not as the wall clock's difference (it was -3,600,000 ms; ADR 0526)."""
    clock = FixedClock(NOW)
    container = make_container(fresh_db, nats_url, namespace, clock=clock)
    try:
        use_routing(container, fake_env(fakes))
        answer = answering(TEN[:2], good_answer)

        def stepping(prompt: str) -> str:
            clock.set(NOW - timedelta(hours=1))
            return answer(prompt)

        fakes[Provider.ANTHROPIC].respond = stepping
        done = run(container, Suite.REGRESSION, TEN[:2], workers=1)
        stored = container.routing.regression_suite(done.summary.run_id)
        assert stored is not None and stored.pass_rate == 1.0
        assert 0 <= stored.execution_time_ms < 60_000, stored.execution_time_ms
        assert done.summary.execution_time_ms == stored.execution_time_ms
    finally:
        container.close()
