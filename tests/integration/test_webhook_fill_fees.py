"""Fees of LIVE fills that arrive by webhook order update (ADR 0443), over the loopback Kalshi exchange on real
PostgreSQL: the update carries no fee, so the inbox consumer asks Kalshi for the order and records the increment of
its cumulative fees on the fill; when that lookup fails the fill is recorded all the same, its fee unknown."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from paulp.api.webhook_jobs import process_inbox
from tests.fakes.kalshi_exchange import Fault
from tests.integration.kalshi_system import AUTH, System, _system, resting_live_order, trade_row

pytestmark = pytest.mark.integration
SECRET = "relay-secret-0123456789abcdefghij"


@pytest.fixture
def system(fresh_db, nats_url, namespace, exchange, key, tmp_path) -> Iterator[System]:
    yield from _system(fresh_db, nats_url, namespace, exchange, key, tmp_path, KALSHI_WEBHOOK_SECRET=SECRET)


def _venue_order(system: System, order_id: str) -> dict[str, Any]:
    [found] = [o for o in system.exchange.orders if o["client_order_id"] == order_id]
    return found


def _relay_update(system: System, order_id: str, status: str, count: int, event_id: str) -> None:
    """Kalshi's order update as the relay sends it: Kalshi's order id, ours, the cumulative count and the limit
    price the resting order filled at, and no fee."""
    venue = _venue_order(system, order_id)
    body = {"event_type": "order_update", "event_id": event_id,
            "payload": {"orderId": venue["order_id"], "clientOrderId": order_id, "status": status,
                        "filledCount": count, "filledPrice": venue["yes_price"]}}
    r = system.client.post("/webhooks/kalshi/events", content=json.dumps(body).encode(),
                           headers={"x-kalshi-webhook-secret": SECRET, "Content-Type": "application/json"})
    assert r.status_code == 200, r.text


def _fill_fees(system: System, order_id: str) -> list[tuple[int, Decimal | None]]:
    order = system.container.orders.find(order_id)
    assert order is not None
    return [(e.fill_size, e.fee_cents) for e in system.events("FillRecorded") if e.originator_id == order.id]


def _order_row(system: System, order_id: str) -> dict[str, Any]:
    rows = system.client.get("/admin/orchestrator/orders", headers=AUTH).json()["orders"]
    [row] = [r for r in rows if r["orderId"] == order_id]
    return dict(row)


def _live_position(system: System, ticker: str) -> dict[str, Any]:
    [position] = [p for p in system.client.get("/admin/positions", headers=AUTH).json()["positions"]
                  if p["mode"] == "LIVE" and p["ticker"] == ticker]
    return dict(position)


def _order_lookups(system: System, order_id: str) -> int:
    kalshi_id = _venue_order(system, order_id)["order_id"]
    return sum(1 for r in system.exchange.requests if r.method == "GET" and r.path.endswith(f"/orders/{kalshi_id}"))


def test_webhook_fills_when_kalshi_charged_maker_fees_then_each_fill_records_its_increment(system: System):
    # Arrange: our 40-contract order rests at Kalshi; someone takes 15, then the other 25 (maker fees both times)
    ticker, order_id = resting_live_order(system, "hook-fee")
    first = system.exchange.fill_resting(order_id, 15)
    # Act: the relay's update for the 15, applied by the inbox consumer; then the same for the rest
    _relay_update(system, order_id, "resting", 15, "hook-fee-1")
    assert process_inbox(system.container) == {"filled": 1}
    second = system.exchange.fill_resting(order_id, 25)
    _relay_update(system, order_id, "executed", 40, "hook-fee-2")
    assert process_inbox(system.container) == {"filled": 1}
    # Assert: each fill carries what Kalshi charged for it, asked once per fill
    assert first > 0 and second > 0
    assert _fill_fees(system, order_id) == [(15, Decimal(first)), (25, Decimal(second))]
    assert _order_lookups(system, order_id) == 2
    system.project("orders", "venue_orders")
    row = _order_row(system, order_id)
    assert (row["currentState"], row["filledSize"], row["feesUsd"], row["feesComplete"]) == (
        "FILLED", 40, (first + second) / 100, True)
    position = _live_position(system, ticker)
    assert (position["contracts"], position["feesUsd"], position["feesComplete"]) == (
        40, (first + second) / 100, True)
    assert trade_row(system, order_id)["fees_cents"] == first + second


def test_webhook_fill_when_the_fee_lookup_fails_then_the_fill_is_recorded_with_an_unknown_fee(system: System):
    # Arrange: the order fills at Kalshi; Kalshi then answers every read of it with a 500 (the client's retries too)
    ticker, order_id = resting_live_order(system, "hook-fee-down")
    system.exchange.fill_resting(order_id, 40)
    kalshi_id = _venue_order(system, order_id)["order_id"]
    system.exchange.inject(Fault(status=500, method="GET", path_contains=kalshi_id, times=10))
    # Act
    _relay_update(system, order_id, "executed", 40, "hook-fee-down-1")
    assert process_inbox(system.container) == {"filled": 1}
    # Assert: the lookup was tried; the fill is booked, its fee unknown (None, never 0); nothing left pending
    assert _order_lookups(system, order_id) >= 1
    assert _fill_fees(system, order_id) == [(40, None)]
    system.project("orders", "venue_orders")
    row = _order_row(system, order_id)
    assert (row["currentState"], row["filledSize"], row["feesUsd"], row["feesComplete"]) == (
        "FILLED", 40, None, False)
    position = _live_position(system, ticker)
    assert (position["contracts"], position["feesComplete"]) == (40, False)
    assert trade_row(system, order_id)["fees_cents"] is None  # the submission's 0 no longer covers its fills
    assert process_inbox(system.container) == {}


def test_webhook_fill_when_kalshi_has_not_filled_as_much_yet_then_fee_unknown_not_a_partial_figure(system: System):
    # Arrange: the relay reports 40 filled while Kalshi's order, read back, shows none yet (its fees lack them)
    _, order_id = resting_live_order(system, "hook-fee-behind")
    # Act
    _relay_update(system, order_id, "executed", 40, "hook-fee-behind-1")
    assert process_inbox(system.container) == {"filled": 1}
    # Assert: asked, but an answer that does not cover the fill gives no fee
    assert _order_lookups(system, order_id) == 1
    assert _fill_fees(system, order_id) == [(40, None)]
