"""Fees of LIVE fills that arrive by webhook order update (ADR 0443), over the loopback Kalshi exchange on real
PostgreSQL: the update carries no fee, so the inbox consumer asks Kalshi for the order and records the increment of
its cumulative fees on the fill; when that lookup fails the fill is recorded all the same, its fee unknown."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from paulp.api.webhook_jobs import process_inbox
from tests.fakes.kalshi_exchange import Fault
from tests.integration.kalshi_system import (
    System,
    _system,
    live_position,
    order_row,
    relay_update,
    resting_live_order,
    trade_row,
    venue_order,
    venue_order_lookups,
)

pytestmark = pytest.mark.integration
SECRET = "relay-secret-0123456789abcdefghij"


@pytest.fixture
def system(fresh_db, nats_url, namespace, exchange, key, tmp_path) -> Iterator[System]:
    yield from _system(fresh_db, nats_url, namespace, exchange, key, tmp_path, KALSHI_WEBHOOK_SECRET=SECRET)


def _fill_fees(system: System, order_id: str) -> list[tuple[int, Decimal | None]]:
    order = system.container.orders.find(order_id)
    assert order is not None
    return [(e.fill_size, e.fee_cents) for e in system.events("FillRecorded") if e.originator_id == order.id]


def test_webhook_fills_when_kalshi_charged_maker_fees_then_each_fill_records_its_increment(system: System):
    # Arrange: our 40-contract order rests at Kalshi; someone takes 15, then the other 25 (maker fees both times)
    ticker, order_id = resting_live_order(system, "hook-fee")
    first = system.exchange.fill_resting(order_id, 15)
    # Act: the relay's update for the 15, applied by the inbox consumer; then the same for the rest
    relay_update(system, SECRET, order_id, "resting", 15, "hook-fee-1")
    assert process_inbox(system.container) == {"filled": 1}
    second = system.exchange.fill_resting(order_id, 25)
    relay_update(system, SECRET, order_id, "executed", 40, "hook-fee-2")
    assert process_inbox(system.container) == {"filled": 1}
    # Assert: each fill carries what Kalshi charged for it, asked once per fill
    assert first > 0 and second > 0
    assert _fill_fees(system, order_id) == [(15, Decimal(first)), (25, Decimal(second))]
    assert venue_order_lookups(system, order_id) == 2
    system.project("orders", "venue_orders")
    row = order_row(system, order_id)
    assert (row["currentState"], row["filledSize"], row["feesUsd"], row["feesComplete"]) == (
        "FILLED", 40, (first + second) / 100, True)
    position = live_position(system, ticker)
    assert (position["contracts"], position["feesUsd"], position["feesComplete"]) == (
        40, (first + second) / 100, True)
    assert trade_row(system, order_id)["fees_cents"] == first + second


def test_webhook_fill_when_the_fee_lookup_fails_then_the_fill_is_recorded_with_an_unknown_fee(system: System):
    # Arrange: the order fills at Kalshi; Kalshi then answers every read of it with a 500 (the client's retries too)
    ticker, order_id = resting_live_order(system, "hook-fee-down")
    system.exchange.fill_resting(order_id, 40)
    kalshi_id = venue_order(system, order_id)["order_id"]
    system.exchange.inject(Fault(status=500, method="GET", path_contains=kalshi_id, times=10))
    # Act
    relay_update(system, SECRET, order_id, "executed", 40, "hook-fee-down-1")
    assert process_inbox(system.container) == {"filled": 1}
    # Assert: the lookup was tried; the fill is booked, its fee unknown (None, never 0); nothing left pending
    assert venue_order_lookups(system, order_id) >= 1
    assert _fill_fees(system, order_id) == [(40, None)]
    system.project("orders", "venue_orders")
    row = order_row(system, order_id)
    assert (row["currentState"], row["filledSize"], row["feesUsd"], row["feesComplete"]) == (
        "FILLED", 40, None, False)
    position = live_position(system, ticker)
    assert (position["contracts"], position["feesComplete"]) == (40, False)
    assert trade_row(system, order_id)["fees_cents"] is None  # the submission's 0 no longer covers its fills
    assert process_inbox(system.container) == {}


def test_webhook_fill_when_kalshi_is_slow_to_answer_then_the_inbox_stops_waiting_and_books_the_fill_fee_unknown(
        system: System, monkeypatch: pytest.MonkeyPatch):
    # Arrange: Kalshi answers the order read only after 5 s (then with the fee); the inbox waits 0.5 s at most
    monkeypatch.setattr("paulp.api.webhook_jobs.INBOX_LOOKUP_TIMEOUT_S", 0.5)
    _, order_id = resting_live_order(system, "hook-fee-slow")
    system.exchange.fill_resting(order_id, 40)
    kalshi_id = venue_order(system, order_id)["order_id"]
    system.exchange.inject(Fault(status=None, delay_s=5.0, method="GET", path_contains=kalshi_id, times=10))
    # Act
    relay_update(system, SECRET, order_id, "executed", 40, "hook-fee-slow-1")
    assert process_inbox(system.container) == {"filled": 1}
    # Assert: booked without the fee the slow answer would have carried; the reconcile run settles it (ADR 0448)
    assert _fill_fees(system, order_id) == [(40, None)]


def test_webhook_fill_when_kalshi_has_not_filled_as_much_yet_then_fee_unknown_not_a_partial_figure(system: System):
    # Arrange: the relay reports 40 filled while Kalshi's order, read back, shows none yet (its fees lack them)
    _, order_id = resting_live_order(system, "hook-fee-behind")
    # Act
    relay_update(system, SECRET, order_id, "executed", 40, "hook-fee-behind-1")
    assert process_inbox(system.container) == {"filled": 1}
    # Assert: asked, but an answer that does not cover the fill gives no fee
    assert venue_order_lookups(system, order_id) == 1
    assert _fill_fees(system, order_id) == [(40, None)]
