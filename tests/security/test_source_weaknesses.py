"""api-and-security §9: one test (at least) per source weakness in the auth, webhook and health area.

Each test is named ``test_weakness_NN_...`` after the §9 item it proves beaten.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from paulp.adapters.projector import catch_up_from_log
from paulp.api.security import secrets as secret_cmp
from paulp.api.security.cf_access import AccessJwtInvalid, AccessVerifier
from paulp.api.security.webhook_sig import signature
from paulp.api.wiring import application_env
from paulp.domain.clock import FixedClock
from paulp.domain.golive import (
    Confirmed,
    GoLiveTerms,
    InvalidCapital,
    Pending,
    RequestExpired,
    RequestMismatch,
    SameActor,
    validate_terms,
)
from paulp.domain.services.golive import GoLiveService, PhaseGateNotPassed
from tests.fakes.jwks import fake_jwks
from tests.security.support import AUDIENCE, TEAM, Signer, access_headers, app_client

pytestmark = pytest.mark.integration

TOKEN = "weakness-admin-token-0123456789abcdef"
TRIGGER = "weakness-trigger-token-0123456789abcd"
RELAY = "weakness-relay-secret-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class AllChecksPass:
    def __init__(self, gate: bool = True) -> None:
        self.gate = gate

    def strategy_exists(self, strategy: str) -> bool:
        return strategy in ("bonding", "weather")

    def phase4_gate_passed(self) -> bool:
        return self.gate

    def drift_blocked_recently(self) -> bool:
        return False

    def audit_chain_valid(self) -> bool:
        return True


# ----------------------------------------------------------------- 1. unauthenticated /webhooks/alert


def test_weakness_01_unauthenticated_alert_cannot_halt_trading(fresh_db: str, nats_url: str, namespace: str) -> None:
    critical = {"severity": "critical", "source": "monitor", "message": "disk full"}
    with app_client(fresh_db, nats_url, namespace, WEBHOOK_TRIGGER_TOKEN=TRIGGER) as (client, container):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"bearer {TRIGGER}"}):
            r = client.post("/webhooks/alert", json=critical, headers=headers)
            assert (r.status_code, r.json()["code"]) == (401, "webhook_unauthorized")
        assert container.breaker.get().state.value == "NORMAL"
        bad = client.post("/webhooks/alert", json={"severity": "panic", "source": "", "message": "x" * 1001},
                          headers={"Authorization": f"Bearer {TRIGGER}"})
        assert (bad.status_code, bad.json()["fields"]) == (400, ["severity", "source", "message"])
        for expected in ("CAUTION", "HALT"):  # two alerts: the same body again would be a retry (ADR 0524)
            ok = client.post("/webhooks/alert", json={**critical, "message": f"disk full ({expected})"},
                             headers={"Authorization": f"Bearer {TRIGGER}"})
            assert (ok.json()["received"], ok.json()["duplicate"]) == (True, False)
            assert container.breaker.get().state.value == expected
    with app_client(fresh_db, nats_url, namespace) as (client, _):
        r = client.post("/webhooks/alert", json=critical, headers={"Authorization": "Bearer anything"})
        assert (r.status_code, r.json()["code"]) == (503, "webhook_not_configured")


# ----------------------------------------------------------------- 2. timing and the open debug endpoint


def test_weakness_02_secret_comparison_uses_constant_time_digests(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(secret_cmp.hmac, "compare_digest", spy)
    assert secret_cmp.match_index("b" * 5, ["a" * 40, "b" * 5, "c"]) == 1
    assert calls == [(32, 32)] * 3  # every candidate compared, always as equal-length SHA-256 digests
    assert not secret_cmp.secret_equals("short", "a-much-longer-secret")
    assert calls[-1] == (32, 32)


def test_weakness_02_debug_ingest_requires_operator_auth_in_every_environment(module_db: str, nats_url: str,
                                                                             module_ns: str) -> None:
    with app_client(module_db, nats_url, module_ns, ENVIRONMENT="development") as (client, _):
        r = client.post("/health/debug/ingest")
        assert (r.status_code, r.json()["code"]) == (503, "auth_not_configured")
    with app_client(module_db, nats_url, module_ns, ENVIRONMENT="development", ADMIN_TOKEN=TOKEN) as (client, _):
        assert client.post("/health/debug/ingest").status_code == 401
        assert client.post("/health/debug/ingest", headers={"Authorization": "Bearer nope"}).status_code == 401
        ok = client.post("/health/debug/ingest", headers=AUTH)
        assert ok.status_code == 200 and ok.json()["success"] is True
        assert ok.json()["message"] == "Ingestion triggered"


# ----------------------------------------------------------------- 3. two-person go-live


def test_weakness_03_go_live_requires_two_distinct_authenticated_operators(fresh_db: str) -> None:
    clock = FixedClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    service = GoLiveService(application_env(fresh_db_migrated(fresh_db)), clock)
    try:
        terms = GoLiveTerms("Alice", "Bob", 10_000)
        first = service.approve("bonding", terms, "token:alice", "req-1", AllChecksPass())
        assert isinstance(first.result, Pending) and first.result.expires_at == clock.now() + timedelta(hours=24)
        with pytest.raises(SameActor):
            service.approve("bonding", terms, "TOKEN:ALICE", "req-2", AllChecksPass())
        with pytest.raises(RequestMismatch):
            service.approve("bonding", GoLiveTerms("alice", "bob", 20_000), "token:bob", "req-3", AllChecksPass())
        assert not service.get("bonding").is_live
        done = service.approve("bonding", GoLiveTerms(" alice", "BOB", 10_000), "token:bob", "req-4",
                               AllChecksPass())
        assert isinstance(done.result, Confirmed)
        assert (done.result.request_id, done.result.requested_by, done.result.confirmed_by) == \
            ("req-1", "token:alice", "token:bob")
        approval = service.get("bonding")
        assert approval.is_live and approval.actors == ["token:alice", "token:bob"]
        assert not service.get("weather")  # nothing else changed
        with pytest.raises(PhaseGateNotPassed):
            service.approve("weather", terms, "token:alice", "req-5", AllChecksPass(gate=False))
    finally:
        service.close()


def test_go_live_when_capital_rounds_to_no_cent_then_gate_checks_first_and_nothing_recorded(fresh_db: str) -> None:
    clock = FixedClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    service = GoLiveService(application_env(fresh_db_migrated(fresh_db)), clock)
    try:
        dust = validate_terms("alice", "bob", 0.004)
        with pytest.raises(PhaseGateNotPassed):
            service.approve("bonding", dust, "token:alice", "r1", AllChecksPass(gate=False))
        with pytest.raises(InvalidCapital):
            service.approve("bonding", dust, "token:alice", "r2", AllChecksPass())
        assert not service.get("bonding")
    finally:
        service.close()


def test_weakness_03_go_live_request_expires_after_24_hours(fresh_db: str) -> None:
    clock = FixedClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    service = GoLiveService(application_env(fresh_db_migrated(fresh_db)), clock)
    try:
        terms = GoLiveTerms("alice", "bob", 500)
        service.approve("weather", terms, "a@example.com", "r1", AllChecksPass())
        clock.set(clock.now() + timedelta(hours=24, seconds=1))
        with pytest.raises(RequestExpired):
            service.approve("weather", terms, "b@example.com", "r2", AllChecksPass())
        again = service.approve("weather", terms, "b@example.com", "r3", AllChecksPass())
        assert isinstance(again.result, Pending) and again.result.request_id == "r3"
    finally:
        service.close()


def test_weakness_03_go_live_over_http_validates_then_requires_phase4_gate(fresh_db: str, nats_url: str,
                                                                          namespace: str) -> None:
    with app_client(fresh_db, nats_url, namespace, ADMIN_TOKEN=TOKEN) as (client, _):
        def post(strategy: str, body: Any) -> Any:
            return client.post(f"/admin/strategies/{strategy}/go-live", json=body, headers=AUTH)

        same = post("bonding", {"approver": "Alice ", "secondApprover": "alice", "capitalAllocationUsd": 10})
        assert (same.status_code, same.json()["error"]) == (400, "Second approver must be different person")
        empty = post("bonding", {"approver": "", "secondApprover": "b", "capitalAllocationUsd": 10})
        assert empty.json()["error"] == "Two-person approval required"
        capital = post("bonding", {"approver": "a", "secondApprover": "b", "capitalAllocationUsd": 0})
        assert capital.json()["error"] == "Valid capital allocation required"
        huge = post("bonding", {"approver": "a", "secondApprover": "b", "capitalAllocationUsd": 1e30})
        assert (huge.status_code, huge.json()["code"]) == (400, "invalid_capital")  # was a 500 (ADR 0495)
        unknown = post("nope", {"approver": "a", "secondApprover": "b", "capitalAllocationUsd": 10})
        assert (unknown.status_code, unknown.json()["code"]) == (404, "strategy_not_found")
        gate = post("bonding", {"approver": "a", "secondApprover": "b", "capitalAllocationUsd": 10})
        assert (gate.status_code, gate.json()["code"]) == (409, "phase_gate_not_passed")


def fresh_db_migrated(url: str) -> str:
    from paulp.adapters.migrate import migrate

    migrate(url)
    return url


# ----------------------------------------------------------------- 4. IP allowlist trusts a header


def test_weakness_04_ip_allowlist_ignores_header_from_untrusted_peer(module_db: str, nats_url: str,
                                                                    module_ns: str) -> None:
    config = {"ADMIN_TOKEN": TOKEN, "ADMIN_ALLOWED_IPS": "203.0.113.0/24,2001:db8::1"}
    with app_client(module_db, nats_url, module_ns, peer=("198.51.100.9", 1), **config) as (client, _):
        assert client.get("/admin/x", headers={**AUTH, "cf-connecting-ip": "203.0.113.10"}).status_code == 403
    with app_client(module_db, nats_url, module_ns, **config) as (client, _):  # loopback proxy: header believed
        assert client.get("/admin/x", headers={**AUTH, "cf-connecting-ip": "203.0.113.10"}).status_code == 404
        assert client.get("/admin/x", headers={**AUTH, "cf-connecting-ip": "2001:db8:0:0:0::1"}).status_code == 404


# ----------------------------------------------------------------- 5. Access JWT


def test_weakness_05_bad_tokens_do_not_amplify_into_key_fetches() -> None:
    signer, attacker = Signer("k1"), Signer("k1")
    now = [1000.0]
    with fake_jwks(signer.jwks()) as certs:
        verifier = AccessVerifier(TEAM, AUDIENCE, certs.url, clock=lambda: now[0])

        async def attempt(token: str) -> str:
            try:
                await verifier.verify(token)
            except AccessJwtInvalid as exc:
                return exc.reason
            return "ok"

        async def scenario() -> list[str]:
            results = [await attempt(signer.token())]
            results += [await attempt(attacker.token()) for _ in range(20)]  # known kid, wrong key
            results += [await attempt(attacker.token(kid=f"unknown-{i}")) for i in range(20)]
            return results

        results = asyncio.run(scenario())
        assert results[0] == "ok" and set(results[1:]) == {"signature"}
        assert certs.hits == 2  # the first fill, then one forced refresh for an unknown kid within 60 s
        now[0] += 61
        asyncio.run(attempt(attacker.token(kid="unknown-late")))
        assert certs.hits == 3


def test_weakness_05_missing_email_and_exp_are_401_with_generic_reasons(module_db: str, nats_url: str,
                                                                        module_ns: str) -> None:
    signer = Signer()
    with fake_jwks(signer.jwks()) as certs, app_client(
            module_db, nats_url, module_ns, ADMIN_TOKEN=TOKEN, CF_ACCESS_TEAM_DOMAIN=TEAM,
            CF_ACCESS_AUDIENCE=AUDIENCE, CF_ACCESS_CERTS_URL=certs.url) as (client, _):
        no_email = client.get("/admin/status", headers=access_headers(signer.token(email=None)))
        no_exp = client.get("/admin/status", headers=access_headers(signer.token(exp=None)))
        garbage = client.get("/admin/status", headers=access_headers("not.a.jwt"))
    assert (no_email.status_code, no_email.json()["message"]) == (401, "JWT validation failed: missing email claim")
    assert no_exp.json()["message"] == "JWT validation failed: malformed"
    assert garbage.json()["message"] == "JWT validation failed: malformed"


# ----------------------------------------------------------------- 8/10/15. webhook evidence, JSON, signatures


def _relay(client: Any, body: bytes, **headers: str) -> Any:
    return client.post("/webhooks/kalshi/events", content=body,
                       headers={"content-type": "application/json", "x-kalshi-webhook-secret": RELAY, **headers})


def test_weakness_08_webhook_payload_is_evidenced_before_parsing(fresh_db: str, nats_url: str, namespace: str,
                                                                 tmp_path: Path) -> None:
    raw = b'{"event_type": 42, "garbage"'
    with app_client(fresh_db, nats_url, namespace, KALSHI_WEBHOOK_SECRET=RELAY,
                    PAULP_EVIDENCE_DIR=str(tmp_path)) as (client, _):
        r = _relay(client, raw)
    assert (r.status_code, r.json()["code"]) == (400, "invalid_event")
    digest = hashlib.sha256(raw).hexdigest()
    stored = [p for p in tmp_path.rglob(digest)]
    assert len(stored) == 1 and stored[0].read_bytes() == raw


def test_webhook_number_too_long_for_python_is_400_not_500(fresh_db: str, nats_url: str, namespace: str,
                                                          tmp_path: Path) -> None:
    """Python refuses to read an integer of over 4300 digits with a ValueError that is not a JSONDecodeError."""
    raw = b'{"event_type": "fill", "payload": {"count": ' + b"9" * 5000 + b"}}"
    with app_client(fresh_db, nats_url, namespace, KALSHI_WEBHOOK_SECRET=RELAY,
                    PAULP_EVIDENCE_DIR=str(tmp_path)) as (client, _):
        r = _relay(client, raw)
    assert (r.status_code, r.json()["code"]) == (400, "invalid_event")


def test_weakness_10_malformed_webhook_json_is_400_not_500(fresh_db: str, nats_url: str, namespace: str) -> None:
    with app_client(fresh_db, nats_url, namespace, WEBHOOK_TRIGGER_TOKEN=TRIGGER) as (client, _):
        r = client.post("/webhooks/alert", content=b"{not json", headers={"Authorization": f"Bearer {TRIGGER}"})
    assert (r.status_code, r.json()["code"]) == (400, "invalid_json")


def test_weakness_15_relay_signature_replay_window_and_idempotency(fresh_db: str, nats_url: str, namespace: str,
                                                                   tmp_path: Path) -> None:
    update = json.dumps({"event_type": "order_update",
                         "payload": {"orderId": "o-1", "status": "filled", "filledCount": 3}}).encode()
    now = str(int(time.time()))
    with app_client(fresh_db, nats_url, namespace, WEBHOOK_SHARED_SECRET=RELAY,
                    PAULP_EVIDENCE_DIR=str(tmp_path)) as (client, _):
        signed = _relay(client, update, **{"x-webhook-timestamp": now,
                                           "x-webhook-signature": signature(RELAY, now, update)})
        assert signed.json() == {"received": True, "duplicate": False}
        assert _relay(client, update).json() == {"received": True, "duplicate": True}
        forged = _relay(client, update, **{"x-webhook-timestamp": now, "x-webhook-signature": "00" * 32})
        assert (forged.status_code, forged.json()["code"]) == (401, "webhook_signature")
        old = str(int(time.time()) - 301)
        stale = _relay(client, update, **{"x-webhook-timestamp": old,
                                          "x-webhook-signature": signature(RELAY, old, update)})
        assert (stale.status_code, stale.json()["code"]) == (401, "webhook_replay")
        bad_payload = _relay(client, json.dumps({"event_type": "fill", "payload": {"orderId": "o"}}).encode())
        assert (bad_payload.status_code, bad_payload.json()["code"]) == (400, "invalid_event")
        unknown = _relay(client, json.dumps({"event_type": "mystery", "payload": {}}).encode())
        assert unknown.json() == {"received": True, "ignored": True}
        wrong = client.post("/webhooks/kalshi/events", content=update,
                            headers={"x-kalshi-webhook-secret": "nope", "x-webhook-secret": RELAY})
        assert wrong.status_code == 401  # the fallback header counts only when the first is absent
    with app_client(fresh_db, nats_url, namespace, KALSHI_WEBHOOK_SECRET=RELAY, WEBHOOK_REQUIRE_SIGNATURE=True,
                    PAULP_EVIDENCE_DIR=str(tmp_path)) as (client, _):
        assert _relay(client, update).json()["code"] == "webhook_signature"
    with psycopg.connect(fresh_db) as conn:
        rows = conn.execute("SELECT event_type, evidence_hash FROM webhook_inbox").fetchall()
    assert rows == [("order_update", hashlib.sha256(update).hexdigest())]
    with psycopg.connect(fresh_db) as conn:  # the accepted body is indexed as evidence, once per fetch
        blobs = conn.execute("SELECT evidence_hash, source FROM evidence_blobs").fetchall()
        fetches = conn.execute("SELECT count(*) FROM evidence_fetches").fetchone()[0]
    assert blobs == [(hashlib.sha256(update).hexdigest(), "kalshi_webhook")] and fetches == 2


# ----------------------------------------------------------------- 9. dashboard always zero



def test_weakness_09_dashboard_reads_breaker_from_its_projection(fresh_db: str, nats_url: str,
                                                                 namespace: str) -> None:
    with app_client(fresh_db, nats_url, namespace, ADMIN_TOKEN=TOKEN) as (client, container):
        container.breaker.transition("HALT", "drill", "tester")
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            catch_up_from_log(conn, container.projections["breaker_state"])
        body = client.get("/dashboard/summary", headers=AUTH).json()
        quality = client.get("/dashboard/execution-quality", headers=AUTH).json()
    assert (body["circuit_breaker_state"], body["circuit_breaker_triggered"]) == ("HALT", True)
    assert body["last_circuit_breaker_time"] is not None
    assert body["daily_loss_remaining_budget"] == 7.5 and body["account_status"] == "NORMAL"
    assert quality["grade_distribution"] is None and quality["total_orders"] == 0


# ----------------------------------------------------------------- 11/12. failures as success; global mode


def test_weakness_11_trigger_job_failure_is_not_reported_as_success(fresh_db: str, nats_url: str,
                                                                    namespace: str) -> None:
    def broken_ingest(actor: str) -> dict[str, Any]:
        raise RuntimeError("ingest exploded: secret-ish detail")

    with app_client(fresh_db, nats_url, namespace, WEBHOOK_TRIGGER_TOKEN=TRIGGER) as (client, container):
        container.jobs.jobs["ingest"] = broken_ingest  # the real runner, with a job that crashes
        r = client.post("/webhooks/trigger/ingest", headers={"Authorization": f"Bearer {TRIGGER}"})
        unknown = client.post("/webhooks/trigger/nope", headers={"Authorization": f"Bearer {TRIGGER}"})
        unauth = client.post("/webhooks/trigger/nope")
    assert r.status_code == 502 and r.json()["success"] is False and "exploded" not in r.text
    assert (unknown.status_code, unauth.status_code) == (404, 401)


def test_weakness_12_execution_mode_is_per_strategy(fresh_db: str, nats_url: str, namespace: str) -> None:
    with app_client(fresh_db, nats_url, namespace, ADMIN_TOKEN=TOKEN) as (client, container):
        before = client.get("/exec/kalshi/mode", headers=AUTH).json()
        service = GoLiveService(application_env(fresh_db), container.clock)
        try:
            terms = GoLiveTerms("alice", "bob", 10_000)
            service.approve("weather", terms, "token:alice", "r1", AllChecksPass())
            service.approve("weather", terms, "token:bob", "r2", AllChecksPass())
        finally:
            service.close()
        after = client.get("/exec/kalshi/mode", headers=AUTH).json()
        ibkr = client.get("/exec/ibkr/mode", headers=AUTH).json()
    assert before["mode"] == "PAPER" and before["strategies"]["weather"] == "PAPER"
    assert after["mode"] == "LIVE"
    assert after["strategies"] == {"bonding": "PAPER", "weather": "LIVE", "xv_signal": "DISABLED",
                                   "smart_money": "DISABLED", "resolution": "DISABLED"}
    assert (ibkr["mode"], ibkr["strategies"]) == (after["mode"], after["strategies"])  # hedges follow them


# ----------------------------------------------------------------- 14. gate criteria (phase parsing)


@pytest.mark.parametrize("phase,status", [("1", 200), ("4", 200), ("3abc", 400), ("0", 400), ("5", 400),
                                          (" 2", 400), ("02", 400)])
def test_weakness_14_gate_phase_is_parsed_strictly(module_db: str, nats_url: str, module_ns: str, phase: str,
                                                   status: int) -> None:
    with app_client(module_db, nats_url, module_ns, ADMIN_TOKEN=TOKEN) as (client, _):
        r = client.get(f"/admin/gates/criteria/{phase}", headers=AUTH)
    assert r.status_code == status
    if status == 400:
        assert r.json() == {"error": "Invalid phase. Must be 1, 2, 3, or 4", "code": "invalid_phase"}
    else:
        body = r.json()
        assert body["targetPhase"] == min(int(phase) + 1, 4)
        assert body["criteriaCount"] == len(body["criteria"]) == 7 + (phase == "1")
