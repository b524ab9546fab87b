"""A path is matched exactly: a trailing slash is an unknown path (404), never a redirect (ADR 0347).

§1.1 has one answer for a request no route matches, 404 ``{error:"Not found", path, timestamp}``, and the
reference's router matches paths exactly. Starlette answered ``/health/`` with a 307 to ``/health``.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from paulp.api.app import create_app
from tests.integration.helpers import make_container

pytestmark = pytest.mark.integration
AUTH = {"Authorization": "Bearer test-admin-token-0123456789abcdef"}


@pytest.fixture
def client(fresh_db, nats_url, namespace):
    container = make_container(fresh_db, nats_url, namespace, WEBHOOK_TRIGGER_TOKEN="trigger-token")
    yield TestClient(create_app(container), follow_redirects=False)
    container.close()


@pytest.mark.parametrize("method,path,headers", [
    ("GET", "/health/", {}),
    ("GET", "/health/live/", {}),
    ("GET", "/admin/status/", AUTH),
    ("GET", "/admin/trades/", AUTH),
    ("GET", "/exec/kalshi/mode/", AUTH),
    ("GET", "/dashboard/summary/", AUTH),
    ("POST", "/webhooks/alert/", {"Authorization": "Bearer trigger-token"}),
])
def test_path_when_trailing_slash_then_404_not_found_body(client, method, path, headers):
    r = client.request(method, path, headers=headers)
    assert r.status_code == 404, (r.status_code, r.headers.get("location"))
    body = r.json()
    assert (body["error"], body["path"]) == ("Not found", path)


def test_path_when_trailing_slash_under_protected_prefix_then_auth_first(client):
    assert client.get("/admin/status/").status_code == 401


def test_path_when_exact_then_still_served(client):
    assert client.get("/health").status_code == 200
    assert client.get("/admin/status", headers=AUTH).status_code == 200
