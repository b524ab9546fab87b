"""trading.json::admin_trades through the real HTTP app, seeded via real commands and projections.

A venue whose source fails (partial results, trading §9.1) may be written as a list under ``venue_failures`` /
``failing_venues`` / ``failed_venues``, or as that venue's ``venue_rows`` entry being an error (``{"error": ...}``,
a string, or null) rather than a list of rows; the source is then genuinely broken (its view revoked).
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from fastapi.testclient import TestClient

from paulp.api.app import create_app
from tests.conformance.checkers._json_numbers import json_int
from tests.conformance.registry import Context, checker
from tests.support.runtime import fresh_container
from tests.support.seeding import seed, source_queries

TOKEN = "conformance-admin-token-0123456789"
VENUES = ("kalshi", "ibkr")
KNOWN = {
    "http_status",
    "count",
    "order_ids_in_order",
    "venues_in_order",
    "partial",
    "venues_queried",
    "effective_limit",
    "error_venues",
    "filters",
    "error",
    "code",
    "error_code",
}
FAILURE_KEYS = ("venue_failures", "failing_venues", "failed_venues")


def venue_inputs(case: dict[str, Any]) -> tuple[dict[str, list[Any]], list[str]]:
    """(rows per venue, venues whose source fails) from a case."""
    rows: dict[str, list[Any]] = {}
    failing: list[str] = []
    for venue, value in case.get("venue_rows", {}).items():
        assert venue in VENUES, f"unknown venue {venue!r}"
        if isinstance(value, list):
            rows[venue] = value
        else:
            assert value is None or isinstance(value, str) or (isinstance(value, dict) and "error" in value), (
                f"venue_rows[{venue!r}] is neither rows nor an error: {value!r:.200}"
            )
            failing.append(venue)
    for key in FAILURE_KEYS:
        listed = case.get(key, [])
        assert isinstance(listed, list) and set(listed) <= set(VENUES), f"{key}: {listed!r}"
        failing.extend(v for v in listed if v not in failing)
    return rows, failing


ERROR_KEYS = {"http_status", "error", "code", "error_code"}


def query_text(query: Any) -> str:
    """The case's ``query`` as the URL's query string. A value is URL text: a string is sent as written
    (``"10.0"`` is a non-integer limit, refused with ``invalid_limit`` by §1.3's resolution); a JSON number or bool is
    written as the reference (JavaScript) prints it, so ``10`` and ``10.0``, one JSON number, are both ``limit=10``
    (ADR 0488). Anything else is refused."""
    assert isinstance(query, dict), f"query not interpretable: {query!r:.200}"
    pairs = []
    for key, value in query.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float) and math.isfinite(value):
            value = str(int(value)) if float(value).is_integer() and abs(value) < 1e21 else repr(float(value))
        assert isinstance(value, str), f"query.{key} not interpretable: {value!r:.200}"
        pairs.append((key, value))
    return urlencode(pairs)


def expected_status(exp: dict[str, Any]) -> int | None:
    """The stated ``http_status``; else None (any error status) when the case states error facts (``code``,
    ``error``) without it; else 200, as the sample writes a successful page's case without a status."""
    if "http_status" in exp:
        status = json_int(exp["http_status"])
        assert isinstance(status, int) and not isinstance(status, bool), f"http_status not interpretable: {status!r}"
        return status
    return None if ERROR_KEYS & set(exp) else 200


FILTER_KEYS = {"venue", "limit", "strategy", "ticker", "status", "mode"}


def _page_shape(body: dict[str, Any]) -> None:
    """§1.3's 200 body, whatever the case asks: ``count`` is the number of trades, every trade names its venue,
    ``filters`` has its six keys, and ``errors`` is there exactly when ``partial`` is true."""
    trades = body["trades"]
    assert body["count"] == len(trades), f"count {body['count']} for {len(trades)} trades"
    assert all(isinstance(t, dict) and t.get("venue") in VENUES for t in trades), f"trade without a venue: {trades}"
    assert set(body["filters"]) == FILTER_KEYS, f"filters {sorted(body['filters'])}"
    assert isinstance(body["partial"], bool), f"partial {body['partial']!r}"
    assert ("errors" in body) is body["partial"], f"errors present: {'errors' in body}, partial: {body['partial']}"
    assert isinstance(body.get("timestamp"), str) and body["timestamp"], "no timestamp"


@checker("trading.json", "admin_trades")
def check(case: dict[str, Any], ctx: Context) -> None:
    exp = case["expected"]
    assert not set(exp) - KNOWN, f"expected fields this checker cannot interpret: {sorted(set(exp) - KNOWN)}"
    unknown = set(case) - {"name", "query", "venue_rows", "expected", "note", "source_behaviour", *FAILURE_KEYS}
    assert not unknown, f"case fields this checker cannot interpret: {sorted(unknown)}"
    query, status = query_text(case.get("query", {})), expected_status(exp)
    container = fresh_container({"ADMIN_TOKEN": TOKEN})
    try:
        rows, failing = venue_inputs(case)
        seed(container, {**{f"{v}_orders": r for v, r in rows.items()}, **{f"{v}_failure": True for v in failing}})
        before = source_queries()
        r = TestClient(create_app(container)).get(
            f"/admin/trades?{query}", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        after = source_queries()
        if status is None:
            assert r.status_code >= 400, f"an error answer expected for {sorted(exp)}: {r.status_code} {r.text:.300}"
        else:
            assert r.status_code == status, (r.status_code, r.text)
        body = r.json()
        if r.status_code != 200:
            # A refused request has no page: an expectation about one would otherwise be skipped unread.
            page_keys = sorted(set(exp) - ERROR_KEYS)
            assert not page_keys, f"expectations {page_keys} cannot hold for a {r.status_code} answer"
            assert isinstance(body.get("code"), str)
            for key in ("code", "error_code"):
                if key in exp:
                    assert body["code"] == exp[key], (body, exp[key])
            if "error" in exp:
                assert body["error"] == exp["error"], (body, exp["error"])
            return
        _page_shape(body)
        if "count" in exp:
            assert body["count"] == exp["count"]
        if "order_ids_in_order" in exp:
            assert [t.get("order_id") for t in body["trades"]] == exp["order_ids_in_order"]
        if "venues_in_order" in exp:
            assert [t["venue"] for t in body["trades"]] == exp["venues_in_order"]
        if "partial" in exp:
            assert body["partial"] is exp["partial"]
        if "error_venues" in exp:
            assert [e["venue"] for e in body.get("errors", [])] == exp["error_venues"], body
        if "venues_queried" in exp:
            queried = sorted(v for v in VENUES if after[v] > before[v])
            assert queried == sorted(exp["venues_queried"])
        if "effective_limit" in exp:
            assert body["filters"]["limit"] == exp["effective_limit"]
        if "filters" in exp:
            assert {k: body["filters"].get(k, "<absent>") for k in exp["filters"]} == exp["filters"], body["filters"]
    finally:
        container.close()
