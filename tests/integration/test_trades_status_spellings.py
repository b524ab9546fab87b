"""One order status, two spellings (ADR 0336): Kalshi's relayed ``canceled``/``executed`` and our ``cancelled``/
``filled`` find the same orders in ``GET /admin/trades?status=``, over real HTTP (uvicorn) and PostgreSQL with
the loopback Kalshi exchange. The records keep the status as it was written; the rebuilt view equals the live
one; migration 0065 re-keys rows projected before it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import httpx
import psycopg
import pytest

from paulp.adapters.migrate import available, migrate
from paulp.api.cancel_job import cancel_outstanding
from paulp.api.webhook_jobs import process_inbox
from tests.integration.helpers import NOW, assert_live_equals_replay
from tests.integration.kalshi_system import AUTH, System, _system, resting_live_order
from tests.integration.test_migration_positions_by_mode import _migrate_before
from tests.support.served import serve_container

pytestmark = pytest.mark.integration
SECRET = "relay-secret-spellings-0123456789abc"


@pytest.fixture
def system(fresh_db, nats_url, namespace, exchange, key, tmp_path) -> Iterator[System]:
    yield from _system(fresh_db, nats_url, namespace, exchange, key, tmp_path, KALSHI_WEBHOOK_SECRET=SECRET)


def _relay(base: str, system: System, order_id: str, status: str, event_id: str, count: int | None = None) -> None:
    """An order_update as Kalshi names the order: its own id, ours as the client order id."""
    [(kalshi, limit)] = [(o["order_id"], o["yes_price"]) for o in system.exchange._orders.values()
                         if o["client_order_id"] == order_id]
    payload: dict = {"orderId": kalshi, "clientOrderId": order_id, "status": status}
    if count is not None:  # at the order's limit: a buy never fills above it (ADR 0519)
        payload.update(filledCount=count, filledPrice=float(limit))
    r = httpx.post(f"{base}/webhooks/kalshi/events",
                   content=json.dumps({"event_type": "order_update", "event_id": event_id, "payload": payload}),
                   headers={"x-kalshi-webhook-secret": SECRET, "Content-Type": "application/json"})
    assert r.status_code == 200, r.text


def _found(base: str, status: str) -> dict[str, str]:
    """client order id -> the status its row shows, for the rows ``?status=`` returns."""
    r = httpx.get(f"{base}/admin/trades", params={"venue": "kalshi", "status": status, "limit": 500}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["filters"]["status"] == status  # echoed as given
    return {t["client_order_id"]: t["status"] for t in r.json()["trades"]}


def _spaced(system: System, seconds: int) -> None:
    system.container.clock.set(NOW + timedelta(seconds=seconds))  # type: ignore[attr-defined]


def test_status_filter_when_cancelled_by_relay_and_by_us_then_each_spelling_finds_both(system: System):
    _, by_relay = resting_live_order(system, "sp-relay-cancel")
    _spaced(system, 10)
    _, by_us = resting_live_order(system, "sp-our-cancel")
    _spaced(system, 20)
    _, relay_filled = resting_live_order(system, "sp-relay-fill")
    _spaced(system, 30)
    _, our_fill = system.live_fill("sp-our-fill")
    with serve_container(system.container) as base:
        _relay(base, system, by_relay, "canceled", "sp-1")
        _relay(base, system, relay_filled, "executed", "sp-2", count=40)
        assert process_inbox(system.container) == {"cancelled": 1, "filled": 1}
        system.project("orders")
        cancelled = {r["orderId"]: r["outcome"] for r in cancel_outstanding(system.container, "drill")["results"]}
        assert cancelled == {by_us: "cancelled_at_venue"}
        system.project("orders", "venue_orders")

        for spelling in ("cancelled", "canceled", "CANCELED", "Cancelled"):  # rows show what was written
            assert _found(base, spelling) == {by_relay: "canceled", by_us: "cancelled"}, spelling
        for spelling in ("filled", "executed", "EXECUTED", "Filled"):
            assert _found(base, spelling) == {relay_filled: "executed", our_fill: "filled"}, spelling
        assert _found(base, "cancel") == {} and _found(base, "paper_filled") == {}  # still whole-value equality

    assert_live_equals_replay(system.container, "venue_orders")


def test_migration_0065_when_rows_projected_before_it_then_keyed_by_the_one_spelling(empty_db):
    _migrate_before(empty_db, 65)
    rows = [("k-relay", "kalshi", "canceled", "Canceled"), ("k-ours", "kalshi", "cancelled", "cancelled"),
            ("k-exec", "kalshi", "executed", "executed"), ("k-paper", "kalshi", "paper_filled", "paper_filled"),
            ("k-none", "kalshi", None, None), ("i-1", "ibkr", "canceled", "canceled"),
            ("i-2", "ibkr", "filled", "Filled")]
    with psycopg.connect(empty_db, autocommit=True) as conn:
        for seq, (oid, venue, column, shown) in enumerate(rows):
            record = {"order_id": oid} if shown is None else {"order_id": oid, "status": shown}
            conn.execute(f"INSERT INTO views.{venue}_orders (order_id, record, status, seq) VALUES (%s, %s, %s, %s)",
                         (oid, json.dumps(record), column, seq))
    assert migrate(empty_db) == [m.name for m in available() if m.version >= 65]
    with psycopg.connect(empty_db) as conn:
        keyed = dict(conn.execute("SELECT order_id, status FROM views.kalshi_orders UNION ALL"
                                  " SELECT order_id, status FROM views.ibkr_orders").fetchall())
        shown = dict(conn.execute("SELECT order_id, record->>'status' FROM views.kalshi_orders").fetchall())
    assert keyed == {"k-relay": "cancelled", "k-ours": "cancelled", "k-exec": "filled", "k-paper": "paper_filled",
                     "k-none": None, "i-1": "cancelled", "i-2": "filled"}
    assert shown["k-relay"] == "Canceled" and shown["k-exec"] == "executed"  # records untouched
