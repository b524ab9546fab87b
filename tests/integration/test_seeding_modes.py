"""The conformance seeding's ``executor_mode`` goes through the production commands (go-live, status)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from paulp.api.app import create_app
from tests.integration.helpers import make_container
from tests.support.seeding import seed

pytestmark = pytest.mark.integration
AUTH = {"Authorization": "Bearer test-admin-token-0123456789abcdef"}


@pytest.mark.parametrize("given,kalshi,bonding", [
    ({"kalshi": "LIVE"}, "LIVE", "LIVE"),
    ({"kalshi": "DISABLED"}, "DISABLED", "DISABLED"),
    ({"kalshi": {"weather": "LIVE", "bonding": "DISABLED"}}, "LIVE", "DISABLED"),
])
def test_seed_when_executor_mode_given_then_exec_views_report_it(fresh_db, nats_url, namespace, given, kalshi,
                                                                  bonding):
    container = make_container(fresh_db, nats_url, namespace)
    try:
        seed(container, {"executor_mode": given})
        client = TestClient(create_app(container))
        body = client.get("/exec/kalshi/mode", headers=AUTH).json()
        assert (body["mode"], body["strategies"]["bonding"]) == (kalshi, bonding)
        assert client.get("/exec/ibkr/mode", headers=AUTH).json()["mode"] == kalshi  # hedges follow them
    finally:
        container.close()
