"""trading.json::admin_trades through the real HTTP app, seeded via real commands and projections."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi.testclient import TestClient

from paulp.api.app import create_app
from tests.conformance.registry import Context, checker
from tests.support.runtime import fresh_container
from tests.support.seeding import seed, source_queries

TOKEN = "conformance-admin-token-0123456789"
KNOWN = {"http_status", "count", "order_ids_in_order", "venues_in_order", "partial", "venues_queried",
         "effective_limit"}


@checker("trading.json", "admin_trades")
def check(case: dict[str, Any], ctx: Context) -> None:
    exp = case["expected"]
    assert not set(exp) - KNOWN, f"expected fields this checker cannot interpret: {sorted(set(exp) - KNOWN)}"
    unknown = set(case) - {"name", "query", "venue_rows", "expected", "note", "source_behaviour"}
    assert not unknown, f"case fields this checker cannot interpret: {sorted(unknown)}"
    container = fresh_container({"ADMIN_TOKEN": TOKEN})
    try:
        rows = case.get("venue_rows", {})
        assert set(rows) <= {"kalshi", "ibkr"}, f"unknown venues {sorted(rows)}"
        seed(container, {f"{v}_orders": r for v, r in rows.items()})
        before = source_queries()
        query = urlencode(case.get("query", {}))
        r = TestClient(create_app(container)).get(f"/admin/trades?{query}",
                                                  headers={"Authorization": f"Bearer {TOKEN}"})
        after = source_queries()
        assert r.status_code == exp.get("http_status", 200), (r.status_code, r.text)
        if r.status_code != 200:
            assert isinstance(r.json().get("code"), str)
            return
        body = r.json()
        if "count" in exp:
            assert body["count"] == exp["count"]
        if "order_ids_in_order" in exp:
            assert [t["order_id"] for t in body["trades"]] == exp["order_ids_in_order"]
        if "venues_in_order" in exp:
            assert [t["venue"] for t in body["trades"]] == exp["venues_in_order"]
        if "partial" in exp:
            assert body["partial"] is exp["partial"]
        if "venues_queried" in exp:
            queried = sorted(v for v in ("kalshi", "ibkr") if after[v] > before[v])
            assert queried == sorted(exp["venues_queried"])
        if "effective_limit" in exp:
            assert body["filters"]["limit"] == exp["effective_limit"]
    finally:
        container.close()
