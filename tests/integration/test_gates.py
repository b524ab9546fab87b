"""/admin/gates over HTTP with real PostgreSQL, NATS, projectors and a loopback Kalshi exchange (§1.3, §6).

Facts are made through the real sources: venue orders and market outcomes through their services, a
drift sweep through the routing service, the venue balance through a signed call to the fake exchange.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from paulp.api.wiring import Container
from paulp.domain.clock import iso_utc
from paulp.domain.gate_criteria import CRITERIA
from paulp.domain.governance import SweepSample
from tests.fakes.kalshi_exchange import FakeKalshiExchange
from tests.integration.helpers import max_notification_id, wait_tracked, workers
from tests.integration.kalshi_system import pem
from tests.security.support import app_client

pytestmark = pytest.mark.integration

TOKEN = "gates-admin-token-0123456789abcdefghij"
OTHER = "gates-other-token-0123456789abcdefghij"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
KEY_ID = str(uuid.uuid4())
GO_LIVE = {"approver": "Alice", "secondApprover": "Bob", "capitalAllocationUsd": 1000}


@pytest.fixture
def api(fresh_db: str, nats_url: str, namespace: str, tmp_path: Path) -> Iterator[tuple[TestClient, Container]]:
    with app_client(fresh_db, nats_url, namespace, ADMIN_TOKEN=TOKEN, ADMIN_TOKENS=f"bob={OTHER}",
                    PAULP_EVIDENCE_DIR=str(tmp_path / "evidence"), PAULP_MARKS=False) as (client, container):
        with workers(container):
            yield client, container


def settle(container: Container) -> None:
    """Wait until every projection has applied the whole log (never a bare sleep)."""
    container.routing.flush()
    head = max_notification_id(container.database_url)
    for name in container.projections:
        wait_tracked(container.database_url, name, head)


# ------------------------------------------------------------------ validation and shape


@pytest.mark.parametrize("phase", ["0", "5", "3abc", "1.0", "-1", "01", "%201"])
def test_phase_when_not_exactly_1_to_4_then_400_invalid_phase_everywhere(api: Any, phase: str) -> None:
    client, _ = api
    for response in (client.get(f"/admin/gates/verify/{phase}", headers=AUTH),
                     client.post(f"/admin/gates/signoff/{phase}", headers=AUTH, json={"force": True, "notes": "x"}),
                     client.get(f"/admin/gates/signoff/{phase}", headers=AUTH)):
        assert response.status_code == 400
        assert response.json() == {"error": "Invalid phase. Must be 1, 2, 3, or 4", "code": "invalid_phase"}
    assert client.get("/admin/gates/signoffs", headers=AUTH).json() == {"count": 0, "signoffs": []}


def test_gates_when_unauthenticated_then_401_before_routing(api: Any) -> None:
    client, _ = api
    assert client.get("/admin/gates/verify/1").status_code == 401
    assert client.post("/admin/gates/signoff/1", json={}).status_code == 401


def test_verify_when_called_then_spec_shape_with_actor_and_real_facts(api: Any) -> None:
    client, _ = api
    r = client.get("/admin/gates/verify/1", headers=AUTH)
    assert r.status_code == 200
    body = r.json()
    assert (body["phase"], body["targetPhase"], body["checkedBy"]) == (1, 2, "api-token-user")
    assert [x["criterionId"] for x in body["results"]] == [c.id for c in CRITERIA[1]]
    by_id = {x["criterionId"]: x for x in body["results"]}
    assert by_id["P1_MIGRATIONS_APPLIED"]["passed"] and by_id["P1_MIGRATIONS_APPLIED"]["actualValue"] >= 16
    assert by_id["P1_LLM_REGRESSION_TESTS"]["actualValue"] == 70
    assert not by_id["P1_CLV_SIGN_VALIDATION"]["passed"]  # suite clv never run here: fails closed
    assert "Not verifiable" in by_id["P1_CLV_SIGN_VALIDATION"]["message"]
    assert body["passed"] is False and body["summary"]["requiredFailed"] == len(body["blockingFailures"])
    assert client.get("/admin/gates/verify/4", headers={"Authorization": f"Bearer {OTHER}"}).json()[
        "checkedBy"] == "token:bob"


def test_verify_when_a_source_is_unreadable_then_500_gate_check_failed_without_internals(api: Any) -> None:
    client, container = api
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE views.breaker_transitions RENAME TO breaker_transitions_gone")
    r = client.get("/admin/gates/verify/3", headers=AUTH)
    assert r.status_code == 500
    body = r.json()
    assert (body["error"], body["code"]) == ("Gate check failed", "gate_check_failed")
    assert "breaker_transitions" not in body["message"] and body["request_id"]


# ------------------------------------------------------------------ signoffs


def test_signoff_when_gate_failed_and_not_forced_then_400_with_gate_result_and_nothing_stored(api: Any) -> None:
    client, _ = api
    for body in ({}, {"force": False, "notes": "please"}, None):
        r = client.post("/admin/gates/signoff/2", headers=AUTH, json=body) if body is not None else \
            client.post("/admin/gates/signoff/2", headers=AUTH)  # empty body counts as {}
        assert r.status_code == 400
        out = r.json()
        assert (out["error"], out["code"]) == ("Gate verification failed", "gate_not_passed")
        assert out["message"] == "Cannot sign off on failed gate. Use force=true to override."
        assert out["gateResult"]["phase"] == 2 and out["gateResult"]["passed"] is False
        assert out["gateResult"]["checkedBy"] == "api-token-user"
    assert client.get("/admin/gates/signoffs", headers=AUTH).json()["count"] == 0


@pytest.mark.parametrize("body,fields", [({"force": "true", "notes": "x"}, ["force"]),
                                         ({"force": True, "notes": 5}, ["notes"]),
                                         ({"force": 1, "notes": ["x"]}, ["notes", "force"]),
                                         ({"force": True, "notes": "x" * 4001}, ["notes"])])
def test_signoff_when_body_fields_have_wrong_types_then_400_validation_error(api: Any, body: dict[str, Any],
                                                                          fields: list[str]) -> None:
    client, _ = api
    r = client.post("/admin/gates/signoff/1", headers=AUTH, json=body)
    assert (r.status_code, r.json()["code"], r.json()["fields"]) == (400, "validation_error", fields)
    bad = client.post("/admin/gates/signoff/1", headers={**AUTH, "content-type": "application/json"}, content=b"{")
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_json")


@pytest.mark.parametrize("notes", [None, "", "   "])
def test_signoff_when_forced_without_notes_then_400_notes_required(api: Any, notes: str | None) -> None:
    client, _ = api
    body = {"force": True} if notes is None else {"force": True, "notes": notes}
    r = client.post("/admin/gates/signoff/3", headers=AUTH, json=body)
    assert (r.status_code, r.json()["code"]) == (400, "notes_required")
    assert client.get("/admin/gates/signoffs", headers=AUTH).json()["count"] == 0


def test_signoffs_when_forced_with_notes_then_warning_and_latest_and_list_newest_first(api: Any) -> None:
    client, _ = api
    assert client.get("/admin/gates/signoff/1", headers=AUTH).status_code == 404
    missing = client.get("/admin/gates/signoff/1", headers=AUTH).json()
    assert missing["message"] == "No signoff found for phase 1" and missing["code"] == "signoff_not_found"
    made = []
    for phase, actor_token in (("1", TOKEN), ("2", OTHER), ("1", OTHER)):
        r = client.post(f"/admin/gates/signoff/{phase}", headers={"Authorization": f"Bearer {actor_token}"},
                        json={"force": True, "notes": f"drill {phase}"})
        assert r.status_code == 200
        out = r.json()
        assert out["success"] is True and out["warning"] == "FORCED: Gate was signed off despite failing criteria"
        s = out["signoff"]
        assert set(s) == {"id", "phase", "targetPhase", "signedOffBy", "signedOffAt", "gateResult", "notes",
                          "forced"}
        assert (s["phase"], s["targetPhase"], s["forced"], s["notes"]) == (int(phase), int(phase) + 1, True,
                                                                         f"drill {phase}")
        assert s["gateResult"]["passed"] is False and s["gateResult"]["checkedBy"] == s["signedOffBy"]
        made.append(s)
    assert [m["signedOffBy"] for m in made] == ["api-token-user", "token:bob", "token:bob"]
    latest = client.get("/admin/gates/signoff/1", headers=AUTH)  # read-your-writes: the POST waited
    assert latest.status_code == 200 and latest.json() == made[2]
    assert client.get("/admin/gates/signoff/2", headers=AUTH).json() == made[1]
    listed = client.get("/admin/gates/signoffs", headers=AUTH).json()
    assert listed["count"] == 3 and [s["id"] for s in listed["signoffs"]] == [m["id"] for m in reversed(made)]


# ------------------------------------------------------------------ phase 4 and go-live


def seed_phase4_pass(container: Container, now: datetime) -> None:
    """10 bonding orders (9 winners) and 20 weather predictions (11 right), all resolved after placement,
    plus a drift sweep that allowed deployment."""
    placed = iso_utc(now - timedelta(days=2))
    for i in range(30):
        strategy, ticker = ("bonding", f"BOND-{i}") if i < 10 else ("weather", f"WX-{i}")
        right = i != 0 if i < 10 else i < 21
        container.execution.record_venue_order("kalshi", {
            "order_id": f"gate-{i}", "ticker": ticker, "side": "yes", "status": "paper_filled", "fill_count": 10,
            "fill_price": 93 if strategy == "bonding" else 40, "source_strategy": strategy,
            "execution_mode": "PAPER", "created_at": placed})
        container.markets.resolve(ticker, "YES" if right else "NO", now - timedelta(days=1), None)
    report, stored = container.routing.record_drift_sweep([SweepSample(0.9, None)] * 5)
    assert stored and not report.drift_warning


def test_phase4_when_unforced_signoff_passes_then_go_live_gate_opens(fresh_db: str, nats_url: str, namespace: str,
                                                                     tmp_path: Path, key: rsa.RSAPrivateKey) -> None:
    with FakeKalshiExchange(key.public_key(), KEY_ID, balance_cents=80_000) as exchange, \
            app_client(fresh_db, nats_url, namespace, ADMIN_TOKEN=TOKEN, PAULP_MARKS=False,
                       PAULP_EVIDENCE_DIR=str(tmp_path / "evidence"), KALSHI_BASE_URL=exchange.base_url,
                       KALSHI_API_KEY=KEY_ID, KALSHI_PRIVATE_KEY=pem(key)) as (client, container), \
            workers(container):
        blocked = client.post("/admin/strategies/bonding/go-live", headers=AUTH, json=GO_LIVE)
        assert (blocked.status_code, blocked.json()["code"]) == (409, "phase_gate_not_passed")
        seed_phase4_pass(container, datetime.now(UTC))
        settle(container)
        verified = client.get("/admin/gates/verify/4", headers=AUTH).json()
        assert verified["passed"] is True, verified["blockingFailures"]
        by_id = {x["criterionId"]: x for x in verified["results"]}
        assert (by_id["P4_BONDING_WIN_RATE_90"]["actualValue"], by_id["P4_WEATHER_OOS_55"]["actualValue"]) == \
            ("90.0%", "55.0%")
        assert by_id["P4_CAPITAL_800_ALLOCATED"]["actualValue"] == 800.0
        balance_calls = [r for r in exchange.requests if r.path.endswith("/portfolio/balance")]
        assert balance_calls and all(r.verified for r in balance_calls)  # signed with our key
        signed = client.post("/admin/gates/signoff/4", headers=AUTH, json={"notes": "ready"})
        assert signed.status_code == 200 and "warning" not in signed.json()
        s = signed.json()["signoff"]
        assert (s["phase"], s["targetPhase"], s["forced"], s["gateResult"]["passed"]) == (4, 4, False, True)
        opened = client.post("/admin/strategies/bonding/go-live", headers=AUTH, json=GO_LIVE)
        assert opened.status_code == 202 and opened.json()["status"] == "pending_second_approval"


def test_phase4_when_only_forced_signoff_then_go_live_still_409(api: Any) -> None:
    client, container = api
    seed_phase4_pass(container, datetime.now(UTC))  # everything but the venue: no Kalshi credentials here
    settle(container)
    verified = client.get("/admin/gates/verify/4", headers=AUTH).json()
    assert [x["criterionId"] for x in verified["blockingFailures"]] == ["P4_CAPITAL_800_ALLOCATED",
                                                                        "P4_KALSHI_CREDENTIALS_VALID"]
    refused = client.post("/admin/gates/signoff/4", headers=AUTH, json={"notes": "no keys yet"})
    assert refused.status_code == 400
    forced = client.post("/admin/gates/signoff/4", headers=AUTH, json={"force": True, "notes": "attested"})
    assert forced.status_code == 200 and forced.json()["signoff"]["forced"] is True
    assert forced.json()["signoff"]["targetPhase"] == 4
    blocked = client.post("/admin/strategies/bonding/go-live", headers=AUTH, json=GO_LIVE)
    assert (blocked.status_code, blocked.json()["code"]) == (409, "phase_gate_not_passed")
