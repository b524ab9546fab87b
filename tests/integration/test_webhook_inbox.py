"""Relayed venue events applied from the inbox (api-and-security §1.6, ADR 0261), on real PostgreSQL with
the loopback Kalshi exchange: a resting LIVE order filled or cancelled by the relay, once, whatever the
relay repeats; paper orders and unknown ids are recorded and left alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest

from paulp.adapters.market_data import StaticMarketData
from paulp.api.webhook_jobs import process_inbox
from tests.integration.helpers import NOW, facts, signal
from tests.integration.kalshi_system import System, _system, resting_live_order, tradable_ticker, trade_row

pytestmark = pytest.mark.integration
SECRET = "relay-secret-0123456789abcdefghij"


@pytest.fixture
def system(fresh_db, nats_url, namespace, exchange, key, tmp_path) -> Iterator[System]:
    # the relayed fills below are at 44-45 cents: the market we buy in is quoted 44/45, so our limit (45) allows them
    # (a buy never fills above its limit; ADR 0519)
    exchange.markets[tradable_ticker(exchange)].update(yes_bid=44, yes_ask=45, no_bid=55, no_ask=56)
    yield from _system(fresh_db, nats_url, namespace, exchange, key, tmp_path, KALSHI_WEBHOOK_SECRET=SECRET)


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


def _recorded_after(system: System, head: int) -> list[str]:
    """Events after ``head`` other than the relayed bodies' own evidence records (ADR 0406)."""
    return [q for q in (type(e).__qualname__ for e in system.events("", head))
            if q != "EvidenceRecord.EvidenceStored"]


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
    assert _recorded_after(system, head) == ["VenueOrder.Updated"]


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
    system.project("venue_orders")  # the view has seen the log as the relay left it (its EvidenceStored events)
    assert process_inbox(system.container) == {"mismatch": 1, "unknown_order": 2}
    assert _recorded_after(system, head) == []  # nothing recorded on any order or venue record
    for order_id in (first, second):
        order = system.container.orders.find(order_id)
        assert order is not None and order.state.value in ("SUBMITTED", "ORDER_ACKNOWLEDGED")
    with psycopg.connect(system.container.database_url) as conn:
        kept = conn.execute("SELECT outcome, evidence_hash FROM webhook_inbox ORDER BY dedupe_key").fetchall()
    assert sorted(o for o, _ in kept) == ["mismatch", "unknown_order", "unknown_order"] and all(e for _, e in kept)


# ----------------------------------------------------------------- fixed-point counts and dollar prices (ADR 0332)


def _post(system: System, body: dict):  # type: ignore[no-untyped-def]
    return system.client.post("/webhooks/kalshi/events", content=json.dumps(body).encode(),
                              headers={"x-kalshi-webhook-secret": SECRET, "Content-Type": "application/json"})


def _stored(system: System) -> tuple[int, int]:
    """(inbox rows, indexed evidence fetches)."""
    with psycopg.connect(system.container.database_url) as conn:
        inbox = conn.execute("SELECT count(*) FROM webhook_inbox").fetchone()
        fetches = conn.execute("SELECT count(*) FROM evidence_fetches WHERE source = 'kalshi_webhook'").fetchone()
    return (int(inbox[0]) if inbox else 0, int(fetches[0]) if fetches else 0)


def _fp_update(order_id: str, status: str, **numbers: object) -> dict:
    return {"event_type": "order_update", "payload": {"orderId": order_id, "status": status, **numbers}}


def test_order_update_when_counts_and_prices_are_fixed_point_strings_then_order_filled_once(system: System):
    """Kalshi's fixed-point forms (``fill_count_fp`` "15.00", ``fill_price_dollars`` "0.4400", or the relay's
    ``filledCount`` as "40.00") fill the order as the integers did. Two partial fills with the same status are two
    updates (the count in the de-duplication key is read from whichever field carried it), and the same update
    spelled as an integer is a duplicate."""
    ticker, order_id = resting_live_order(system, "relay-fp")
    assert _relay(system, _fp_update(order_id, "resting", fill_count_fp="15.00",
                                     fill_price_dollars="0.4400")) == {"received": True, "duplicate": False}
    assert _relay(system, _fp_update(order_id, "resting", fill_count_fp="20.00",
                                     fill_price_dollars="0.4400")) == {"received": True, "duplicate": False}
    assert _relay(system, _fp_update(order_id, "resting", filledCount=20, filledPrice=44)) == {
        "received": True, "duplicate": True}
    assert process_inbox(system.container) == {"filled": 2}
    order = system.container.orders.find(order_id)
    assert order is not None and (order.state.value, order.filled_size, order.avg_fill_price) == (
        "PARTIAL_FILL", 20, 44.0)

    _relay(system, _fp_update(order_id, "executed", filledCount="40.00", filledPrice=44))  # the relay's, as text
    assert process_inbox(system.container) == {"filled": 1}
    order = system.container.orders.find(order_id)
    assert order is not None and (order.state.value, order.filled_size) == ("FILLED", 40)
    assert len(system.events("FillRecorded")) == 3
    system.project("orders")
    with psycopg.connect(system.container.database_url) as conn:
        assert conn.execute("SELECT contracts, cost_cents FROM views.positions WHERE ticker = %s",
                            (ticker,)).fetchone() == (40, 1760)
    row = trade_row(system, order_id)
    assert (row["status"], row["fill_count"], row["fill_price"]) == ("executed", 40, 44.0)


def test_order_update_when_both_forms_are_sent_then_the_fixed_point_ones_win(system: System):
    _, order_id = resting_live_order(system, "relay-fp-wins")
    _relay(system, _fp_update(order_id, "resting", fill_count_fp="12.00", filledCount=5, fill_count=3,
                              fill_price_dollars="0.4300", filledPrice=44, fill_price=45))
    assert process_inbox(system.container) == {"filled": 1}
    order = system.container.orders.find(order_id)
    assert order is not None and (order.filled_size, order.avg_fill_price) == (12, 43.0)
    row = trade_row(system, order_id)
    assert (row["fill_count"], row["fill_price"]) == (12, 43.0)


def test_order_update_when_only_kalshis_legacy_fields_then_read_as_before(system: System):
    """Kalshi's integer spellings (``fill_count``, ``fill_price`` in cents) still count when nothing else is sent."""
    _, order_id = resting_live_order(system, "relay-legacy")
    _relay(system, _fp_update(order_id, "resting", fill_count=7, fill_price=44))
    assert process_inbox(system.container) == {"filled": 1}
    order = system.container.orders.find(order_id)
    assert order is not None and order.filled_size == 7


@pytest.mark.parametrize(("numbers", "field", "reason"), [
    ({"fill_count_fp": "ten"}, "fill_count_fp", "not_a_number"),
    ({"fill_count_fp": "-1.00"}, "fill_count_fp", "negative"),
    ({"fill_count_fp": True, "filledCount": 5}, "fill_count_fp", "not_a_number"),  # no falling back to 5
    ({"filledCount": "abc"}, "filledCount", "not_a_number"),
    ({"filledCount": "NaN"}, "filledCount", "not_a_number"),
    ({"filledCount": -3}, "filledCount", "negative"),
    ({"filledCount": 5, "fill_price_dollars": "0.4x"}, "fill_price_dollars", "not_a_number"),
    ({"filledCount": 5, "filledPrice": "42"}, "filledPrice", "not_a_number"),  # cents as text: not guessed
    ({"filledCount": 5, "filledPrice": -1}, "filledPrice", "negative"),
])
def test_order_update_when_a_number_is_unreadable_then_400_names_it_and_nothing_is_stored(
        system: System, numbers: dict, field: str, reason: str):
    r = _post(system, _fp_update("order-x", "executed", **numbers))
    assert r.status_code == 400
    assert r.json() == {"error": "Invalid event", "code": "invalid_event", "field": field, "reason": reason}
    assert _stored(system) == (0, 0)


def test_fill_when_unreadable_or_missing_then_400_names_it_and_nothing_is_stored(system: System):
    base = {"orderId": "o-1", "marketId": "KX-1", "side": "yes", "timestamp": 1}
    for numbers, field, reason in [({"count_fp": "x", "yes_price_dollars": "0.4300"}, "count_fp", "not_a_number"),
                                   ({"count_fp": "3.00", "yes_price_dollars": "-0.01"}, "yes_price_dollars",
                                    "negative"),
                                   ({"count_fp": "3.00"}, "fillPrice", "missing"),
                                   ({"yes_price_dollars": "0.43"}, "fillSize", "missing")]:
        r = _post(system, {"event_type": "fill", "payload": {**base, **numbers}})
        assert (r.status_code, r.json()) == (400, {"error": "Invalid event", "code": "invalid_event",
                                                   "field": field, "reason": reason}), numbers
    for deep in (b"[" * 100_000 + b"]" * 100_000, b'{"event_type":"fill","payload":' + b"[" * 900 + b"]" * 900
                 + b"}"):  # nested past the decoder's limit was a 500 (ADR 0490); a deep payload is not a fill
        r = system.client.post("/webhooks/kalshi/events", content=deep,
                               headers={"x-kalshi-webhook-secret": SECRET, "Content-Type": "application/json"})
        assert (r.status_code, r.json()["code"]) == (400, "invalid_event")
    assert _stored(system) == (0, 0)


def test_fill_when_fixed_point_then_kept_as_received(system: System):
    """A relayed fill in Kalshi's fixed-point fields (``count_fp``, ``<side>_price_dollars``) is kept, a fraction
    of a contract included (it is evidence for reconciliation, nothing books it); positions do not change."""
    head = system.head()
    for size in ("3.00", "2.50"):
        _relay(system, {"event_type": "fill", "payload": {"orderId": "o-1", "marketId": "KX-1", "side": "no",
                                                          "count_fp": size, "no_price_dollars": "0.5700",
                                                          "timestamp": 1}, "event_id": f"f-{size}"})
    assert process_inbox(system.container) == {"recorded": 2}
    assert _recorded_after(system, head) == []


def test_order_update_when_fill_count_is_fractional_then_kept_refused_and_nothing_booked(system: System):
    """ADR 0331/0332: a fraction of a contract on our whole-contract order is never rounded. The update is stored
    with its evidence (it is what Kalshi said), then refused when applied: no fill, no status, no record change;
    a later whole count is applied as usual."""
    _, order_id = resting_live_order(system, "relay-fraction")
    head = system.head()
    assert _relay(system, _fp_update(order_id, "canceled", fill_count_fp="12.50",
                                     fill_price_dollars="0.4400"))["duplicate"] is False
    assert _relay(system, _fp_update(order_id, "canceled", filledCount="12.5",
                                     filledPrice=44))["duplicate"] is True  # the same count, spelled otherwise
    assert process_inbox(system.container) == {"refused:venue_fractional_contracts": 1}
    assert _recorded_after(system, head) == []  # nothing recorded on the order or its venue record
    order = system.container.orders.find(order_id)
    assert order is not None and (order.state.value, order.filled_size) in (
        ("SUBMITTED", 0), ("ORDER_ACKNOWLEDGED", 0))
    with psycopg.connect(system.container.database_url) as conn:
        assert conn.execute("SELECT outcome, evidence_hash IS NOT NULL FROM webhook_inbox").fetchall() == [
            ("refused:venue_fractional_contracts", True)]
    _relay(system, _fp_update(order_id, "executed", fill_count_fp="40.00", fill_price_dollars="0.4400"))
    assert process_inbox(system.container) == {"filled": 1}
    order = system.container.orders.find(order_id)
    assert order is not None and (order.state.value, order.filled_size) == ("FILLED", 40)


def test_fill_when_two_fills_of_one_order_carry_no_event_id_then_both_are_kept_and_a_replay_is_a_duplicate(
        system: System):
    """§1.6's key (event_type, orderId, status, filledCount) names an order update; a fill has neither status
    nor filledCount, so by it every fill of an order after the first was answered "duplicate" and lost. A fill
    is keyed by its trade id when it has one, else by what it says (market, side, size, price, time)."""
    base = {"orderId": "o-7", "marketId": "KX-7", "side": "yes", "fillPrice": 41}
    first = _relay(system, {"event_type": "fill", "payload": {**base, "fillSize": 5, "timestamp": 100}})
    second = _relay(system, {"event_type": "fill", "payload": {**base, "fillSize": 5, "timestamp": 160}})
    replay = _relay(system, {"event_type": "fill", "payload": {**base, "fillSize": 5, "timestamp": 160}})
    same_in_fixed_point = _relay(system, {"event_type": "fill", "payload": {
        **{k: v for k, v in base.items() if k != "fillPrice"}, "count_fp": "5.00", "yes_price_dollars": "0.4100",
        "timestamp": 160}})
    traded = [_relay(system, {"event_type": "fill", "payload": {**base, "fillSize": 5, "timestamp": 200,
                                                                "trade_id": tid}}) for tid in ("t-1", "t-2", "t-1")]
    assert [r["duplicate"] for r in (first, second, replay, same_in_fixed_point)] == [False, False, True, True]
    assert [r["duplicate"] for r in traded] == [False, False, True]
    assert _stored(system)[0] == 4
