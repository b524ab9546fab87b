"""The client address as the served process sees it (api-and-security §2.5), through real uvicorn.

TestClient sets the ASGI peer directly; the HTTP server the runtime starts could still rewrite it before
the app runs (uvicorn trusts ``X-Forwarded-For`` from loopback by default). These tests serve the app with
the runtime's own server options and connect from 127.0.0.1 over TCP.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest

from tests.support.served import serve_config

pytestmark = pytest.mark.integration

TOKEN = "admin-token-for-served-ip-tests-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def served(db_url: str, nats_url: str, namespace: str, **config: Any) -> AbstractContextManager[str]:
    return serve_config(db_url, nats_url, namespace, ADMIN_TOKEN=TOKEN, **config)


def test_trusted_proxy_when_cf_connecting_ip_and_forwarded_for_differ_then_cf_connecting_ip_decides(
        module_db: str, nats_url: str, module_ns: str) -> None:
    # Loopback is a trusted proxy by default: cf-connecting-ip is the client, X-Forwarded-For only its fallback.
    with served(module_db, nats_url, module_ns, ADMIN_ALLOWED_IPS="203.0.113.7") as base:
        spoofed = httpx.get(f"{base}/admin/nope", headers={**AUTH, "cf-connecting-ip": "198.51.100.9",
                                                          "x-forwarded-for": "203.0.113.7"})
        allowed = httpx.get(f"{base}/admin/nope", headers={**AUTH, "cf-connecting-ip": "203.0.113.7",
                                                          "x-forwarded-for": "198.51.100.9"})
    assert (spoofed.status_code, spoofed.json()["code"]) == (403, "ip_not_allowed")
    assert allowed.status_code == 404


def test_untrusted_loopback_peer_when_forwarded_for_claims_allowed_ip_then_peer_address_decides(
        module_db: str, nats_url: str, module_ns: str) -> None:
    # PAULP_TRUSTED_PROXIES names another proxy: a loopback caller's X-Forwarded-For must not be believed.
    with served(module_db, nats_url, module_ns, ADMIN_ALLOWED_IPS="203.0.113.7",
                PAULP_TRUSTED_PROXIES="10.9.8.7/32") as base:
        r = httpx.get(f"{base}/admin/nope", headers={**AUTH, "x-forwarded-for": "203.0.113.7"})
        own = httpx.get(f"{base}/admin/nope", headers=AUTH)
    assert (r.status_code, r.json()["code"]) == (403, "ip_not_allowed")
    assert (own.status_code, own.json()["code"]) == (403, "ip_not_allowed")
