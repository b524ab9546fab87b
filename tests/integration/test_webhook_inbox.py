"""Relayed venue events applied from the inbox (api-and-security §1.6, ADR 0261), on real PostgreSQL with
the loopback Kalshi exchange: a resting LIVE order filled or cancelled by the relay, once, whatever the
relay repeats; paper orders and unknown ids are recorded and left alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from pydantic import SecretStr

from paulp.adapters.market_data import StaticMarketData
from paulp.api.webhook_jobs import process_inbox
from tests.integration.helpers import NOW, facts, signal
from tests.integration.kalshi_system import System, _system, resting_live_order, trade_row

pytestmark = pytest.mark.integration
SECRET = "relay-secret-0123456789abcdefghij"


@pytest.fixture
def system(fresh_db, nats_url, namespace, exchange, key, tmp_path) -> Iterator[System]:
    for s in _system(fresh_db, nats_url, namespace, exchange, key, tmp_path):
        s.container.settings.KALSHI_WEBHOOK_SECRET = SecretStr(SECRET)
        yield s


def _relay(system: System, body: dict) -> dict:
    r = system.client.post("/webhooks/kalshi/events", content=json.dumps(body).encode(),
                           headers={"x-kalshi-webhook-secret": SECRET, "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    return r.json()


def _update(order_id: str, status: str, count: int | None = None, price: float | None = None, **extra) -> dict:
    payload: dict = {"orderId": order_id, "status": status}
    if count is not None:
        payload["filledCount"] = count
    if price is not None:
        payload["filledPrice"] = price
    return {"event_type": "order_update", "payload": payload, **extra}


def _kalshi_id(system: System, order_id: str) -> str:
    """Kalshi's own id of our order (the fake exchange's record of it)."""
    [found] = [o for o in system.exchange._orders.values() if o["client_order_id"] == order_id]
    return str(found["order_id"])


def _kalshi_update(system: System, order_id: str, status: str, count: int | None = None,
                   price: float | None = None, client: bool = True, **extra) -> dict:
    """An order_update as Kalshi names the order: ``orderId`` is Kalshi's id, ``clientOrderId`` ours."""
    body = _update(_kalshi_id(system, order_id), status, count, price, **extra)
    if client:
        body["payload"]["clientOrderId"] = order_id
    return body


def _pending(system: System) -> int:
    with psycopg.connect(system.container.database_url) as conn:
        row = conn.execute("SELECT count(*) FROM webhook_inbox WHERE processed_at IS NULL").fetchone()
    return int(row[0]) if row else 0


def _outcomes(system: System) -> list[tuple[str, str | None]]:
    with psycopg.connect(system.container.database_url) as conn:
        return [(t, o) for t, o in conn.execute(
            "SELECT event_type, outcome FROM webhook_inbox ORDER BY received_at, dedupe_key").fetchall()]


def test_order_update_when_resting_live_order_fills_then_order_filled_once_and_position_follows(system: System):
    ticker, order_id = resting_live_order(system, "relay-fill")
    assert _relay(system, _update(order_id, "partially_filled", 15, 44.0, event_id="e1")) == {
        "received": True, "duplicate": False}
    assert process_inbox(system.container) == {"filled": 1}
    order = system.container.orders.find(order_id)
    assert order is not None and (order.state.value, order.filled_size) == ("PARTIAL_FILL", 15)

    _relay(system, _update(order_id, "executed", 40, 44.0, event_id="e2"))
    _relay(system, _update(order_id, "executed", 40, 44.0, event_id="e2"))  # the relay repeats itself
    _relay(system, _update(order_id, "executed", 30, 44.0, event_id="e3"))  # late and lower: nothing new
    assert process_inbox(system.container) == {"filled": 1, "unchanged": 1}
    assert process_inbox(system.container) == {}  # nothing pending
    order = system.container.orders.find(order_id)
    assert order is not None and (order.state.value, order.filled_size, order.avg_fill_price) == ("FILLED", 40, 44.0)

    system.project("orders", "venue_orders")
    with psycopg.connect(system.container.database_url) as conn:
        assert conn.execute("SELECT contracts FROM views.positions WHERE ticker = %s", (ticker,)).fetchone() == (40,)
        record = conn.execute("SELECT record FROM views.kalshi_orders WHERE order_id = %s", (order_id,)).fetchone()
    assert record is not None and (record[0]["status"], record[0]["fill_count"]) == ("executed", 40)  # not back
    assert [o for _, o in _outcomes(system)] == ["filled", "filled", "unchanged"]


def test_order_update_when_cancelled_at_venue_then_order_cancelled(system: System):
    _, order_id = resting_live_order(system, "relay-cancel")
    _relay(system, _update(order_id, "canceled"))
    assert process_inbox(system.container) == {"cancelled": 1}
    order = system.container.orders.find(order_id)
    assert order is not None and order.state.value == "CANCELLED"


def test_events_when_paper_unknown_or_not_order_updates_then_recorded_and_orders_untouched(system: System):
    paper = system.container.pipeline(StaticMarketData({"KXPAPER-R": facts("KXPAPER-R")}))
    out = paper.process(signal("relay-paper", "KXPAPER-R"))
    assert out.state == "FILLED"
    head = system.head()
    _relay(system, _update(out.order_id, "canceled"))
    _relay(system, _update("no-such-order", "executed", 5, 40.0))
    _relay(system, {"event_type": "fill", "payload": {"orderId": out.order_id, "marketId": "KXPAPER-R",
                                                      "side": "yes", "fillPrice": 43, "fillSize": 50}})
    system.project("venue_orders")  # an id nothing matches is unknown once the view has caught up (ADR 0318)
    assert process_inbox(system.container) == {"recorded": 2, "unknown_order": 1}
    order = system.container.orders.find(out.order_id)
    assert order is not None and order.state.value == "FILLED"
    # the paper order's venue record took the relayed status, as the reference's executor does; no Order event
    assert [type(e).__qualname__ for e in system.events("", head)] == ["VenueOrder.Updated"]


def test_process_when_two_consumers_run_at_once_then_each_event_applied_once(system: System):
    from concurrent.futures import ThreadPoolExecutor

    _, order_id = resting_live_order(system, "relay-race")
    for i, n in enumerate((10, 20, 40)):
        _relay(system, _update(order_id, "executed" if n == 40 else "partially_filled", n, 44.0, event_id=f"r{i}"))
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: process_inbox(system.container), range(2)))
    assert sum(sum(r.values()) for r in results) == 3
    order = system.container.orders.find(order_id)
    assert order is not None and (order.state.value, order.filled_size) == ("FILLED", 40)
    assert len(system.events("FillRecorded")) == 3


def test_order_update_when_fill_price_has_half_a_cent_then_position_cost_rounds_half_up(system: System):
    """Trading §0: money rounds half up, never to even (5 x 42.5 = 212.5 → 213 cents, not 212)."""
    ticker, order_id = resting_live_order(system, "relay-half-cent")
    _relay(system, _update(order_id, "partially_filled", 5, 42.5, event_id="h1"))
    assert process_inbox(system.container) == {"filled": 1}
    system.project("orders")
    with psycopg.connect(system.container.database_url) as conn:
        assert conn.execute("SELECT contracts, cost_cents FROM views.positions WHERE ticker = %s",
                            (ticker,)).fetchone() == (5, 213)


def test_order_update_when_named_by_kalshis_id_and_our_client_id_then_applied_to_that_order(system: System):
    """Since ADR 0294 a LIVE record's order_id is Kalshi's: an update carrying Kalshi's order_id and our
    client_order_id is matched by the client order id (ADR 0318)."""
    _, order_id = resting_live_order(system, "relay-kalshi-ids")
    _relay(system, _kalshi_update(system, order_id, "executed", 40, 44.0, event_id="k1"))
    assert process_inbox(system.container) == {"filled": 1}
    order = system.container.orders.find(order_id)
    assert order is not None and (order.state.value, order.filled_size) == ("FILLED", 40)
    row = trade_row(system, order_id)
    assert (row["status"], row["fill_count"], row["order_id"]) == ("executed", 40, _kalshi_id(system, order_id))


def test_order_update_when_only_kalshis_order_id_then_matched_through_the_venue_record(system: System):
    _, order_id = resting_live_order(system, "relay-kalshi-only")
    system.project("venue_orders")
    _relay(system, _kalshi_update(system, order_id, "canceled", client=False))
    assert process_inbox(system.container) == {"cancelled": 1}
    order = system.container.orders.find(order_id)
    assert order is not None and order.state.value == "CANCELLED"


def test_order_update_when_kalshis_id_not_yet_in_the_view_then_left_pending_until_it_is(system: System):
    """The Kalshi id is looked up in views.kalshi_orders: while that view is behind the log, an update it cannot
    match yet waits (it may be for the order just recorded) instead of being dropped as unknown."""
    _, order_id = resting_live_order(system, "relay-lag")
    _relay(system, _kalshi_update(system, order_id, "canceled", client=False))
    assert process_inbox(system.container) == {"pending": 1} and _pending(system) == 1
    order = system.container.orders.find(order_id)
    assert order is not None and order.state.value in ("SUBMITTED", "ORDER_ACKNOWLEDGED")
    system.project("venue_orders")
    assert process_inbox(system.container) == {"cancelled": 1} and _pending(system) == 0


def test_order_update_when_ids_disagree_or_match_nothing_then_kept_as_evidence_and_no_order_touched(system: System):
    _, first = resting_live_order(system, "relay-a")
    system.container.clock.set(NOW + timedelta(seconds=10))  # type: ignore[attr-defined]  # order spacing
    _, second = resting_live_order(system, "relay-b")
    system.project("venue_orders")
    head = system.head()
    crossed = _kalshi_update(system, second, "executed", 40, 44.0, event_id="x1")
    crossed["payload"]["clientOrderId"] = first  # our id of one order, Kalshi's id of another
    _relay(system, crossed)
    _relay(system, _update("0b6c2a4e-6a57-4c1e-9d3e-000000000000", "executed", 5, 40.0, event_id="x2"))
    _relay(system, {**_update("0b6c2a4e-6a57-4c1e-9d3e-000000000001", "canceled", event_id="x3"),
                    "payload": {"orderId": "0b6c2a4e-6a57-4c1e-9d3e-000000000001", "status": "canceled",
                                "clientOrderId": "order-nobody"}})
    assert process_inbox(system.container) == {"mismatch": 1, "unknown_order": 2}
    assert system.head() == head  # nothing recorded on any order or venue record
    for order_id in (first, second):
        order = system.container.orders.find(order_id)
        assert order is not None and order.state.value in ("SUBMITTED", "ORDER_ACKNOWLEDGED")
    with psycopg.connect(system.container.database_url) as conn:
        kept = conn.execute("SELECT outcome, evidence_hash FROM webhook_inbox ORDER BY dedupe_key").fetchall()
    assert sorted(o for o, _ in kept) == ["mismatch", "unknown_order", "unknown_order"] and all(e for _, e in kept)
