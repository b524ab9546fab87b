"""Kalshi's answers about a LIVE exit's sell that are well formed but cannot be true of it (ADR 0520), over the loopback
exchange on real PostgreSQL: an answer naming another market, side, action or client order id, a cumulative fill
count going down, a sell filled below its limit, a relayed update of the sell going back or below its limit. None is
booked (no sale, no PnL, the position and the sell's trade row as they were): the exit is left in doubt, to be
settled from Kalshi's own record by client order id on a later run, and each refusal is an
``IMPOSSIBLE_VENUE_ANSWER`` alert on the breaker (a warning: recorded, no transition)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from paulp.api.exit_jobs import monitor_exits
from paulp.api.webhook_jobs import process_inbox
from paulp.domain.marks import Quotes
from tests.fakes.kalshi_exchange import Fault, wire_order
from tests.integration.kalshi_system import System, _system, trade_row

pytestmark = pytest.mark.integration
SECRET = "relay-secret-0123456789abcdefghij"
ALERT = "IMPOSSIBLE_VENUE_ANSWER"


@pytest.fixture
def system(fresh_db, nats_url, namespace, exchange, key, tmp_path) -> Iterator[System]:
    yield from _system(fresh_db, nats_url, namespace, exchange, key, tmp_path, KALSHI_WEBHOOK_SECRET=SECRET)


def _live_position(system: System) -> tuple[str, int]:
    """40 LIVE contracts bought at the fake, then the market falls to a stop: (ticker, the YES bid to sell at)."""
    ticker, _ = system.live_fill("exit-odd", size=40)
    system.project("orders", "venue_orders")
    assert _held(system, ticker)[0] == 40
    entry = _held(system, ticker)[1] / 40
    bid = int(entry * 0.9)
    system.exchange.markets[ticker].update(yes_bid=bid, yes_ask=bid + 1)
    system.mark(ticker, Quotes(bid, bid + 1, 99 - bid, 100 - bid))
    return ticker, bid


def _held(system: System, ticker: str) -> tuple[int, int, float]:
    """The LIVE position as the positions view holds it: contracts, cost cents, realized PnL (USD)."""
    system.project("orders", "venue_orders")
    with psycopg.connect(system.container.database_url) as conn:
        row = conn.execute("SELECT contracts, cost_cents, realized_pnl_usd FROM views.positions"
                           " WHERE ticker = %s AND mode = 'LIVE'", (ticker,)).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), float(row[2])


def _booked(system: System, ticker: str, sell: str) -> dict[str, Any]:
    """What the log and the views hold of the exit: its sales, the position, the sell's trade row."""
    sales = [(e.size, e.exit_price) for e in system.events("PositionExit.Filled")]
    contracts, _, pnl = _held(system, ticker)
    row = trade_row(system, sell)
    return {"sales": sales, "contracts": contracts, "pnl": pnl,
            "row": (row["status"], row["fill_count"], row["fill_price"])}


def _alerts(system: System) -> list[str]:
    """The messages of the breaker's impossible-answer alerts, oldest first (each a warning)."""
    found = [e for e in system.events("CircuitBreaker.AlertRaised") if e.code == ALERT]
    assert {e.severity for e in found} <= {"warning"}
    return [e.message for e in found]


def _placed_sell(system: System) -> dict[str, Any]:
    [sell] = [o for o in system.exchange.orders if o["action"] == "sell"]
    return sell


def _answer_sell_with(system: System, method: str, path: str, **changes: Any) -> None:
    """The next ``method`` on ``path`` is carried out by the exchange, but its answer shows the sell with
    ``changes`` (computed from the order as placed, when callable)."""
    fault = Fault(status=200 if method == "DELETE" else 201, process=True, method=method, path_contains=path)

    def answer() -> None:
        placed = _placed_sell(system)
        shown = {k: v(placed) if callable(v) else v for k, v in changes.items()}
        fault.body = {"order": wire_order({**placed, **shown}, system.exchange.shape)}

    fault.then = answer
    system.exchange.inject(fault)


@pytest.mark.parametrize("field,value", [("ticker", "KXOTHER-26DEC31-B1"), ("side", "no"), ("action", "buy"),
                                         ("client_order_id", "someone-elses-order")])
def test_exit_sell_when_kalshi_answers_for_another_order_then_in_doubt_nothing_booked_then_settled_by_lookup(
        system: System, field: str, value: str):
    """The sell executed, but the create-order answer names another market, side, action or client order id."""
    ticker, bid = _live_position(system)
    _answer_sell_with(system, "POST", "/portfolio/orders", **{field: value})
    [doubt] = monitor_exits(system.container)["exits"]
    assert doubt["state"] == "IN_DOUBT"
    assert _booked(system, ticker, doubt["clientOrderId"]) == {
        "sales": [], "contracts": 40, "pnl": 0.0, "row": ("unknown", 0, None)}
    [alert] = _alerts(system)
    assert doubt["clientOrderId"] in alert and field in alert
    # the next run asks Kalshi by client order id: its own record of our sell is booked, nothing sold again
    [done] = monitor_exits(system.container)["exits"]
    assert (done["state"], done["clientOrderId"], done["exitPrice"]) == ("FILLED", doubt["clientOrderId"], bid)
    assert len(system.sells()) == 1
    assert _held(system, ticker)[0] == 0


def test_exit_sell_when_filled_below_its_limit_then_in_doubt_and_nothing_booked(system: System):
    """A sell limited at L never fills below L: an answer whose fills went for 10 cents less is not booked."""
    ticker, bid = _live_position(system)
    _answer_sell_with(system, "POST", "/portfolio/orders", yes_price=bid - 10, no_price=110 - bid,
                      taker_fill_cost=lambda o: o["fill_count"] * (bid - 10))
    [doubt] = monitor_exits(system.container)["exits"]
    assert doubt["state"] == "IN_DOUBT"
    assert _booked(system, ticker, doubt["clientOrderId"]) == {
        "sales": [], "contracts": 40, "pnl": 0.0, "row": ("unknown", 0, None)}
    [alert] = _alerts(system)
    assert "below" in alert
    [done] = monitor_exits(system.container)["exits"]
    assert (done["state"], done["exitPrice"]) == ("FILLED", bid)


def test_exit_sell_when_the_cancel_answer_counts_fewer_fills_than_the_sell_answer_then_nothing_booked(
        system: System):
    """The sell fills 15 and rests the rest; the cancel of the rest answers 4 filled in all: Kalshi's cumulative
    count never goes down, so neither figure is booked until Kalshi's record is read again."""
    ticker, bid = _live_position(system)
    system.exchange.set_book(ticker, yes=[(bid, 15)], no=[(100 - bid - 1, 100)])  # 15 bid at our limit
    _answer_sell_with(system, "DELETE", "/portfolio/orders/", status="canceled", fill_count=4,
                      taker_fill_count=4, taker_fill_cost=4 * bid, remaining_count=0)
    [doubt] = monitor_exits(system.container)["exits"]
    assert doubt["state"] == "IN_DOUBT"
    assert _booked(system, ticker, doubt["clientOrderId"]) == {
        "sales": [], "contracts": 40, "pnl": 0.0, "row": ("unknown", 0, None)}
    [alert] = _alerts(system)
    assert "4 in all" in alert
    [done] = monitor_exits(system.container)["exits"]  # Kalshi's record: 15 filled, the rest cancelled
    assert (done["state"], done["contracts"], done["exitPrice"]) == ("FILLED", 15, bid)
    assert _held(system, ticker)[0] == 25


def _relay(system: System, sell: str, status: str, count: int, price: int, event_id: str) -> None:
    body = {"event_type": "order_update", "event_id": event_id,
            "payload": {"orderId": _placed_sell(system)["order_id"], "clientOrderId": sell, "status": status,
                        "filledCount": count, "filledPrice": price}}
    r = system.client.post("/webhooks/kalshi/events", content=json.dumps(body).encode(),
                           headers={"x-kalshi-webhook-secret": SECRET, "Content-Type": "application/json"})
    assert r.status_code == 200, r.text


def test_webhook_update_of_an_exit_sell_when_priced_below_its_limit_then_refused_and_the_row_unchanged(
        system: System):
    ticker, bid = _live_position(system)
    [done] = monitor_exits(system.container)["exits"]
    assert done["state"] == "FILLED"
    sell = done["clientOrderId"]
    before = _booked(system, ticker, sell)
    assert before["row"] == ("filled", 40, bid)
    _relay(system, sell, "executed", 40, bid - 10, "odd-sell-1")
    assert process_inbox(system.container) == {"refused:fill_outside_limit": 1}
    assert _booked(system, ticker, sell) == before
    [alert] = _alerts(system)
    assert sell in alert


def test_webhook_update_of_an_exit_sell_when_its_status_goes_back_then_unchanged(system: System):
    """An exit's sell in doubt, then relayed executed, then relayed resting (an older update arriving late)."""
    _, bid = _live_position(system)
    system.exchange.inject(Fault(status=500, process=True, method="POST", path_contains="/portfolio/orders"))
    [doubt] = monitor_exits(system.container)["exits"]
    assert doubt["state"] == "IN_DOUBT"
    sell = doubt["clientOrderId"]
    _relay(system, sell, "executed", 40, bid, "back-1")
    _relay(system, sell, "resting", 40, bid, "back-2")
    assert process_inbox(system.container) == {"recorded": 1, "unchanged": 1}
    assert trade_row(system, sell)["status"] == "executed"


def test_exit_sell_when_kalshi_keeps_answering_the_same_impossible_record_then_one_alert_until_it_changes(
        system: System):
    """Kalshi's record of the sell shows it filled below its limit on every read: the exits run (every 5 minutes)
    meets the same refused answer each time. The operator is told once per answer (ADR 0526): the create-order
    answer, then the first lookup (another body); the same lookup again is no new alert. A changed answer is."""
    ticker, bid = _live_position(system)
    low = {"yes_price": bid - 10, "no_price": 110 - bid, "taker_fill_cost": 40 * (bid - 10)}
    _answer_sell_with(system, "POST", "/portfolio/orders", **low)
    [doubt] = monitor_exits(system.container)["exits"]
    sell = doubt["clientOrderId"]
    truth = system.exchange.amend_order(sell, **low)  # every later read shows it so
    for _ in range(3):
        [again] = monitor_exits(system.container)["exits"]
        assert again["state"] == "IN_DOUBT"
    alerts = _alerts(system)
    assert len(alerts) == 2 and all(sell in a and "below" in a for a in alerts)
    assert _booked(system, ticker, sell)["sales"] == []
    system.exchange.amend_order(sell, taker_fill_cost=40 * (bid - 12), yes_price=bid - 12, no_price=112 - bid)
    monitor_exits(system.container)
    monitor_exits(system.container)
    assert len(_alerts(system)) == 3  # another answer: one more, once
    system.exchange.amend_order(sell, **truth)
    [done] = monitor_exits(system.container)["exits"]
    assert (done["state"], done["exitPrice"]) == ("FILLED", bid)
    assert len(_alerts(system)) == 3
