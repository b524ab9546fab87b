"""Compliance matrix and ingestion gate (api-and-security §6.3, §7.2; ADR 0368) on real PostgreSQL + NATS with the
loopback Kalshi exchange: the seeded matrix in the view, ingestion when approved, no request once two operators
block the source, unknown sources and an unreadable matrix blocked, and the operator CLI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from paulp.adapters.projector import catch_up_from_log
from paulp.api.cli import app
from paulp.api.compliance_gate import BLOCKED, admit
from paulp.api.market_jobs import refresh_open_marks
from paulp.domain.compliance import ComplianceSource, SameOperator
from paulp.domain.compliance_matrix import SEED
from tests.integration.helpers import NOW, assert_live_equals_replay, make_container, max_notification_id
from tests.integration.kalshi_system import AUTH, System

pytestmark = pytest.mark.integration


def project(system: System) -> None:
    system.project("orders", "venue_orders", "market_marks", "compliance")


def view(db: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(db) as conn:
        return conn.execute(sql, params or None).fetchall()


def block_kalshi(system: System) -> None:
    """Two operators block the Kalshi trade API: proposed by one, approved by another."""
    c = system.container.compliance
    proposal, _ = c.propose_status("kalshi_trade_api", "blocked", "ToS review pending", "ToS changed", "ops-ann")
    with pytest.raises(SameOperator):
        c.approve(proposal, "OPS-ANN")
    assert c.source("kalshi_trade_api").status.value == "approved"  # type: ignore[union-attr]
    c.approve(proposal, "ops-bob")


def test_seed_when_run_twice_then_matrix_in_view_once_and_replayable(system: System) -> None:
    c = system.container
    assert c.compliance.seed() == len(SEED)
    head = system.head()
    assert c.compliance.seed() == 0 and system.head() == head  # insert-if-absent: nothing new
    project(system)
    rows = {r[0]: r[1:] for r in view(c.database_url, "SELECT source_name, status, block_reason, authentication_type,"
                                                      " allowed_usage, retry_policy, tos_version, tos_next_review_date,"
                                                      " rate_limits FROM views.compliance_sources")}
    assert set(rows) == {s.source_name for s in SEED}
    status, block, auth, usage, retry, version, review, limits = rows["kalshi_trade_api"]
    assert (status, block, auth, version) == ("approved", None, "rsa_pss", "bootstrap-v1")
    assert usage == ["market_data_read", "orderbook_read", "trade_execution"]
    assert retry == {"max_retries": 3, "backoff_base_ms": 1000} and limits["trading_per_minute"] == 60
    assert review == NOW + timedelta(days=90)
    assert rows["polymarket_analytics"][:2] == ("blocked", "ToS does not explicitly permit automated access")
    assert_live_equals_replay(c, "compliance")


def test_ingest_when_kalshi_approved_then_fetched_and_pass_in_the_report(system: System) -> None:
    ticker, _ = system.live_fill("comp-ok")
    project(system)
    head = system.head()
    r = system.client.post("/admin/orchestrator/trigger/ingest", headers=AUTH)
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    assert (result["markets"], result["recorded"]) == (1, 1)
    assert result["compliance"] == {"allowed": True, "status": "approved", "sources": ["kalshi_trade_api"]}
    assert any(req.path.endswith(f"/markets/{ticker}") for req in system.exchange.requests)
    assert system.events("IngestionBlocked", head) == []


def test_ingest_when_two_operators_blocked_kalshi_then_no_request_and_block_audited(system: System) -> None:
    ticker, _ = system.live_fill("comp-block")
    project(system)
    block_kalshi(system)
    seen, head = len(system.exchange.requests), system.head()

    r = system.client.post("/admin/orchestrator/trigger/ingest", headers=AUTH)
    assert r.status_code == 200, r.text  # the slot is acknowledged (completed), not failed or retried
    result = r.json()["result"]
    assert result["compliance"] == {"allowed": False, "status": "blocked", "reason": "1 entities blocked or unknown",
                                    "blockedEntities": ["kalshi_trade_api"], "sources": ["kalshi_trade_api"]}
    assert result["recorded"] == 0
    assert asyncio.run(refresh_open_marks(system.container)) == {ticker: BLOCKED}  # the minute marks too
    scanned = system.client.post("/admin/orchestrator/trigger/scan", headers=AUTH)
    assert scanned.status_code == 200 and scanned.json()["result"]["scanned"] is False
    assert len(system.exchange.requests) == seen  # not one request reached the venue

    blocks = system.events("IngestionBlocked", head)
    assert [(b.job, b.venue, b.message_type, b.status, b.blocked_entities) for b in blocks] == [
        ("ingest", "kalshi", "fetch_markets", "blocked", ["kalshi_trade_api"]),
        ("marks", "kalshi", "fetch_markets", "blocked", ["kalshi_trade_api"]),
        ("scan", "kalshi", "fetch_markets", "blocked", ["kalshi_trade_api"])]
    [change] = system.events("SourceStatusChanged")
    assert (change.proposed_by, change.actor, change.from_status, change.to_status, change.block_reason) == (
        "ops-ann", "ops-bob", "approved", "blocked", "ToS changed")
    project(system)
    db = system.container.database_url
    assert view(db, "SELECT status, block_reason, status_proposed_by, status_approved_by FROM views.compliance_sources"
                    " WHERE source_name = 'kalshi_trade_api'") == [("blocked", "ToS changed", "ops-ann", "ops-bob")]
    kinds = [k for (k,) in view(db, "SELECT event_type FROM views.compliance_events"
                                    " WHERE source_name = 'kalshi_trade_api' ORDER BY notification_id")]
    assert kinds == ["status_change", "blocked_access", "blocked_access", "blocked_access"]
    assert_live_equals_replay(system.container, "compliance")


def test_gate_when_source_unknown_or_unmapped_then_blocked_and_audited(system: System) -> None:
    c = system.container
    decision = admit(c, "ibkr", "fetch_markets", "ingest")
    assert (decision.allowed, decision.status) == (False, "unknown")
    assert c.compliance.statuses(["made_up_api", "noaa_cdo"]) == {"noaa_cdo": "approved"}
    [block] = system.events("IngestionBlocked")
    assert (block.venue, block.message_type, block.blocked_entities) == ("ibkr", "fetch_markets", [])
    assert admit(c, "noaa", "fetch_station_history", "scan").allowed


def test_gate_when_matrix_unreadable_then_blocked_and_no_request(system: System) -> None:
    system.live_fill("comp-unreadable")
    project(system)
    seen = len(system.exchange.requests)
    with psycopg.connect(system.container.database_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE paulp_events RENAME TO paulp_events_unreadable")
    try:
        decision = admit(system.container, "kalshi", "fetch_markets", "marks")
        assert (decision.allowed, decision.blocked_entities) == (False, ("kalshi_trade_api",))
        assert decision.reason is not None and decision.reason.startswith("Compliance matrix unreadable")
        outcome = asyncio.run(refresh_open_marks(system.container))
        assert outcome and set(outcome.values()) == {BLOCKED}
        assert len(system.exchange.requests) == seen
    finally:
        with psycopg.connect(system.container.database_url, autocommit=True) as conn:
            conn.execute("ALTER TABLE paulp_events_unreadable RENAME TO paulp_events")


# ------------------------------------------------------------------------------------------------------- CLI


@pytest.fixture
def cli(fresh_db: str, nats_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in (("ENVIRONMENT", "test"), ("PAULP_DATABASE_URL", fresh_db), ("PAULP_NATS_URL", nats_url),
                        ("PAULP_NAMESPACE", namespace), ("COLUMNS", "200")):
        monkeypatch.setenv(name, value)
    yield fresh_db


def compliance(*args: str) -> Any:
    return CliRunner().invoke(app, ["compliance", *args])


def test_cli_when_two_operators_change_status_then_checks_follow_and_bad_input_exits_2(
        cli: str, nats_url: str, namespace: str) -> None:
    ok = compliance("check", "kalshi_trade_api", "noaa_cdo")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["batch"] == {"allowed": True, "status": "approved",
                                              "sources": ["kalshi_trade_api", "noaa_cdo"]}
    unknown = compliance("check", "kalshi_trade_api", "made_up_api")
    assert unknown.exit_code == 1
    body = json.loads(unknown.output)
    assert body["sources"]["made_up_api"] == {"approved": False, "reason": "Source not in compliance matrix"}
    assert body["batch"]["blockedEntities"] == ["made_up_api"]

    head = max_notification_id(cli)
    for bad in (["propose-status", "kalshi_trade_api", "live", "--reason", "r", "--actor", "ann"],
                ["propose-status", "nope_api", "blocked", "--reason", "r", "--actor", "ann"],
                ["approve", "kalshi_trade_api#p1", "--actor", "bob"],
                ["approve", "not-an-id", "--actor", "bob"]):
        refused = compliance(*bad)
        assert refused.exit_code == 2, (bad, refused.output)
        assert "error:" in refused.output
    assert max_notification_id(cli) == head  # a refusal records nothing

    proposed = compliance("propose-status", "noaa_cdo", "under_review", "--reason", "token terms", "--actor", "ann")
    assert proposed.exit_code == 0 and "noaa_cdo#p1" in proposed.output
    same = compliance("approve", "noaa_cdo#p1", "--actor", "Ann")
    assert same.exit_code == 2 and "same_actor" in same.output
    approved = compliance("approve", "noaa_cdo#p1", "--actor", "bob")
    assert approved.exit_code == 0 and "noaa_cdo is now under_review" in approved.output
    assert compliance("check", "noaa_cdo").exit_code == 1

    recorded = compliance("record-violation", "noaa_cdo", "--type", "rate_limit_exceeded", "--severity", "critical",
                          "--description", "1000/day exceeded", "--actor", "ann")
    assert recorded.exit_code == 0 and "noaa_cdo#v1" in recorded.output
    container = make_container(cli, nats_url, namespace)
    try:
        with psycopg.connect(cli, autocommit=True) as conn:
            catch_up_from_log(conn, container.projections["compliance"])
        assert json.loads(compliance("violations", "--json").output)[0]["violationId"] == "noaa_cdo#v1"
        listed = {r["sourceName"]: r for r in json.loads(compliance("list", "--json").output)}
        assert listed["noaa_cdo"]["status"] == "under_review" and len(listed) == len(SEED)
        p3 = container_gate(container, 3, "P3_COMPLIANCE_CHECK_PASS")
        assert (p3["passed"], p3["actualValue"]) == (False, 1)
        assert compliance("resolve-violation", "noaa_cdo#v1", "--actor", "bob", "--notes", "paced").exit_code == 0
        assert compliance("resolve-violation", "noaa_cdo#v1", "--actor", "bob").exit_code == 2
        with psycopg.connect(cli, autocommit=True) as conn:
            catch_up_from_log(conn, container.projections["compliance"])
        p3 = container_gate(container, 3, "P3_COMPLIANCE_CHECK_PASS")
        p1 = container_gate(container, 1, "P1_COMPLIANCE_MATRIX")
        assert (p3["passed"], p3["actualValue"], p1["passed"], p1["actualValue"]) == (True, 0, True, len(SEED))
        due = compliance("review-due", "--json")
        assert due.exit_code == 0 and json.loads(due.output) == []  # seeded today: due in 90 days
        assert [e.__class__.__qualname__ for e in container.compliance.events.get(
            ComplianceSource.create_id("noaa_cdo"))][-1] == "ComplianceSource.ViolationResolved"
    finally:
        container.close()


def container_gate(container: Any, phase: int, criterion: str) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from paulp.api.app import create_app

    r = TestClient(create_app(container)).get(f"/admin/gates/verify/{phase}", headers=AUTH)
    assert r.status_code == 200, r.text
    return {x["criterionId"]: x for x in r.json()["results"]}[criterion]
