"""Auth failures are counted per client IP for alerting (api-and-security §2.8) without unbounded memory.

The per-IP table is keyed by an address the caller chooses (any of an IPv6 /64), so it is bounded; the
total is exported on /metrics (itself behind METRICS_TOKEN or operator auth, ADR 0338).
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request

from paulp.api.auth import AuthFailure, OperatorAuth
from tests.security.support import app_client
from tests.support.settings import IsolatedSettings

pytestmark = pytest.mark.integration

TOKEN = "admin-token-for-failure-count-tests-0123456789"


def _request(peer: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/admin/status", "raw_path": b"/admin/status",
                    "query_string": b"", "root_path": "", "headers": [], "client": (peer, 1234),
                    "server": ("127.0.0.1", 8787)})


def test_failures_when_from_ever_new_addresses_then_table_stays_bounded_and_total_exact() -> None:
    auth = OperatorAuth(IsolatedSettings(ENVIRONMENT="test", ADMIN_TOKEN=TOKEN))
    failure = AuthFailure(401, "Unauthorized", "auth_required", None)
    for n in range(auth.MAX_TRACKED_IPS + 50):
        auth.log_failure(_request(f"2001:db8::{n:x}"), failure)
    auth.log_failure(_request("2001:db8::0"), failure)  # an address already tracked keeps its own count
    assert len(auth.failures_by_ip) <= auth.MAX_TRACKED_IPS + 1
    assert auth.failures_by_ip["2001:db8::"] == 2
    assert auth.failures_by_ip[auth.OTHER_IPS] == 50
    assert auth.failures_total == auth.MAX_TRACKED_IPS + 51


def test_metrics_when_auth_failed_then_total_exported_without_addresses(module_db: str, nats_url: str,
                                                                         module_ns: str) -> None:
    with app_client(module_db, nats_url, module_ns, ADMIN_TOKEN=TOKEN) as (client, _):
        for _ in range(3):
            assert client.get("/admin/status", headers={"Authorization": "Bearer wrong"}).status_code == 401
        text: Any = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text  # ADR 0338
    assert "paulp_auth_failures_total 3\n" in text
    assert "127.0.0.1" not in text
