"""The LIVE paths with Kalshi's integer count and price fields gone (ADRs 0330, 0331): the loopback exchange
answers orders, positions and the book with ``*_fp`` / ``*_dollars`` strings only and reads order requests from
their fixed-point fields. Submission, the in-doubt lookup, cancels, reconciliation and exits all still read what
Kalshi holds; a fraction of a contract is refused on an order and kept exactly on a position (graded by §7's
bands, ADR 0362), never rounded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from paulp.adapters.evidence_store import EvidenceStore
from paulp.adapters.kalshi.client import KalshiClient, KalshiClientConfig
from paulp.adapters.kalshi.client_errors import VenueRequestRejected
from paulp.adapters.kalshi.market_fields import FractionalContracts
from paulp.adapters.kalshi.signing import load_credentials
from paulp.adapters.kalshi.venue import KalshiVenue
from paulp.adapters.market_data import StaticMarketData
from paulp.api.cancel_job import cancel_outstanding
from paulp.api.exit_jobs import monitor_exits
from paulp.domain.marks import Quotes
from tests.fakes.kalshi_exchange import FakeKalshiExchange, Fault
from tests.integration.helpers import NOW
from tests.integration.kalshi_system import AUTH, KEY_ID, System, pem, resting_live_order, trade_row

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@pytest.fixture
def exchange(key: rsa.RSAPrivateKey) -> Iterator[FakeKalshiExchange]:
    """Kalshi once the integer fields are withdrawn: fixed-point strings only, in answers and in requests."""
    with FakeKalshiExchange(key.public_key(), KEY_ID, shape="dollars") as fake:
        yield fake


def _posts(system: System) -> list[Any]:
    return [r for r in system.exchange.requests if r.method == "POST" and r.path.endswith("/portfolio/orders")]


def _reconcile(system: System) -> dict[str, Any]:
    system.project("orders", "venue_orders")
    r = system.client.post("/admin/reconcile", headers=AUTH)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _stop(system: System, ticker: str, entry: float) -> int:
    """The market falls to a stop below ``entry``; the fake's book and our mark follow. The bid."""
    bid = int(entry * 0.9)
    system.exchange.markets[ticker].update(yes_bid=bid, yes_ask=bid + 1)
    assert system.container.markets.observe(ticker, Quotes(bid, bid + 1, 99 - bid, 100 - bid), NOW, None)
    system.project("orders", "venue_orders", "market_marks")
    return bid


def test_live_buy_when_only_fixed_point_fields_then_filled_and_the_request_carries_both_forms_equal(system: System):
    ticker, order_id = system.live_fill("fp-buy", size=40)
    [post] = _posts(system)
    body, answer = json.loads(post.body), json.loads(post.response_body)["order"]
    assert (body["count"], body["count_fp"]) == (40, "40.00")
    assert body["yes_price_dollars"] == f"{Decimal(body['yes_price']) / 100:.4f}"
    assert "fill_count" not in answer and answer["fill_count_fp"] == "40.00"  # the answer is fixed point only
    order = system.container.orders.find(order_id)
    assert order is not None and (order.filled_size, order.avg_fill_price) == (
        40, system.exchange.markets[ticker]["yes_ask"])


def test_live_buy_when_answer_lost_then_in_doubt_and_found_filled_by_client_order_id(system: System):
    system.exchange.inject(Fault(status=500, process=True, method="POST", path_contains="/portfolio/orders"))
    _, out = system.live_order("fp-doubt", size=40)
    order = system.container.orders.find(out.order_id)
    assert order is not None and order.submission_in_doubt
    port, client = system.venue_port()
    try:
        resolved = system.container.pipeline(StaticMarketData({}), port).resolve_in_doubt(out.order_id)
    finally:
        port.close(client)
    assert resolved.state == "FILLED" and len(_posts(system)) == 1
    order = system.container.orders.find(out.order_id)
    assert order is not None and order.filled_size == 40  # not "nothing filled" for want of fill_count


def test_resting_live_order_when_cancelled_then_kalshis_fixed_point_answer_read(system: System):
    _, resting = resting_live_order(system, "fp-cancel")
    system.project("orders")
    [result] = cancel_outstanding(system.container, "rollback")["results"]
    assert result["outcome"] == "cancelled_at_venue"
    assert (trade_row(system, resting)["status"], trade_row(system, resting)["fill_count"]) == ("cancelled", 0)


def test_reconcile_when_kalshi_reports_position_fp_only_then_matched_not_critical(system: System):
    system.live_fill("fp-rec", size=40)
    run = _reconcile(system)
    assert run["status"] == "ok" and {(d["venueSize"], d["severity"]) for d in run["drifts"]} == {(40, "none")}
    assert system.container.breaker.get().state.value == "NORMAL"


def test_live_stop_when_only_fixed_point_fields_then_sold_at_the_bid_and_venue_flat(system: System):
    ticker, order_id = system.live_fill("fp-exit", size=40)
    order = system.container.orders.find(order_id)
    assert order is not None and order.avg_fill_price is not None
    bid = _stop(system, ticker, order.avg_fill_price)
    report = monitor_exits(system.container)
    [done] = report["exits"]
    assert (done["state"], done["contracts"], done["exitPrice"]) == ("FILLED", 40, float(bid)), report
    sell = json.loads(_posts(system)[-1].body)
    assert (sell["action"], sell["count"], sell["count_fp"]) == ("sell", 40, "40.00")
    assert system.exchange._positions[ticker] == 0 and _reconcile(system)["status"] == "ok"


def test_position_when_kalshi_holds_a_fraction_then_graded_as_drift_and_exit_sells_whole_only(system: System):
    ticker, order_id = system.live_fill("fp-frac", size=40)
    system.exchange.set_position(ticker, Decimal("40.50"))
    run = _reconcile(system)
    [drift] = run["drifts"]  # nothing truncated it to a match: 0.5 of 40 is 1.25 %, minor (ADR 0362)
    assert run["status"] == "drift_detected" and (drift["venueSize"], drift["severity"]) == (40.5, "minor")
    assert system.container.breaker.get().state.value == "NORMAL"

    order = system.container.orders.find(order_id)
    assert order is not None and order.avg_fill_price is not None
    _stop(system, ticker, order.avg_fill_price)
    report = monitor_exits(system.container)  # the fraction is not ours to sell
    [done] = report["exits"]
    assert (done["state"], done["contracts"]) == ("FILLED", 40)
    assert report["fractionalHeld"] == [{"ticker": ticker, "side": "YES", "atVenue": 40.5}]
    assert system.exchange._positions[ticker] == Decimal("0.50")


def test_live_buy_when_kalshi_fills_a_fraction_then_refused_with_evidence_and_left_in_doubt(system: System):
    ticker = system.tradable_ticker()
    ask = system.exchange.markets[ticker]["yes_ask"]
    system.exchange.set_book(ticker, yes=[(ask - 2, 100)], no=[(100 - ask, Decimal("12.50"))])
    head = system.head()
    _, out = system.live_order("fp-partial", size=40)
    order = system.container.orders.find(out.order_id)
    assert order is not None and order.submission_in_doubt and order.filled_size == 0  # nothing rounded in
    [doubt] = system.events("SubmissionInDoubt", head)
    assert "venue_fractional_contracts" in doubt.detail and "evidence" in doubt.detail
    port, client = system.venue_port()
    try:
        with pytest.raises(FractionalContracts) as err:  # the lookup refuses it too, loudly, with its evidence
            system.container.pipeline(StaticMarketData({}), port).resolve_in_doubt(out.order_id)
    finally:
        port.close(client)
    assert err.value.evidence_hash and err.value.evidence_hash in str(err.value) and "12.50" in str(err.value)
    order = system.container.orders.find(out.order_id)
    assert order is not None and order.submission_in_doubt and order.filled_size == 0


def _with_venue(exchange: FakeKalshiExchange, key: rsa.RSAPrivateKey, evidence: Any, call: Any) -> Any:
    async def run() -> Any:
        async with KalshiClient(EvidenceStore(evidence),
                                config=KalshiClientConfig(base_url=exchange.base_url, timeout_s=2.0),
                                credentials=load_credentials(KEY_ID, pem(key))) as client:
            return await call(client)

    return asyncio.run(asyncio.wait_for(run(), timeout=20))


@pytest.mark.parametrize("shape", ["both", "cents", "dollars"])
def test_orderbook_and_positions_when_sent_in_any_shape_then_the_same_levels_and_holdings(
        exchange: FakeKalshiExchange, key: rsa.RSAPrivateKey, tmp_path: Any, shape: str) -> None:
    ticker = min(exchange.markets)
    exchange.set_book(ticker, yes=[(40, 5), (42, 13)], no=[(55, 2), (56, 17)])
    exchange.set_position(ticker, -7)
    exchange.shape = shape

    async def read(client: KalshiClient) -> Any:
        venue = KalshiVenue(client)
        return (await venue.get_orderbook(ticker)).value, (await venue.list_positions()).value

    book, positions = _with_venue(exchange, key, tmp_path / "evidence", read)
    assert book.yes_bids == ((42, 13), (40, 5)) and book.no_bids == ((56, 17), (55, 2))
    assert [(p.ticker, p.yes_contracts, p.no_contracts) for p in positions] == [(ticker, 0, 7)]


def test_order_request_when_integer_and_fixed_point_forms_differ_then_the_fake_refuses_it(
        exchange: FakeKalshiExchange, key: rsa.RSAPrivateKey, tmp_path: Any) -> None:
    ticker = min(exchange.markets)
    body = {"ticker": ticker, "client_order_id": "fp-mismatch", "side": "yes", "action": "buy", "type": "limit",
            "count": 5, "count_fp": "6.00", "yes_price": 40, "yes_price_dollars": "0.4000"}
    with pytest.raises(VenueRequestRejected):
        _with_venue(exchange, key, tmp_path / "evidence", lambda c: c.create_order(body))
    assert exchange.orders == []
