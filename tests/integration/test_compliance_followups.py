"""Compliance follow-ups (api-and-security §6.3; ADRs 0400, 0401) on real PostgreSQL + NATS with the loopback
Kalshi exchange and NOAA CDO: failures recorded as compliance events once per run and type, the ToS review, and
the two-person status change over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from typer.testing import CliRunner

from paulp.adapters.projector import catch_up_from_log
from paulp.api.cli import app
from paulp.api.compliance_outcomes import record
from paulp.domain.clock import FixedClock
from paulp.domain.compliance_matrix import SEED
from paulp.domain.compliance_outcomes import RunOutcomes
from tests.fakes.kalshi_exchange import FakeKalshiExchange, Fault
from tests.fakes.noaa_cdo import FakeNoaaCdo, NoaaFault
from tests.integration.helpers import NOAA_TOKEN, NOW, make_container, max_notification_id
from tests.integration.kalshi_system import AUTH, System, _system
from tests.integration.test_weather_scan import LIKELY, UNLIKELY, weather_market
from tests.support.served import serve_container

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]
GIVE_UP = "60"  # a Retry-After longer than the client may wait: it gives up at once, no back-off sleeps
BOB_TOKEN = "bob-admin-token-0123456789abcdef0123"
BOB = {"Authorization": f"Bearer {BOB_TOKEN}"}


def recorded(system: System, source: str, after: int = 0) -> list[tuple[str, str, str]]:
    return [(e.event_type, e.description, e.actor) for e in system.events("EventRecorded", after)
            if e.originator_id == system.container.compliance.source(source).id]  # type: ignore[union-attr]


def ingest(system: System) -> dict[str, Any]:
    r = system.client.post("/admin/orchestrator/trigger/ingest", headers=AUTH)
    return {"status": r.status_code, **r.json()}


# ------------------------------------------------------------------------ compliance events from the clients


@pytest.mark.parametrize(("status", "kind", "code"), [
    (429, "rate_limit_hit", "venue_rate_limited"),
    (401, "blocked_access", "venue_auth_failed"),
    (403, "blocked_access", "venue_request_rejected"),
    (500, "api_error", "venue_unavailable"),
])
def test_ingest_when_kalshi_fails_then_one_compliance_event_of_its_kind(system: System, status: int, kind: str,
                                                                         code: str) -> None:
    ticker, _ = system.live_fill(f"comp-{status}")
    system.project("orders", "venue_orders", "market_marks")
    head = system.head()
    system.exchange.inject(Fault(status=status, method="GET", path_contains=f"/markets/{ticker}", times=10,
                                 retry_after=GIVE_UP))

    first = ingest(system)
    assert (first["status"], first["code"]) == (502, "job_failed"), first  # every market unread: the run fails
    second = ingest(system)  # a second run records its own event: once per run, not once ever
    assert second["status"] == first["status"]

    events = recorded(system, "kalshi_trade_api", head)
    expected = (kind, f"ingest: 1 call failed with {code} (HTTP {status})", "job:ingest")
    assert events == [expected, expected]
    system.project("compliance")
    with psycopg.connect(system.container.database_url) as conn:
        rows = conn.execute("SELECT event_type, actor FROM views.compliance_events WHERE source_name ="
                            " 'kalshi_trade_api' AND event_type = %s", (kind,)).fetchall()
    assert rows == [(kind, "job:ingest"), (kind, "job:ingest")]


def test_ingest_when_kalshi_answers_then_no_compliance_event(system: System) -> None:
    system.live_fill("comp-fine")
    system.project("orders", "venue_orders", "market_marks")
    head = system.head()
    assert ingest(system)["status"] == 200
    assert system.events("EventRecorded", head) == []


def test_record_when_source_not_in_matrix_then_logged_and_nothing_raised(system: System,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    outcomes = RunOutcomes("ingest")
    outcomes.note("made_up_api", 429, "venue_rate_limited")
    outcomes.note("kalshi_trade_api", 503, "venue_unavailable")
    head = system.head()
    assert record(system.container, outcomes) == 1  # the unknown source fails alone, the run is not touched
    assert "could not record compliance event rate_limit_hit on made_up_api" in caplog.text
    assert [e.event_type for e in system.events("EventRecorded", head)] == ["api_error"]


@pytest.fixture
def weather(fresh_db: str, nats_url: str, namespace: str, exchange: FakeKalshiExchange, key: Any, tmp_path: Any,
            noaa: FakeNoaaCdo) -> Iterator[System]:
    exchange.markets[LIKELY] = weather_market(LIKELY, 39, 40, 40)
    exchange.markets[UNLIKELY] = weather_market(UNLIKELY, 47, 48, 48)
    yield from _system(fresh_db, nats_url, namespace, exchange, key, tmp_path, NOAA_CDO_TOKEN=NOAA_TOKEN,
                       NOAA_CDO_BASE_URL=noaa.base_url, NOAA_CDO_REQUESTS_PER_SECOND=1000)


def test_scan_when_noaa_rate_limits_then_rate_limit_hit_on_noaa_cdo(weather: System, noaa: FakeNoaaCdo) -> None:
    noaa.inject(NoaaFault(status=429, retry_after=GIVE_UP))
    r = weather.client.post("/admin/orchestrator/trigger/scan", headers=AUTH)
    assert r.status_code == 200, r.text  # the weather row fails alone; the scan completes
    rows = {row["strategy"]: row for row in r.json()["result"]["strategies"]}
    assert rows["weather"]["error"] == "NOAA CDO history read failed: noaa_rate_limited (HTTP 429)"
    assert recorded(weather, "noaa_cdo") == [
        ("rate_limit_hit", "scan: 1 call failed with noaa_rate_limited (HTTP 429)", "job:scan")]
    assert recorded(weather, "kalshi_trade_api") == []


# ------------------------------------------------------------------------------------------ ToS review (CLI)


@pytest.fixture
def cli(fresh_db: str, nats_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in (("ENVIRONMENT", "test"), ("PAULP_DATABASE_URL", fresh_db), ("PAULP_NATS_URL", nats_url),
                        ("PAULP_NAMESPACE", namespace), ("COLUMNS", "200")):
        monkeypatch.setenv(name, value)
    yield fresh_db


def compliance(*args: str) -> Any:
    return CliRunner().invoke(app, ["compliance", *args])


def test_review_when_recorded_then_due_date_moves_90_days_and_review_due_stops_listing(
        cli: str, nats_url: str, namespace: str) -> None:
    seeded = make_container(cli, nats_url, namespace, clock=FixedClock(datetime.now(NOW.tzinfo) - timedelta(days=91)))
    try:
        seeded.compliance.seed()  # seeded 91 days ago: every review is overdue
    finally:
        seeded.close()
    due = json.loads(compliance("review-due", "--json").output)
    assert [d["sourceName"] for d in due] == sorted(s.source_name for s in SEED)

    head = max_notification_id(cli)
    for bad in (["review", "kalshi_trade_api", "--actor", " ", "--notes", "read"],
                ["review", "kalshi_trade_api", "--actor", "ann", "--notes", ""],
                ["review", "nope_api", "--actor", "ann", "--notes", "read"],
                ["review", "kalshi_trade_api", "--actor", "ann", "--notes", "read", "--tos-version", " "]):
        refused = compliance(*bad)
        assert refused.exit_code == 2 and "error:" in refused.output, (bad, refused.output)
    assert max_notification_id(cli) == head

    done = compliance("review", "kalshi_trade_api", "--actor", "ann", "--notes", "terms unchanged since seeding",
                      "--tos-version", "2026-11")
    assert done.exit_code == 0, done.output
    expected = (datetime.now(NOW.tzinfo) + timedelta(days=90)).date()
    assert f"next review due {expected.isoformat()}" in done.output
    due = [d["sourceName"] for d in json.loads(compliance("review-due", "--json").output)]
    assert "kalshi_trade_api" not in due and len(due) == len(SEED) - 1

    container = make_container(cli, nats_url, namespace)
    try:
        with psycopg.connect(cli, autocommit=True) as conn:
            catch_up_from_log(conn, container.projections["compliance"])
            row = conn.execute("SELECT tos_version, tos_next_review_date::date, tos_reviewed_by, tos_review_notes"
                               " FROM views.compliance_sources WHERE source_name = 'kalshi_trade_api'").fetchone()
            event = conn.execute("SELECT event_type, actor, details->>'previousVersion' FROM views.compliance_events"
                                 " WHERE source_name = 'kalshi_trade_api'").fetchall()
        src = container.compliance.source("kalshi_trade_api")
        assert src is not None and src.status.value == "approved"  # a review changes no permission
    finally:
        container.close()
    assert row == ("2026-11", expected, "ann", "terms unchanged since seeding")
    assert event == [("review_triggered", "ann", "bootstrap-v1")]


# ------------------------------------------------------------------------------- two-person route (real HTTP)


@pytest.fixture
def served(fresh_db: str, nats_url: str, namespace: str, exchange: FakeKalshiExchange, key: Any,
           tmp_path: Any) -> Iterator[tuple[System, str]]:
    for system in _system(fresh_db, nats_url, namespace, exchange, key, tmp_path, ADMIN_TOKENS=f"bob={BOB_TOKEN}"):
        with serve_container(system.container) as base:
            yield system, base


def test_route_when_one_operator_proposes_then_only_another_can_approve_and_ingest_is_blocked(
        served: tuple[System, str]) -> None:
    system, base = served
    ticker, _ = system.live_fill("comp-http")
    system.project("orders", "venue_orders", "market_marks")
    with httpx.Client(base_url=base, timeout=30) as http:
        proposed = http.post("/admin/compliance/sources/kalshi_trade_api/status", headers=AUTH,
                             json={"status": "blocked", "reason": "ToS changed", "blockReason": "ToS review"})
        assert proposed.status_code == 202, proposed.text
        body = proposed.json()
        assert (body["status"], body["proposalId"], body["proposedBy"]) == (
            "pending_second_approval", "kalshi_trade_api#p1", "api-token-user")
        assert body["expiresAt"] == (NOW + timedelta(hours=24)).isoformat()
        approve = "/admin/compliance/proposals/kalshi_trade_api%23p1/approve"

        head = system.head()
        same = http.post(approve, headers=AUTH)
        assert (same.status_code, same.json()["code"]) == (409, "same_actor")
        assert system.head() == head and system.container.compliance.source(
            "kalshi_trade_api").status.value == "approved"  # type: ignore[union-attr]

        approved = http.post(approve, headers=BOB)
        assert approved.status_code == 200, approved.text
        assert {k: approved.json()[k] for k in ("status", "blockReason", "actors")} == {
            "status": "blocked", "blockReason": "ToS review", "actors": ["api-token-user", "token:bob"]}

        seen = len(system.exchange.requests)
        ran = http.post("/admin/orchestrator/trigger/ingest", headers=AUTH)
        assert ran.status_code == 200 and ran.json()["result"]["compliance"]["allowed"] is False
        assert not any(r.path.endswith(f"/markets/{ticker}") for r in system.exchange.requests[seen:])

        system.project("compliance")
        listed = http.get("/admin/compliance/sources", headers=AUTH).json()
    kalshi = next(s for s in listed["sources"] if s["sourceName"] == "kalshi_trade_api")
    assert (kalshi["status"], kalshi["statusProposedBy"], kalshi["statusApprovedBy"]) == (
        "blocked", "api-token-user", "token:bob")
    assert listed["pendingProposals"] == [] and len(listed["sources"]) == len(SEED)


def test_route_when_input_bad_or_unauthenticated_then_4xx_with_code_and_nothing_recorded(
        served: tuple[System, str]) -> None:
    system, base = served
    system.container.compliance.seed()
    head = system.head()
    path = "/admin/compliance/sources/noaa_cdo/status"
    with httpx.Client(base_url=base, timeout=30) as http:
        cases = [
            (http.post(path, headers=AUTH, json={"status": "live", "reason": "x"}), 400, "invalid_compliance_request",
             ["status"]),
            (http.post(path, headers=AUTH, json={"status": "blocked"}), 400, "invalid_compliance_request", ["reason"]),
            (http.post(path, headers=AUTH, json={"status": "approved", "reason": "x", "blockReason": "y"}), 400,
             "invalid_compliance_request", ["blockReason"]),
            (http.post(path, headers=AUTH, content=b"{nope"), 400, "invalid_json", None),
            (http.post(path, headers=AUTH, json={"status": "approved", "reason": "already"}), 409,
             "status_unchanged", None),
            (http.post("/admin/compliance/sources/made_up_api/status", headers=AUTH,
                       json={"status": "blocked", "reason": "x"}), 404, "unknown_source", None),
            (http.post("/admin/compliance/proposals/noaa_cdo%23p9/approve", headers=BOB), 404, "proposal_not_found",
             None),
            (http.post("/admin/compliance/proposals/not-an-id/approve", headers=BOB), 400,
             "invalid_compliance_request", None),
            (http.post(path, json={"status": "blocked", "reason": "x"}), 401, "auth_required", None),
            (http.post("/admin/compliance/proposals/noaa_cdo%23p1/approve"), 401, "auth_required", None),
            (http.get("/admin/compliance/sources"), 401, "auth_required", None),
        ]
        for response, status, code, fields in cases:
            assert (response.status_code, response.json()["code"]) == (status, code), response.text
            assert fields is None or response.json()["fields"] == fields
        assert system.head() == head  # not one refusal recorded anything

        proposed = http.post(path, headers=BOB, json={"status": "under_review", "reason": "token terms"})
        assert proposed.status_code == 202
        again = http.post(path, headers=AUTH, json={"status": "blocked", "reason": "second"})
        assert (again.status_code, again.json()["code"]) == (409, "proposal_pending")
        no_reason = http.post("/admin/compliance/proposals/noaa_cdo%23p1/reject", headers=AUTH, json={})
        assert (no_reason.status_code, no_reason.json()["fields"]) == (400, ["reason"])
        rejected = http.post("/admin/compliance/proposals/noaa_cdo%23p1/reject", headers=AUTH,
                             json={"reason": "not needed"})
        assert rejected.status_code == 200 and rejected.json()["rejectedBy"] == "api-token-user"
        late = http.post("/admin/compliance/proposals/noaa_cdo%23p1/approve", headers=AUTH)
        assert (late.status_code, late.json()["code"]) == (409, "proposal_closed")  # closed, not unknown (ADR 0517)
    assert system.container.compliance.source("noaa_cdo").status.value == "approved"  # type: ignore[union-attr]
