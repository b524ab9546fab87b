"""Repeated query parameters on the admin list endpoints: the first value is the one read (ADR 0346).

The reference reads a parameter with ``URLSearchParams.get`` / Hono's ``c.req.query(name)``, both of which
answer the first occurrence; Starlette's mapping answers the last. ``?venue=kalshi&venue=bad`` is a kalshi
query there, so it is one here too, and ``?venue=bad&venue=kalshi`` is the 400 it is there.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from paulp.api.app import create_app
from tests.integration.helpers import make_container
from tests.support.seeding import seed

pytestmark = pytest.mark.integration
AUTH = {"Authorization": "Bearer test-admin-token-0123456789abcdef"}
K = [{"order_id": "k-1", "status": "open", "execution_mode": "PAPER", "created_at": "2026-02-28T10:00:00.000Z"},
     {"order_id": "k-2", "status": "open", "execution_mode": "LIVE", "created_at": "2026-02-28T09:00:00.000Z"}]
IB = [{"order_id": "i-1", "status": "Filled", "execution_mode": "LIVE", "created_at": "2026-02-28T11:00:00.000Z"}]


@pytest.fixture
def system(fresh_db, nats_url, namespace):
    container = make_container(fresh_db, nats_url, namespace)
    seed(container, {"kalshi_orders": K, "ibkr_orders": IB})
    yield TestClient(create_app(container)), container
    container.close()


@pytest.mark.parametrize("query,status,expected", [
    ("venue=kalshi&venue=bad", 200, {"venue": "kalshi"}),
    ("venue=bad&venue=kalshi", 400, "invalid_venue"),
    ("limit=1&limit=0", 200, {"limit": 1}),
    ("limit=0&limit=1", 400, "invalid_limit"),
    ("mode=live&mode=paper", 200, {"mode": "LIVE"}),
    ("limit=&limit=7", 200, {"limit": 100}),  # the first is empty: the default, as for a lone empty limit
])
def test_trades_when_parameter_repeated_then_first_value_read(system, query, status, expected):
    client, _ = system
    r = client.get(f"/admin/trades?{query}", headers=AUTH)
    assert r.status_code == status, r.text
    if status == 200:
        assert {k: r.json()["filters"][k] for k in expected} == expected
    else:
        assert r.json()["code"] == expected


def test_trades_when_mode_repeated_then_rows_filtered_by_the_first(system):
    client, _ = system
    r = client.get("/admin/trades?venue=kalshi&mode=LIVE&mode=PAPER", headers=AUTH)
    assert [t["order_id"] for t in r.json()["trades"]] == ["k-2"]


def test_orchestrator_orders_when_limit_repeated_then_first_value_read(system):
    client, _ = system
    assert client.get("/admin/orchestrator/orders?limit=3&limit=0", headers=AUTH).json()["filters"]["limit"] == 3
    assert client.get("/admin/orchestrator/orders?limit=0&limit=3", headers=AUTH).status_code == 400


def test_orchestrator_runs_when_limit_repeated_then_first_value_read(system):
    client, _ = system
    assert client.get("/admin/orchestrator/runs?limit=4&limit=x", headers=AUTH).json()["filters"]["limit"] == 4


def test_trades_when_both_venue_sources_fail_then_partial_200_with_both_errors(fresh_db, nats_url, namespace):
    """``kalshi_failure`` seeds the primary source broken as ``ibkr_failure`` does the broker's (the harness's
    given keys are per venue); with both broken the request still answers 200 (§1.3: even when every venue
    fails)."""
    container = make_container(fresh_db, nats_url, namespace)
    try:
        seed(container, {"kalshi_orders": K, "kalshi_failure": True, "ibkr_failure": True})
        r = TestClient(create_app(container)).get("/admin/trades", headers=AUTH)
        assert r.status_code == 200
        body = r.json()
        assert (body["count"], body["trades"], body["partial"]) == (0, [], True)
        assert [e["venue"] for e in body["errors"]] == ["kalshi", "ibkr"]
    finally:
        container.close()


@pytest.mark.parametrize("path,maximum", [("/admin/trades", 500), ("/admin/orchestrator/orders", 500),
                                          ("/admin/orchestrator/runs", 200)])
def test_list_when_limit_has_thousands_of_digits_then_clamped_not_500(system, path, maximum):
    """§1.3 clamps a limit above the maximum; one past Python's 4300-digit int conversion was a 500 (ADR 0359)."""
    client, _ = system
    for raw in ("9" * 5000, "0" * 5000 + "7"):
        r = client.get(f"{path}?limit={raw}", headers=AUTH)
        assert r.status_code == 200, r.text
        assert r.json()["filters"]["limit"] == (maximum if raw.startswith("9") else 7)
    assert client.get(f"{path}?limit={'0' * 5000}", headers=AUTH).json()["code"] == "invalid_limit"
