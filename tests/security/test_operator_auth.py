"""Operator auth (api-and-security §2.1-2.6, §2.8) over HTTP on the real app, real PostgreSQL.

Every log record emitted while this module runs is captured; the last test asserts none of them holds a
token, secret, JWT or private-key material.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from tests.fakes.jwks import fake_jwks
from tests.fakes.turnstile import fake_turnstile
from tests.security.support import AUDIENCE, TEAM, Signer, access_headers, app_client

pytestmark = pytest.mark.integration

TOKEN = "admin-token-for-auth-tests-0123456789"
ALICE, BOB = "alice-token-abcdefghijklmnopqrstuvwxyz01", "bob-token-abcdefghijklmnopqrstuvwxyz0123"
TURNSTILE_SECRET = "turnstile-secret-value-0123456789"
TURNSTILE_TOKEN = "turnstile-client-token-9876543210"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SIGNER = Signer()
SECRETS: list[str] = [TOKEN, ALICE, BOB, TURNSTILE_SECRET, TURNSTILE_TOKEN]
CAPTURED: list[logging.LogRecord] = []


class _Capture(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        CAPTURED.append(record)


@pytest.fixture(scope="module", autouse=True)
def capture_all_logs() -> Iterator[None]:
    handler, root = _Capture(level=logging.DEBUG), logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield
    root.removeHandler(handler)
    root.setLevel(previous)


@pytest.fixture
def client_for(module_db: str, nats_url: str, module_ns: str) -> Iterator[Any]:
    stack: list[Any] = []

    def make(peer: tuple[str, int] = ("127.0.0.1", 50000), **config: Any) -> Any:
        ctx = app_client(module_db, nats_url, module_ns, peer=peer, **config)
        client, _ = ctx.__enter__()
        stack.append(ctx)
        return client

    yield make
    for ctx in reversed(stack):
        ctx.__exit__(None, None, None)


def _token(**kw: Any) -> str:
    value = SIGNER.token(**kw)
    SECRETS.append(value)
    return value


# ----------------------------------------------------------------- path A: bearer


def test_bearer_when_token_matches_then_passes_and_unknown_path_is_404(client_for: Any) -> None:
    client = client_for(ADMIN_TOKEN=TOKEN)
    assert client.get("/admin/status", headers=AUTH).status_code == 200
    assert client.get("/admin/nope", headers=AUTH).status_code == 404
    assert client.get("/exec/nope", headers=AUTH).status_code == 404
    assert client.get("/dashboard/nope", headers=AUTH).status_code == 404


@pytest.mark.parametrize(("method", "path"), [("GET", "/admin/reconcile"), ("DELETE", "/admin/status"),
                                              ("GET", "/webhooks/alert"), ("PUT", "/health/live")])
def test_known_path_when_method_not_served_then_404_not_found_body(client_for: Any, method: str,
                                                                    path: str) -> None:
    """§1.1: a request no route matches (method and path) is 404 Not found, as the reference's router."""
    client = client_for(ADMIN_TOKEN=TOKEN)
    r = client.request(method, path, headers=AUTH)
    assert r.status_code == 404
    assert (r.json()["error"], r.json()["path"], r.json()["code"]) == ("Not found", path, "not_found")
    if path.startswith("/admin"):
        assert client.request(method, path).status_code == 401  # authentication still runs first


@pytest.mark.parametrize("path,message", [
    ("/admin/nope", "Admin routes require Authorization bearer token or Cloudflare Access (email + JWT headers)"),
    ("/exec/kalshi/mode", "Authentication required. Provide Authorization: Bearer <token> or Cloudflare Access "
                          "headers."),
    ("/dashboard/summary", None),
])
def test_bearer_when_wrong_then_401_with_prefix_message(client_for: Any, path: str, message: str | None) -> None:
    client = client_for(ADMIN_TOKEN=TOKEN)
    r = client.get(path, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    assert r.json()["error"] == "Unauthorized" and r.json()["code"] == "auth_required"
    assert r.json().get("message") == message


@pytest.mark.parametrize("header", ["bearer " + TOKEN, "Bearer  " + TOKEN, "Bearer " + TOKEN + " ", TOKEN, "Bearer "])
def test_bearer_when_not_exact_scheme_or_token_then_401(client_for: Any, header: str) -> None:
    client = client_for(ADMIN_TOKEN=TOKEN)
    assert client.get("/admin/status", headers={"Authorization": header}).status_code == 401


def test_bearer_when_no_token_configured_then_every_operator_route_401(client_for: Any) -> None:
    client = client_for()
    for header in ("Bearer ", "Bearer x"):
        assert client.get("/admin/status", headers={"Authorization": header}).status_code == 401


def test_app_when_no_operator_auth_then_warns_once_and_with_a_token_not_at_all(
        client_for: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="paulp.api"):
        client_for()
        client_for(ADMIN_TOKEN="x" * 32)
    said = [r for r in caplog.records if "no operator auth configured" in r.getMessage()]
    assert len(said) == 1


def test_named_tokens_when_used_then_actor_is_token_name(fresh_db: str, nats_url: str, namespace: str) -> None:
    with app_client(fresh_db, nats_url, namespace, ADMIN_TOKENS=f"alice={ALICE}, bob:{BOB}") as (client, _):
        r = client.post("/admin/circuit-breaker/transition", json={"targetState": "CAUTION", "reason": "drill"},
                        headers={"Authorization": f"Bearer {BOB}"})
        assert r.status_code == 200, r.text
        assert client.get("/admin/status", headers={"Authorization": f"Bearer {ALICE}"}).status_code == 200
    import psycopg

    with psycopg.connect(fresh_db) as conn:
        rows = conn.execute("SELECT state FROM paulp_events ORDER BY notification_id").fetchall()
    assert b"token:bob" in b"".join(bytes(r[0]) for r in rows)


# ----------------------------------------------------------------- path B: Cloudflare Access


def _access_config(url: str, **extra: Any) -> dict[str, Any]:
    return {"ADMIN_TOKEN": TOKEN, "CF_ACCESS_TEAM_DOMAIN": TEAM, "CF_ACCESS_AUDIENCE": AUDIENCE,
            "CF_ACCESS_CERTS_URL": url, **extra}


def test_access_when_jwt_valid_then_passes(client_for: Any) -> None:
    with fake_jwks(SIGNER.jwks()) as certs:
        client = client_for(**_access_config(certs.url))
        assert client.get("/admin/status", headers=access_headers(_token())).status_code == 200
        assert client.get("/admin/nope", headers=access_headers(_token(), email="OPERATOR@example.com")).status_code \
            == 404


def test_access_when_jwt_missing_then_401_before_configuration_check(client_for: Any) -> None:
    client = client_for(ADMIN_TOKEN=TOKEN)
    r = client.get("/admin/status", headers={"cf-access-authenticated-user-email": "operator@example.com"})
    assert (r.status_code, r.json()["code"]) == (401, "cf_access_jwt_missing")
    assert r.json()["message"] == "Cloudflare Access JWT assertion is required"


def test_access_when_not_configured_then_500_server_configuration_error(client_for: Any) -> None:
    client = client_for(ADMIN_TOKEN=TOKEN, ADMIN_ALLOWED_EMAILS="operator@example.com")
    r = client.get("/admin/status", headers=access_headers("whatever"))
    assert r.status_code == 500
    assert r.json() == {"error": "Server Configuration Error", "code": "cf_access_not_configured",
                        "message": "CF Access JWT validation not configured. Contact administrator."}


@pytest.mark.parametrize("overrides,reason", [
    ({"exp": 1_000_000_000}, "expired"),
    ({"exp": None}, "malformed"),
    ({"aud": ["other-aud"]}, "audience"),
    ({"iss": "https://evil.example.com"}, "issuer"),
    ({"email": None}, "missing email claim"),
])
def test_access_when_claims_bad_then_401_with_reason_class(client_for: Any, overrides: dict[str, Any],
                                                           reason: str) -> None:
    with fake_jwks(SIGNER.jwks()) as certs:
        client = client_for(**_access_config(certs.url))
        r = client.get("/admin/status", headers=access_headers(_token(**overrides)))
    assert (r.status_code, r.json()["code"]) == (401, "cf_access_jwt_invalid")
    assert r.json()["message"] == f"JWT validation failed: {reason}"


def test_access_when_issuer_host_differs_in_case_then_accepted(client_for: Any) -> None:
    with fake_jwks(SIGNER.jwks()) as certs:
        client = client_for(**_access_config(certs.url))
        r = client.get("/admin/status", headers=access_headers(_token(iss=f"https://{TEAM.upper()}")))
    assert r.status_code == 200


def test_access_when_alg_not_rs256_then_signature_failure(client_for: Any) -> None:
    forged = jwt.encode({"email": "operator@example.com", "aud": [AUDIENCE], "iss": f"https://{TEAM}",
                         "exp": 4102444800}, "k" * 32, algorithm="HS256", headers={"kid": SIGNER.kid})
    unsigned = jwt.encode({"email": "operator@example.com"}, None, algorithm="none")
    SECRETS.extend([forged, unsigned])
    with fake_jwks(SIGNER.jwks()) as certs:
        client = client_for(**_access_config(certs.url))
        for token in (forged, unsigned):
            r = client.get("/admin/status", headers=access_headers(token))
            assert r.status_code == 401 and r.json()["message"] == "JWT validation failed: signature"


def test_access_when_email_header_differs_then_401_mismatch(client_for: Any) -> None:
    with fake_jwks(SIGNER.jwks()) as certs:
        client = client_for(**_access_config(certs.url))
        r = client.get("/admin/status", headers=access_headers(_token(), email="other@example.com"))
    assert (r.status_code, r.json()["code"]) == (401, "cf_access_email_mismatch")


def test_access_when_keys_unavailable_then_401_keys_unavailable(client_for: Any) -> None:
    with fake_jwks({"error": "down"}, status=503) as certs:
        client = client_for(**_access_config(certs.url))
        r = client.get("/admin/status", headers=access_headers(_token()))
    assert r.json()["message"] == "JWT validation failed: keys_unavailable"


@pytest.mark.parametrize("path,message", [
    ("/admin/status", "Authenticated user is not allowed for admin access"),
    ("/exec/kalshi/mode", "Authenticated user is not allowed for exec access"),
    ("/dashboard/summary", "User not in email allowlist"),
])
def test_email_allowlist_when_user_absent_then_403(client_for: Any, path: str, message: str) -> None:
    with fake_jwks(SIGNER.jwks()) as certs:
        client = client_for(**_access_config(certs.url, ADMIN_ALLOWED_EMAILS=" Admin@Example.com ,"))
        r = client.get(path, headers=access_headers(_token()))
        assert (r.status_code, r.json()["message"], r.json()["code"]) == (403, message, "email_not_allowed")
        allowed = access_headers(_token(email="admin@example.com"), email="ADMIN@example.com")
        assert client.get("/admin/nope", headers=allowed).status_code == 404
        assert client.get("/admin/nope", headers=AUTH).status_code == 404  # bearer callers are never e-mail-checked


# ----------------------------------------------------------------- IP allowlist and trusted proxies


@pytest.mark.parametrize("allowed,forwarded,status", [
    ("203.0.113.0/24", "203.0.113.77", 404),
    ("203.0.113.0/24", "203.0.114.1", 403),
    ("2001:db8::1", "2001:DB8:0:0::1", 404),
    ("2001:db8::/32", "2001:db8:ffff::9", 404),
    ("203.0.113.10", "::ffff:203.0.113.10", 404),
    ("::ffff:203.0.113.10", "203.0.113.10", 404),
    ("203.0.113.10", "not-an-ip", 403),
])
def test_ip_allowlist_when_forwarded_by_trusted_proxy_then_canonical_match(client_for: Any, allowed: str,
                                                                           forwarded: str, status: int) -> None:
    client = client_for(ADMIN_TOKEN=TOKEN, ADMIN_ALLOWED_IPS=allowed)
    r = client.get("/admin/nope", headers={**AUTH, "cf-connecting-ip": forwarded})
    assert r.status_code == status


def test_ip_allowlist_when_trusted_proxy_sends_no_header_then_ip_unavailable(client_for: Any) -> None:
    client = client_for(ADMIN_TOKEN=TOKEN, ADMIN_ALLOWED_IPS="203.0.113.10")
    r = client.get("/admin/nope", headers=AUTH)
    assert r.status_code == 403
    assert r.json() == {"error": "Forbidden", "code": "ip_unavailable",
                        "message": "Client IP unavailable for allowlist check"}


def test_ip_allowlist_when_x_forwarded_for_only_then_first_hop_used(client_for: Any) -> None:
    client = client_for(ADMIN_TOKEN=TOKEN, ADMIN_ALLOWED_IPS="203.0.113.10")
    ok = client.get("/admin/nope", headers={**AUTH, "x-forwarded-for": "203.0.113.10, 10.0.0.1"})
    denied = client.get("/admin/nope", headers={**AUTH, "x-forwarded-for": "10.0.0.1, 203.0.113.10"})
    assert (ok.status_code, denied.status_code) == (404, 403)


def test_ip_allowlist_when_peer_untrusted_then_forwarded_header_ignored(client_for: Any) -> None:
    spoofed = client_for(peer=("198.51.100.7", 4000), ADMIN_TOKEN=TOKEN, ADMIN_ALLOWED_IPS="203.0.113.10")
    r = spoofed.get("/admin/nope", headers={**AUTH, "cf-connecting-ip": "203.0.113.10"})
    assert (r.status_code, r.json()["message"]) == (403, "Client IP is not in admin allowlist")
    direct = client_for(peer=("203.0.113.10", 4000), ADMIN_TOKEN=TOKEN, ADMIN_ALLOWED_IPS="203.0.113.10")
    assert direct.get("/admin/nope", headers={**AUTH, "cf-connecting-ip": "198.51.100.1"}).status_code == 404


def test_ip_allowlist_when_exec_denied_then_generic_message(client_for: Any) -> None:
    client = client_for(ADMIN_TOKEN=TOKEN, ADMIN_ALLOWED_IPS="203.0.113.10")
    r = client.get("/exec/nope", headers={**AUTH, "cf-connecting-ip": "198.51.100.20"})
    assert (r.status_code, r.json()["message"], r.json()["code"]) == (403, "Client IP is not in allowlist",
                                                                       "ip_not_allowed")


# ----------------------------------------------------------------- Turnstile


BAD_TRANSITION = {"targetState": "PANIC", "reason": "x"}  # a 400 from the route proves auth passed


def test_turnstile_when_mutation_without_token_then_401_required(client_for: Any) -> None:
    with fake_turnstile() as ts:
        client = client_for(ADMIN_TOKEN=TOKEN, ADMIN_TURNSTILE_SECRET=TURNSTILE_SECRET,
                            ADMIN_TURNSTILE_VERIFY_URL=ts.url)
        r = client.post("/admin/circuit-breaker/transition", json=BAD_TRANSITION, headers=AUTH)
        assert (r.status_code, r.json()["code"]) == (401, "turnstile_required")
        assert r.json()["message"] == "Turnstile token required for mutating admin requests"
        assert client.get("/admin/nope", headers=AUTH).status_code == 404  # reads need no Turnstile
        assert ts.forms == []


def test_turnstile_when_token_verifies_then_request_proceeds_with_remoteip(client_for: Any) -> None:
    with fake_turnstile({"success": True}) as ts:
        client = client_for(ADMIN_TOKEN=TOKEN, ADMIN_TURNSTILE_SECRET=TURNSTILE_SECRET,
                            ADMIN_TURNSTILE_VERIFY_URL=ts.url)
        headers = {**AUTH, "x-turnstile-token": TURNSTILE_TOKEN, "cf-connecting-ip": "203.0.113.5"}
        r = client.post("/admin/circuit-breaker/transition", json=BAD_TRANSITION, headers=headers)
        assert (r.status_code, r.json()["code"]) == (400, "invalid_target_state")
    assert ts.forms == [{"secret": TURNSTILE_SECRET, "response": TURNSTILE_TOKEN, "remoteip": "203.0.113.5"}]


@pytest.mark.parametrize("reply,status,message", [
    ({"success": False, "error-codes": ["timeout-or-duplicate", "invalid-input-response"]}, 200,
     "Turnstile verification failed (timeout-or-duplicate, invalid-input-response)"),
    ({"success": False}, 200, "Turnstile verification failed (invalid_token)"),
    ({"success": True}, 502, "Turnstile verification service unavailable"),
])
def test_turnstile_when_verification_fails_then_401(client_for: Any, reply: dict[str, Any], status: int,
                                                    message: str) -> None:
    with fake_turnstile(reply, status) as ts:
        client = client_for(ADMIN_TOKEN=TOKEN, ADMIN_TURNSTILE_SECRET=TURNSTILE_SECRET,
                            ADMIN_TURNSTILE_VERIFY_URL=ts.url)
        r = client.post("/exec/kalshi/mode/reload",
                        headers={**AUTH, "cf-turnstile-response": TURNSTILE_TOKEN})
    assert (r.status_code, r.json()["message"]) == (401, message)


def test_turnstile_when_service_unreachable_then_fail_closed(client_for: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before use: nothing listens there
    client = client_for(ADMIN_TOKEN=TOKEN, ADMIN_TURNSTILE_SECRET=TURNSTILE_SECRET,
                        ADMIN_TURNSTILE_VERIFY_URL=f"http://127.0.0.1:{port}/siteverify")
    r = client.post("/admin/circuit-breaker/transition", json=BAD_TRANSITION,
                    headers={**AUTH, "x-turnstile-token": TURNSTILE_TOKEN})
    assert (r.status_code, r.json()["message"]) == (401, "Turnstile verification failed")


# ----------------------------------------------------------------- logging (§2.8)


def test_auth_failure_when_logged_then_structured_and_control_chars_escaped(client_for: Any) -> None:
    client = client_for(ADMIN_TOKEN=TOKEN)
    before = len(CAPTURED)
    client.get("/admin/status", headers={"Authorization": "Bearer nope",
                                         "cf-access-authenticated-user-email": "evil\r\nINJECTED"})
    records = [r for r in CAPTURED[before:] if getattr(r, "auth_failure", {}).get("route") == "/admin/status"]
    assert len(records) == 1, [r.getMessage() for r in CAPTURED[before:]]
    fields = records[0].auth_failure
    assert set(fields) == {"route", "method", "reason_code", "client_ip", "actor_hint", "request_id"}
    assert fields["reason_code"] == "cf_access_jwt_missing"
    assert "\n" not in records[0].getMessage() and "\\x0d\\x0aINJECTED" in records[0].getMessage()


def test_zz_logs_when_module_ran_then_no_secret_token_jwt_or_key_material() -> None:
    assert CAPTURED, "no log records captured: the capture itself is broken"
    assert any(hasattr(r, "auth_failure") for r in CAPTURED), "auth failures were not logged"
    text = "\n".join(_render(r) for r in CAPTURED)
    needles = [*SECRETS, SIGNER.private_pem()]
    needles += [part for s in SECRETS if s.count(".") == 2 for part in s.split(".") if len(part) > 16]
    needles += [line for line in SIGNER.private_pem().splitlines() if len(line) > 40]
    leaked = [n[:12] + "…" for n in needles if n in text]
    assert not leaked, f"secret material found in logs: {leaked}"
    assert "PRIVATE KEY" not in text and "eyJ" not in text


def _render(record: logging.LogRecord) -> str:
    parts = [record.getMessage(), repr(record.args), repr(getattr(record, "auth_failure", ""))]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    return " ".join(parts)
