"""Write-ahead reservation, outcome behind the caller (ADR 0275), on real PostgreSQL.

The provider port here stands in for the remote provider: when it is called it looks into the database
from its own connection, which is exactly what another process would see at that moment.
"""

from __future__ import annotations

import time

import psycopg
import pytest

from paulp.adapters.clock import SystemClock
from paulp.api.routing_wiring import uuid7
from paulp.api.wiring import application_env
from paulp.domain.executor import CallPort, CallResult, Usage
from paulp.domain.services.routing import RoutingService
from tests.integration.helpers import make_container

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
KEYS = {"ANTHROPIC_API_KEY": "k-a", "MINIMAX_API_KEY": "k-m", "MOONSHOT_API_KEY": "k-mo", "GOOGLE_AI_API_KEY": "k-g"}
PROMPT = "classify: Fed holds rates steady in March"


def _decision_topics(db: str, decision_id: str) -> list[str]:
    with psycopg.connect(db) as conn:
        return [t for (t,) in conn.execute(
            "SELECT split_part(topic, ':', 2) FROM paulp_events WHERE originator_id = %s ORDER BY originator_version",
            (decision_id,))]


def _holds(db: str, decision_id: str) -> int:
    with psycopg.connect(db) as conn:
        return int(conn.execute(
            "SELECT count(*) FROM paulp_events WHERE topic LIKE %s AND convert_from(state, 'UTF8') LIKE %s",
            ("%BudgetPeriodLedger.Reserved", f"%{decision_id}%")).fetchone()[0])


class Probe:
    """Answers at once; records what the database held when the call reached the provider."""

    def __init__(self, db: str) -> None:
        self.db, self.seen = db, []  # type: ignore[var-annotated]

    def port(self, system: str, user: str) -> CallPort:
        def call(model_id: str) -> CallResult:
            with psycopg.connect(self.db) as conn:
                row = conn.execute("SELECT originator_id::text FROM paulp_events WHERE topic LIKE %s"
                                   " ORDER BY notification_id DESC LIMIT 1", ("%RoutingDecision.Resolved",)).fetchone()
            self.seen.append(row[0] if row else None)
            return CallResult("ok", Usage(120, 30), 0)

        return call


@pytest.fixture
def service(fresh_db, nats_url, namespace):
    make_container(fresh_db, nats_url, namespace).close()  # migrated
    probe = Probe(fresh_db)
    svc = RoutingService(application_env(fresh_db), SystemClock(), llm_env=KEYS, providers=lambda: probe,
                         new_id=uuid7)
    svc.probe = probe  # type: ignore[attr-defined]
    yield svc
    svc.close()


def test_govern_when_provider_called_then_decision_and_holds_already_committed(service, fresh_db):
    out = service.govern("signal_scanning", user_prompt=PROMPT)
    assert out.success
    assert service.probe.seen == [out.decision_id]  # visible to another connection before the call
    assert _holds(fresh_db, out.decision_id) == 2  # daily and monthly


def test_govern_when_returned_then_outcome_stored_by_itself_within_a_second(service, fresh_db):
    out = service.govern("signal_scanning", user_prompt=PROMPT)
    deadline = time.monotonic() + 1.0
    while "RoutingDecision.Succeeded" not in _decision_topics(fresh_db, out.decision_id):
        assert time.monotonic() < deadline, "the outcome writer did not store the outcome"
        time.sleep(0.005)
    assert _decision_topics(fresh_db, out.decision_id) == [
        "RoutingDecision.Resolved", "RoutingDecision.AttemptRecorded", "RoutingDecision.Succeeded"]


def test_close_when_outcomes_queued_then_every_outcome_stored(fresh_db, nats_url, namespace):
    make_container(fresh_db, nats_url, namespace).close()
    svc = RoutingService(application_env(fresh_db), SystemClock(), llm_env=KEYS, providers=lambda: Probe(fresh_db),
                         new_id=uuid7)
    ids = [svc.govern("signal_scanning", user_prompt=PROMPT).decision_id for _ in range(20)]
    svc.close()
    for decision_id in ids:
        assert _decision_topics(fresh_db, decision_id)[-1] == "RoutingDecision.Succeeded"
    with psycopg.connect(fresh_db) as conn:
        settled = conn.execute("SELECT count(*) FROM paulp_events WHERE topic LIKE %s",
                               ("%BudgetPeriodLedger.Settled",)).fetchone()[0]
    assert settled == 2 * len(ids)
