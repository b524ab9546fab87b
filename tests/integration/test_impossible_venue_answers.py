"""Kalshi's answers that are well-formed but cannot be true of our order (ADR 0519), over the loopback exchange on
real PostgreSQL: an answer naming another market, side, action or client order id, a cumulative fill count below
the fills we recorded, a webhook fill above a buy's limit. None is booked: a submission's answer leaves the order
in doubt (settled later by client order id), a cancel's answer leaves the order working and the run reports it
failed, a webhook update is refused; the body stays in the evidence store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from paulp.api.cancel_job import cancel_outstanding, resolve_doubt
from paulp.api.webhook_jobs import process_inbox
from tests.fakes.kalshi_exchange import Fault, wire_order
from tests.integration.kalshi_system import System, _system, resting_live_order, trade_row, venue_order

pytestmark = pytest.mark.integration
SECRET = "relay-secret-0123456789abcdefghij"


@pytest.fixture
def system(fresh_db, nats_url, namespace, exchange, key, tmp_path) -> Iterator[System]:
    yield from _system(fresh_db, nats_url, namespace, exchange, key, tmp_path, KALSHI_WEBHOOK_SECRET=SECRET)


def _fills(system: System, order_id: str) -> list[tuple[int, float]]:
    order = system.order(order_id)
    return [(e.fill_size, e.fill_price) for e in system.events("FillRecorded") if e.originator_id == order.id]


def _alerts(system: System) -> list[str]:
    """The breaker's impossible-answer alerts (ADR 0520), oldest first: every one a warning, recorded only."""
    found = [e for e in system.events("CircuitBreaker.AlertRaised") if e.code == "IMPOSSIBLE_VENUE_ANSWER"]
    assert {e.severity for e in found} <= {"warning"}
    assert system.container.breaker.get().state.value == "NORMAL"
    return [e.message for e in found]


def _cancel(system: System) -> str:
    system.project("orders")
    [result] = cancel_outstanding(system.container, "audit")["results"]
    return str(result["outcome"])


def test_submit_when_kalshi_answers_with_an_order_in_another_market_then_in_doubt_and_nothing_booked(system: System):
    """Kalshi fills our order but answers with an executed order of another ticker: not booked as ours."""
    fault = Fault(status=201, process=True, method="POST", path_contains="/portfolio/orders")

    def answer_for_another_market() -> None:
        [placed] = system.exchange.orders
        fault.body = {"order": wire_order({**placed, "ticker": "KXOTHER-26DEC31-B1"}, system.exchange.shape)}

    fault.then = answer_for_another_market
    system.exchange.inject(fault)
    ticker, out = system.live_order("odd-ticker", size=40)
    order = system.order(out.order_id)
    assert (order.state.value, order.submission_in_doubt, order.filled_size) == ("SUBMITTED", True, 0)
    assert _fills(system, out.order_id) == []
    [alert] = _alerts(system)
    assert out.order_id in alert and "KXOTHER-26DEC31-B1" in alert and "evidence " in alert
    # the lookup by client order id then reads Kalshi's own record of our order, in our market: booked from that
    port, client = system.venue_port()
    try:
        resolve_doubt(system.container, order, port)
    finally:
        port.close(client)
    order = system.order(out.order_id)
    assert (order.state.value, order.ticker, order.filled_size) == ("FILLED", ticker, 40)


def test_lookup_when_kalshi_still_answers_for_another_market_then_still_in_doubt_and_alerted_again(system: System):
    """A submission in doubt after an impossible answer, asked for by client order id: Kalshi's record still names
    another market. Nothing is booked, the order stays in doubt (the run says so), the operator is told again."""
    fault = Fault(status=201, process=True, method="POST", path_contains="/portfolio/orders")

    def answer_for_another_market() -> None:
        [placed] = system.exchange.orders
        system.exchange._orders[placed["order_id"]]["ticker"] = "KXOTHER-26DEC31-B1"  # as every later read shows
        fault.body = {"order": wire_order({**placed, "ticker": "KXOTHER-26DEC31-B1"}, system.exchange.shape)}

    fault.then = answer_for_another_market
    system.exchange.inject(fault)
    _, out = system.live_order("odd-lookup", size=40)
    port, client = system.venue_port()
    try:
        outcome = resolve_doubt(system.container, system.order(out.order_id), port)
    finally:
        port.close(client)
    assert outcome == "in_doubt: Kalshi's answer cannot be true of the order (ImpossibleVenueAnswer)"
    order = system.order(out.order_id)
    assert (order.state.value, order.submission_in_doubt, order.filled_size) == ("SUBMITTED", True, 0)
    assert _fills(system, out.order_id) == [] and len(_alerts(system)) == 2
    # the order timers ask again every minute: the same answer again is no new alert (ADR 0526)
    port, client = system.venue_port()
    try:
        assert resolve_doubt(system.container, system.order(out.order_id), port) == outcome
    finally:
        port.close(client)
    assert len(_alerts(system)) == 2


@pytest.mark.parametrize("field,value", [("ticker", "KXOTHER-26DEC31-B1"), ("side", "no"), ("action", "sell"),
                                         ("client_order_id", "someone-elses-order")])
def test_cancel_when_kalshi_answers_for_another_order_then_nothing_booked_and_reported_failed(
        system: System, field: str, value: str):
    """The cancel's answer has filled 10 and cancelled the rest, but names another market, side, action or client
    order id: neither the fills nor the cancel are ours to record."""
    _, order_id = resting_live_order(system, f"odd-{field}")
    before = system.order(order_id).state.value
    venue = venue_order(system, order_id)
    system.exchange.amend_order(order_id, fill_count=10, remaining_count=venue["remaining_count"] - 10,
                                maker_fill_count=10, maker_fill_cost=10 * venue["yes_price"])
    system.exchange._orders[venue["order_id"]][field] = value  # Kalshi's copy, as its answers will show it
    assert _cancel(system) == "failed: ImpossibleVenueAnswer"
    order = system.order(order_id)
    assert (order.state.value, order.filled_size) == (before, 0)
    assert _fills(system, order_id) == []
    assert trade_row(system, order_id)["status"] == "submitted"
    [alert] = _alerts(system)
    assert order_id in alert and field in alert


def test_cancel_when_kalshi_answers_fewer_fills_than_we_recorded_then_nothing_changes(system: System):
    """We hold 10 of Kalshi's fills; its cancel answer says 4 filled in all: a cumulative count cannot go down."""
    ticker = system.tradable_ticker()
    ask = system.exchange.markets[ticker]["yes_ask"]
    system.exchange.set_book(ticker, yes=[(ask - 1, 100)], no=[(100 - ask, 10)])  # 10 offered at our limit
    _, out = system.live_order("fewer", size=40)
    assert (out.state, system.order(out.order_id).filled_size) == ("PARTIAL_FILL", 10)
    system.exchange.amend_order(out.order_id, fill_count=4, remaining_count=36, taker_fill_count=4,
                                taker_fill_cost=4 * ask)
    assert _cancel(system) == "failed: ImpossibleVenueAnswer"
    order = system.order(out.order_id)
    assert (order.state.value, order.filled_size) == ("PARTIAL_FILL", 10)
    row = trade_row(system, out.order_id)
    assert (row["status"], row["fill_count"]) == ("submitted", 10)
    [alert] = _alerts(system)
    assert "4 in all" in alert


def _relay(system: System, order_id: str, count: int, price: int, event_id: str) -> None:
    venue = venue_order(system, order_id)
    body = {"event_type": "order_update", "event_id": event_id,
            "payload": {"orderId": venue["order_id"], "clientOrderId": order_id, "status": "resting",
                        "filledCount": count, "filledPrice": price}}
    r = system.client.post("/webhooks/kalshi/events", content=json.dumps(body).encode(),
                           headers={"x-kalshi-webhook-secret": SECRET, "Content-Type": "application/json"})
    assert r.status_code == 200, r.text


def test_webhook_fill_when_priced_above_our_buy_limit_then_refused_and_not_booked(system: System):
    """A buy limited at L cannot fill above L: an update saying so is refused, neither fill nor price recorded."""
    _, order_id = resting_live_order(system, "odd-price")
    limit = int(system.order(order_id).max_price)
    system.exchange.fill_resting(order_id, 15)
    _relay(system, order_id, 15, limit + 20, "odd-price-1")
    assert process_inbox(system.container) == {"refused:fill_outside_limit": 1}
    assert system.order(order_id).filled_size == 0
    row: dict[str, Any] = trade_row(system, order_id)
    assert (row["fill_count"], row["fill_price"]) == (0, None)
    [alert] = _alerts(system)
    assert order_id in alert and "fill_outside_limit" in alert
    # the true update (at the limit) is then booked as usual
    _relay(system, order_id, 15, limit, "odd-price-2")
    assert process_inbox(system.container) == {"filled": 1}
    assert _fills(system, order_id) == [(15, float(limit))]


def test_webhook_update_when_status_goes_back_from_executed_to_resting_then_the_record_stays_executed(system: System):
    """Kalshi's status never goes back from executed: a later update saying "resting" (with the same count) is an
    older one arriving late, and changes neither the order nor its venue record."""
    _, order_id = resting_live_order(system, "odd-back")
    limit = int(system.order(order_id).max_price)
    system.exchange.fill_resting(order_id, 40)
    body = {"orderId": venue_order(system, order_id)["order_id"], "clientOrderId": order_id,
            "filledCount": 40, "filledPrice": limit}
    for event_id, status in (("odd-back-1", "executed"), ("odd-back-2", "resting")):
        r = system.client.post("/webhooks/kalshi/events", headers={"x-kalshi-webhook-secret": SECRET},
                               json={"event_type": "order_update", "event_id": event_id,
                                     "payload": {**body, "status": status}})
        assert r.status_code == 200, r.text
    assert process_inbox(system.container) == {"filled": 1, "unchanged": 1}
    assert system.order(order_id).state.value == "FILLED"
    row = trade_row(system, order_id)
    assert (row["status"], row["fill_count"]) == ("executed", 40)
