"""GET /admin/trades over the venue order views: validation, filters pushed down, merge order, partial."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from paulp.api.app import create_app
from tests.integration.helpers import make_container, max_notification_id, wait_tracked, workers
from tests.support.seeding import break_venue_source, catch_up, seed, source_queries

pytestmark = pytest.mark.integration
AUTH = {"Authorization": "Bearer test-admin-token-0123456789abcdef"}

K = [
    {"order_id": "k-1", "status": "filled", "execution_mode": "PAPER", "created_at": "2026-02-28T10:00:00.000Z",
     "source_strategy": "bonding", "ticker": "INX-A"},
    {"order_id": "k-2", "status": "open", "execution_mode": "LIVE", "created_at": "2026-02-28T08:00:00.000Z",
     "source_strategy": "weather", "ticker": "INX-B"},
    {"order_id": "k-3", "status": "FILLED", "execution_mode": "paper"},
]
IB = [{"order_id": "i-1", "status": "Filled", "execution_mode": "LIVE", "created_at": "2026-02-28T11:00:00.000Z",
      "hedge_strategy": "bonding", "ticker": "SPY"}]


@pytest.fixture(params=["served", "bare"])
def client(request, fresh_db, nats_url, namespace):
    """"served": the app's lifespan ran (async read pool on the serving loop, as under uvicorn);
    "bare": no lifespan (the synchronous pool through the thread pool). Both must answer alike."""
    container = make_container(fresh_db, nats_url, namespace)
    seed(container, {"kalshi_orders": K, "ibkr_orders": IB})
    app = create_app(container)
    if request.param == "served":
        with TestClient(app) as c:
            assert app.state.read_pool._pool is not None
            yield c, container
    else:
        yield TestClient(app), container
    container.close()


def ids(resp):
    return [t["order_id"] for t in resp.json()["trades"]]


def test_trades_when_all_venues_then_newest_first_undated_last(client):
    c, _ = client
    r = c.get("/admin/trades", headers=AUTH)
    assert r.status_code == 200
    assert ids(r) == ["i-1", "k-1", "k-2", "k-3"]
    assert [t["venue"] for t in r.json()["trades"]] == ["ibkr", "kalshi", "kalshi", "kalshi"]
    assert r.json()["filters"] == {"venue": "all", "limit": 100, "strategy": None, "ticker": None, "status": None,
                                   "mode": None}
    assert r.json()["partial"] is False and "errors" not in r.json()


def test_trades_when_filters_given_then_pushed_into_every_venue(client):
    c, _ = client
    assert ids(c.get("/admin/trades?status=FILLED&mode=paper", headers=AUTH)) == ["k-1", "k-3"]
    assert ids(c.get("/admin/trades?strategy=bonding", headers=AUTH)) == ["i-1", "k-1"]
    assert ids(c.get("/admin/trades?ticker=SPY", headers=AUTH)) == ["i-1"]
    assert ids(c.get("/admin/trades?limit=2", headers=AUTH)) == ["i-1", "k-1"]
    assert c.get("/admin/trades?limit=9999", headers=AUTH).json()["filters"]["limit"] == 500


def test_trades_when_one_venue_selected_then_other_not_queried(client):
    c, _ = client
    before = source_queries()
    r = c.get("/admin/trades?venue=KALSHI", headers=AUTH)
    after = source_queries()
    assert r.json()["filters"]["venue"] == "kalshi"
    assert after["ibkr"] == before["ibkr"] and after["kalshi"] == before["kalshi"] + 1


@pytest.mark.parametrize("query,code,error", [
    ("venue=bad", "invalid_venue", "Invalid venue. Must be all, kalshi, or ibkr."),
    ("limit=0", "invalid_limit", "Invalid limit. Must be a positive integer."),
    ("limit=10abc", "invalid_limit", "Invalid limit. Must be a positive integer."),
    ("limit=-1", "invalid_limit", "Invalid limit. Must be a positive integer."),
    ("limit=1.9", "invalid_limit", "Invalid limit. Must be a positive integer."),
    ("limit=5%0A", "invalid_limit", "Invalid limit. Must be a positive integer."),
    ("mode=SIM", "invalid_mode", "Invalid mode. Must be PAPER or LIVE."),
    ("venue=bad&limit=0&mode=x", "invalid_venue", "Invalid venue. Must be all, kalshi, or ibkr."),
])
def test_trades_when_parameter_invalid_then_400_with_code(client, query, code, error):
    c, container = client
    head = max_notification_id(container.database_url)
    r = c.get(f"/admin/trades?{query}", headers=AUTH)
    assert (r.status_code, r.json()["code"], r.json()["error"]) == (400, code, error)
    assert max_notification_id(container.database_url) == head


def test_trades_when_venue_source_fails_then_partial_200(client):
    c, container = client
    break_venue_source(container, "ibkr")
    r = c.get("/admin/trades", headers=AUTH)
    assert r.status_code == 200
    assert r.json()["partial"] is True and [e["venue"] for e in r.json()["errors"]] == ["ibkr"]
    assert "SELECT" not in r.text and ids(r) == ["k-1", "k-2", "k-3"]


def test_venue_order_update_when_relayed_then_view_follows(fresh_db, nats_url, namespace):
    container = make_container(fresh_db, nats_url, namespace)
    try:
        container.execution.record_venue_order("kalshi", {"order_id": "k-9", "status": "submitted",
                                                          "execution_mode": "LIVE"})
        assert container.execution.record_venue_order("kalshi", {"order_id": "k-9", "status": "submitted",
                                                                 "execution_mode": "LIVE"}) == 0
        container.execution.record_venue_order("kalshi", {"order_id": "k-9", "status": "filled"})
        with workers(container):
            wait_tracked(fresh_db, "venue_orders", max_notification_id(fresh_db))
        r = TestClient(create_app(container)).get("/admin/trades?status=filled", headers=AUTH)
        assert ids(r) == ["k-9"] and r.json()["trades"][0]["execution_mode"] == "LIVE"
        catch_up(container)  # the log-direct path agrees with the bus path: nothing left to apply
    finally:
        container.close()


def test_trades_query_when_ties_and_undated_rows_then_sql_merge_equals_per_venue_merge(fresh_db, nats_url,
                                                                                     namespace):
    """The one-statement merge orders exactly as reading each venue and merging in Python (the fallback)."""
    import random

    import psycopg

    from paulp.api.trades import _merge, parse_filters, trades_query, venue_query

    rnd = random.Random(11)
    stamps = [None, "2026-03-01T10:00:00.000Z", "2026-03-01T10:00:00.000Z", "2026-03-01T09:00:00.000Z",
              "2026-02-28T23:59:59.999Z"]

    def rows(prefix: str, strategy_key: str) -> list[dict[str, str]]:
        out = []
        for i in range(40):
            row = {"order_id": f"{prefix}-{i}", "status": rnd.choice(["filled", "open"]),
                   "execution_mode": rnd.choice(["PAPER", "LIVE"]), strategy_key: rnd.choice(["a", "b"])}
            at = rnd.choice(stamps)
            if at is not None:
                row["created_at"] = at
            out.append(row)
        return out

    container = make_container(fresh_db, nats_url, namespace)
    try:
        seed(container, {"kalshi_orders": rows("k", "source_strategy"), "ibkr_orders": rows("i", "hedge_strategy")})
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            for params in ({}, {"limit": "7"}, {"status": "filled", "limit": "15"}, {"strategy": "a"},
                           {"mode": "LIVE", "limit": "3"}, {"venue": "ibkr", "limit": "9"}):
                f = parse_filters(params)
                query, args, venues = trades_query(f)
                merged_in_sql = [r[0] for r in conn.execute(query, args)]
                per_venue = [conn.execute(*venue_query(v, f, rank)).fetchall() for rank, v in enumerate(venues)]
                assert merged_in_sql == _merge(per_venue, f.limit), params
                assert len(merged_in_sql) == min(f.limit, sum(len(p) for p in per_venue))
    finally:
        container.close()


def test_trades_when_records_are_odd_then_kept_and_dated_as_the_reference_parses(fresh_db, nats_url, namespace):
    """Numeric venue ids stay numbers; a non-object report is {raw, venue}; a date-only, an offset-less and an
    epoch-milliseconds created_at sort as dates (api-and-security §1.3 steps 4 and 6)."""
    container = make_container(fresh_db, nats_url, namespace)
    try:
        seed(container, {
            "kalshi_orders": [{"order_id": "k-1", "created_at": "2026-02-27T12:00:00.000Z"}, "weird",
                              {"order_id": "k-2", "created_at": "2026-02-26T09:00:00"}],
            "ibkr_orders": [{"order_id": 123456, "created_at": "2026-02-28"},
                            {"order_id": "i-2", "created_at": 1772280000000}],
        })
        with TestClient(create_app(container)) as c:
            body = c.get("/admin/trades", headers=AUTH).json()
        assert [t.get("order_id") for t in body["trades"]] == ["i-2", 123456, "k-1", "k-2", None]
        assert body["trades"][-1] == {"raw": "weird", "venue": "kalshi"}
    finally:
        container.close()


def test_trades_route_when_served_plain_then_schema_documented_and_methods_unchanged(client):
    """The plain Starlette route in front (ADR 0009 addendum) must not change what the API says or accepts:
    other methods answer as on the FastAPI route next to it (/admin/positions, also GET only)."""
    c, _ = client
    spec = c.get("/openapi.json").json()
    assert set(spec["paths"]["/admin/trades"]) == {"get"}
    assert {p["name"] for p in spec["paths"]["/admin/trades"]["get"].get("parameters", [])} <= {
        "venue", "strategy", "status", "mode", "limit", "ticker"}
    for method in ("head", "delete"):
        here = getattr(c, method)("/admin/trades", headers=AUTH)
        there = getattr(c, method)("/admin/positions", headers=AUTH)
        def shape(r):
            return r.status_code, {k: v for k, v in (r.json() if r.content else {}).items() if k not in ("path",
                                                                                                   "timestamp")}
        assert shape(here) == shape(there)
        assert here.status_code == 404
    r = c.get("/admin/trades?limit=0", headers=AUTH)
    assert (r.status_code, r.json()["code"]) == (400, "invalid_limit")
