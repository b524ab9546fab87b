"""The auth guard judges the path the router will route (api-and-security §1.1: auth runs before routing).

Every spelling of a protected route that reaches a handler must meet authentication first: percent-encoding,
trailing slashes, other methods, and an ASGI ``root_path`` (an app served under a prefix by its proxy).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from paulp.api.app import create_app
from paulp.api.wiring import build
from tests.support.settings import IsolatedSettings

pytestmark = pytest.mark.integration

TOKEN = "admin-token-for-guard-path-tests-0123456789"


@pytest.fixture
def client_at(module_db: str, nats_url: str, module_ns: str) -> Iterator[Any]:
    containers: list[Any] = []
    clients: list[TestClient] = []

    def make(root_path: str = "") -> TestClient:
        settings = IsolatedSettings(ENVIRONMENT="test", PAULP_DATABASE_URL=module_db, PAULP_NATS_URL=nats_url,
                                    PAULP_NAMESPACE=module_ns, ADMIN_TOKEN=TOKEN)
        container = build(settings, module_db, nats_url)
        containers.append(container)
        client = TestClient(create_app(container), root_path=root_path, client=("127.0.0.1", 50000),
                            raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
    for container in containers:
        container.close()


@pytest.mark.parametrize("method,path", [
    ("GET", "/%61dmin/status"), ("GET", "/admin%2Fstatus"), ("GET", "/admin/status/"), ("HEAD", "/admin/status"),
    ("OPTIONS", "/admin/status"), ("TRACE", "/exec/kalshi/mode"), ("GET", "/dashboard/summary/"),
    ("POST", "/health/debug/ingest"), ("POST", "/health/%64ebug/ingest"),
])
def test_protected_route_when_spelled_otherwise_then_401_before_routing(client_at: Any, method: str,
                                                                         path: str) -> None:
    assert client_at().request(method, path).status_code == 401


@pytest.mark.parametrize("method,path", [
    ("GET", "/health/debug/ingest"), ("DELETE", "/health/debug/ingest"), ("POST", "/health/debug/ingest/"),
    ("POST", "/health/debug/other"), ("GET", "/health/debug"),
])
def test_debug_path_without_a_route_when_unauthenticated_then_the_404_of_an_unknown_route(
        client_at: Any, method: str, path: str) -> None:
    """§1.1 names /admin, /exec and /dashboard as the prefixes refused before routing; under /health/debug only the
    route itself (POST /health/debug/ingest) asks for operator auth, anything else is the unknown-route 404."""
    r = client_at().request(method, path)
    assert (r.status_code, r.json()["error"], r.json()["path"]) == (404, "Not found", path)


@pytest.mark.parametrize("path", ["/api/admin/status", "/api/exec/kalshi/mode", "/api/dashboard/summary",
                                  "/admin/status"])
def test_app_when_served_under_root_path_then_protected_routes_still_need_auth(client_at: Any, path: str) -> None:
    client = client_at(root_path="/api")
    r = client.get(path)
    assert (r.status_code, r.json()["code"]) == (401, "auth_required")
    assert client.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
