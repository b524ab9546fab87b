"""The spine end to end on real PostgreSQL + NATS: command -> log + chain -> relay -> projector -> view."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from paulp.adapters import replay as rp
from paulp.adapters.audit_store import verify
from paulp.api.app import create_app
from paulp.domain.clock import FixedClock
from tests.integration.helpers import make_container, max_notification_id, wait_tracked, workers

pytestmark = pytest.mark.integration
TOKEN = "test-admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def _raw_get(app, path: bytes, query: bytes) -> tuple[int, bytes]:
    """One GET straight through ASGI with the query bytes as a server passed them (no client re-encoding)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path.decode(), "raw_path": path, "query_string": query, "root_path": "",
             "headers": [(b"host", b"testserver"), (b"authorization", AUTH["Authorization"].encode())],
             "client": ("127.0.0.1", 1), "server": ("testserver", 80)}
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_transition_command_when_relayed_then_breaker_state_view_shows_it(fresh_db, nats_url, namespace):
    container = make_container(fresh_db, nats_url, namespace)
    try:
        with workers(container):
            client = TestClient(create_app(container))
            r = client.post("/admin/circuit-breaker/transition", json={"targetState": "CAUTION", "reason": "ops"},
                            headers=AUTH)
            assert r.status_code == 200, r.text
            assert r.json() | {"timestamp": None} == {"success": True, "previousState": "NORMAL",
                                                      "newState": "CAUTION", "reason": "ops", "timestamp": None}
            wait_tracked(fresh_db, "breaker_state", max_notification_id(fresh_db))
            status = client.get("/admin/status", headers=AUTH).json()
            assert status["circuitBreaker"]["state"] == "CAUTION"
            assert status["circuitBreaker"]["lastActor"] == "api-token-user"
        with psycopg.connect(fresh_db) as conn:
            hist = conn.execute("SELECT from_state, to_state, reason, actor FROM views.breaker_transitions").fetchall()
        assert hist == [("NORMAL", "CAUTION", "ops", "api-token-user")]
    finally:
        container.close()


def test_replay_diff_when_view_built_via_nats_then_no_difference(fresh_db, nats_url, namespace):
    container = make_container(fresh_db, nats_url, namespace)
    try:
        for target in ("CAUTION", "HALT", "RECOVERY", "NORMAL", "HALT"):
            container.breaker.transition(target, f"to {target}", "tester")
        container.breaker.record_risk_check(blocked=True)
        with workers(container):
            wait_tracked(fresh_db, "breaker_state", max_notification_id(fresh_db))
        proj = container.projections["breaker_state"]
        result = rp.replay(fresh_db, proj, "replay_breaker_state", rp.live_position(fresh_db, proj))
        assert result.applied == max_notification_id(fresh_db)
        assert rp.diff(fresh_db, proj, "replay_breaker_state") == []
        # An earlier point in time differs from live: the diff is not vacuous.
        rp.replay(fresh_db, proj, "replay_breaker_state", until_seq=2)
        assert rp.diff(fresh_db, proj, "replay_breaker_state") != []
    finally:
        container.close()


def test_replay_when_target_is_live_schema_then_refused(fresh_db, nats_url, namespace):
    container = make_container(fresh_db, nats_url, namespace)
    try:
        with pytest.raises(rp.ReplayError):
            rp.replay(fresh_db, container.projections["breaker_state"], "views")
    finally:
        container.close()


def test_bad_input_when_posted_then_4xx_code_and_nothing_stored(fresh_db, nats_url, namespace):
    container = make_container(fresh_db, nats_url, namespace)
    try:
        client = TestClient(create_app(container))
        cases = [
            ({"targetState": "PANIC", "reason": "x"}, AUTH, 400, "invalid_target_state", "Invalid target state"),
            ({"targetState": "HALT", "reason": ""}, AUTH, 400, "reason_required",
             "Reason required for state transition"),
            ({"targetState": "RECOVERY", "reason": "x"}, AUTH, 400, "invalid_transition",
             "Invalid transition from NORMAL to RECOVERY"),
            ({"targetState": "HALT", "reason": "x"}, {"Authorization": "Bearer wrong"}, 401, "auth_required",
             "Unauthorized"),
        ]
        for body, headers, status, code, error in cases:
            r = client.post("/admin/circuit-breaker/transition", json=body, headers=headers)
            assert (r.status_code, r.json()["code"], r.json()["error"]) == (status, code, error)
        r = client.post("/admin/circuit-breaker/transition", content=b"{not json", headers=AUTH)
        assert (r.status_code, r.json()["code"]) == (400, "invalid_json")
        r = client.post("/admin/circuit-breaker/transition", content=b"[1,2]", headers=AUTH)
        assert (r.status_code, r.json()["code"], r.json()["fields"]) == (400, "validation_error", ["body"])
        for deep in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 5000 + b"1" + b"}" * 5000):  # ADR 0490
            r = client.post("/admin/circuit-breaker/transition", content=deep, headers=AUTH)
            assert (r.status_code, r.json()["code"]) == (400, "invalid_json")
        for query in (b"venue=\xff\xfe", b"x=\xc3"):  # raw non-UTF-8 bytes (an HTTP server may pass them on)
            status, body = asyncio.run(_raw_get(client.app, b"/exec/kalshi/mode", query))
            assert (status, json.loads(body)["code"]) == (400, "invalid_characters")
        assert max_notification_id(fresh_db) == 0
        assert client.get("/admin/nope").status_code == 401  # auth runs before routing
        assert client.get("/admin/nope", headers=AUTH).status_code == 404
    finally:
        container.close()


def test_halt_when_older_than_sixty_minutes_then_status_query_recovers(fresh_db, nats_url, namespace):
    clock = FixedClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    container = make_container(fresh_db, nats_url, namespace, clock=clock)
    try:
        container.breaker.transition("HALT", "drill", "tester")
        clock.set(clock.now() + timedelta(minutes=60))
        assert container.breaker.tick() == 0  # exactly 60 minutes: not yet (strictly greater)
        clock.set(clock.now() + timedelta(seconds=1))
        with workers(container):
            client = TestClient(create_app(container))
            status = client.get("/admin/status", headers=AUTH).json()
        assert status["circuitBreaker"]["state"] == "RECOVERY"
        assert status["circuitBreaker"]["lastReason"] == "Auto-recovery: HALT timeout"
    finally:
        container.close()


def test_halt_timer_when_service_restarted_then_still_expires(fresh_db, nats_url, namespace):
    clock = FixedClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    first = make_container(fresh_db, nats_url, namespace, clock=clock)
    first.breaker.transition("HALT", "drill", "tester")
    first.close()
    clock.set(clock.now() + timedelta(minutes=61))
    second = make_container(fresh_db, nats_url, namespace, clock=clock)  # a new process: state from the log
    try:
        assert second.breaker.tick() > 0
        assert second.breaker.get().state == "RECOVERY"
    finally:
        second.close()


def _superuser_exec(db_url: str, sql: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # superuser bypasses the append-only triggers
        conn.execute(sql)


def test_audit_verify_when_log_or_chain_tampered_then_fails_at_that_sequence(fresh_db, nats_url, namespace):
    container = make_container(fresh_db, nats_url, namespace)
    try:
        for target in ("CAUTION", "HALT", "RECOVERY", "NORMAL"):
            container.breaker.transition(target, f"to {target}", "tester")
        assert verify(fresh_db).valid
        with psycopg.connect(fresh_db, autocommit=True) as conn, pytest.raises(psycopg.Error, match="append-only"):
            conn.execute("UPDATE audit_chain SET agent = 'x' WHERE chain_seq = 2")
        with psycopg.connect(fresh_db, autocommit=True) as conn, pytest.raises(psycopg.Error, match="append-only"):
            conn.execute("DELETE FROM paulp_events WHERE notification_id = 1")

        _superuser_exec(fresh_db, "UPDATE paulp_events SET state = convert_to(replace(convert_from(state, 'UTF8'),"
                                  " 'to HALT', 'to HALX'), 'UTF8') WHERE notification_id = 3")
        report = verify(fresh_db)
        assert not report.valid and report.first_bad_sequence == 3

        env = {"ENVIRONMENT": "test", "PAULP_DATABASE_URL": fresh_db, "PAULP_NATS_URL": nats_url,
               "PATH": "/usr/bin:/bin"}
        cli = subprocess.run([sys.executable, "-m", "paulp.api", "audit", "verify"], env=env, capture_output=True,
                             text=True, timeout=60)
        assert cli.returncode == 1 and "first bad sequence 3" in cli.stderr.replace("\n", " ")
    finally:
        container.close()


def test_audit_verify_when_chain_row_edited_then_fails_at_exactly_that_sequence(fresh_db, nats_url, namespace):
    container = make_container(fresh_db, nats_url, namespace)
    try:
        for target in ("CAUTION", "NORMAL", "CAUTION", "NORMAL"):
            container.breaker.transition(target, "cycle", "tester")
        _superuser_exec(fresh_db, "UPDATE audit_chain SET agent = 'forged' WHERE chain_seq = 4")
        report = verify(fresh_db)
        assert not report.valid
        assert {b.sequence for b in report.chain.broken_links} == {4}
        assert verify(fresh_db, 1, 3).valid  # the range before the edit is intact
    finally:
        container.close()


def test_metrics_when_projection_behind_then_lag_reported(fresh_db, nats_url, namespace):
    container = make_container(fresh_db, nats_url, namespace)
    try:
        container.breaker.transition("HALT", "drill", "tester")
        client = TestClient(create_app(container))
        text = client.get("/metrics", headers=AUTH).text
        assert 'paulp_projection_lag_events{projection="breaker_state"} 2' in text
        with workers(container):
            wait_tracked(fresh_db, "breaker_state", max_notification_id(fresh_db))
        text = client.get("/metrics", headers=AUTH).text
        assert 'paulp_projection_lag_events{projection="breaker_state"} 0' in text
        assert 'paulp_breaker_state{state="HALT"} 1' in text and "paulp_audit_chain_length 2" in text
    finally:
        container.close()
