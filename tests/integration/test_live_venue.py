"""LIVE execution through the real Kalshi client against the loopback fake exchange (signed requests)."""

from __future__ import annotations

import uuid

import pytest

from paulp.adapters.evidence_store import EvidenceStore
from paulp.adapters.kalshi.client import KalshiClient, KalshiClientConfig
from paulp.adapters.kalshi.port import KalshiVenuePort
from paulp.adapters.kalshi.signing import load_credentials
from paulp.adapters.kalshi.venue import KalshiVenue
from paulp.adapters.market_data import StaticMarketData
from paulp.domain.clock import FixedClock
from paulp.domain.execution_policy import ExecutionMode
from paulp.domain.services.pipeline import OrderPipeline
from tests.fakes.kalshi_exchange import FakeKalshiExchange, Fault
from tests.integration.helpers import NOW, make_container, signal
from tests.integration.kalshi_system import facts_at_book, pem, tradable_ticker

pytestmark = pytest.mark.integration
KEY_ID = str(uuid.uuid4())


@pytest.fixture
def live(fresh_db, nats_url, namespace, key, tmp_path):
    container = make_container(fresh_db, nats_url, namespace, clock=FixedClock(NOW))
    with FakeKalshiExchange(key.public_key(), KEY_ID) as exchange:
        ticker = tradable_ticker(exchange)
        m = exchange.markets[ticker]
        market = facts_at_book(exchange, ticker)
        client = KalshiClient(EvidenceStore(tmp_path / "evidence"),
                              config=KalshiClientConfig(base_url=exchange.base_url, timeout_s=2.0),
                              credentials=load_credentials(KEY_ID, pem(key)))
        port = KalshiVenuePort(KalshiVenue(client))
        pipeline = OrderPipeline(container.orders, container.breaker, container.execution,
                                 StaticMarketData({ticker: market}), container.pipeline(StaticMarketData({})).portfolio,
                                 port, modes={"bonding": ExecutionMode.LIVE})
        yield pipeline, exchange, ticker, m
        port.close(client)
    container.close()


def _signal(sid: str, ticker: str, ask: int):
    base = signal(sid, ticker, size=50, price=ask)  # LIVE policy: <= 50 contracts; >= $10 notional
    return base


def test_live_signal_when_venue_accepts_then_signed_order_placed_and_filled(live):
    pipeline, exchange, ticker, m = live
    out = pipeline.process(_signal("live-1", ticker, m["yes_ask"]))
    assert out.state == "FILLED", out
    assert len(exchange.orders) == 1 and exchange.orders[0]["client_order_id"] == out.order_id
    posts = [r for r in exchange.requests if r.method == "POST"]
    assert posts and all(r.verified for r in posts)  # the fake verified every RSA-PSS signature


def test_live_signal_when_outcome_ambiguous_then_in_doubt_and_resolved_without_second_order(live):
    pipeline, exchange, ticker, m = live
    exchange.inject(Fault(status=500, process=True, method="POST", path_contains="/portfolio/orders"))
    out = pipeline.process(_signal("live-2", ticker, m["yes_ask"]))
    order = pipeline.orders.find(out.order_id)
    assert out.state == "SUBMITTED" and order is not None and order.submission_in_doubt
    assert pipeline.process(_signal("live-2", ticker, m["yes_ask"])).duplicate  # no resubmission
    resolved = pipeline.resolve_in_doubt(out.order_id)
    assert resolved.state == "FILLED"
    assert len(exchange.orders) == 1  # exactly one venue order despite the lost answer


def test_live_signal_when_venue_call_outlasts_port_timeout_then_in_doubt_not_lost(live, tmp_path):
    """The port gives up on a slow submission while the request is in flight (the exchange places the order
    and answers late): that is an unknown outcome, so the order goes in doubt and is resolved by client id."""
    pipeline, exchange, ticker, m = live
    slow = KalshiVenuePort(pipeline.venue.venue, timeout_s=0.3)  # type: ignore[union-attr]
    impatient = OrderPipeline(pipeline.orders, pipeline.breaker, pipeline.execution, pipeline.market,
                              pipeline.portfolio, slow, modes={"bonding": ExecutionMode.LIVE})
    exchange.inject(Fault(status=None, delay_s=1.0, process=True, method="POST", path_contains="/portfolio/orders"))
    try:
        out = impatient.process(_signal("live-3", ticker, m["yes_ask"]))
        order = pipeline.orders.find(out.order_id)
        assert out.state == "SUBMITTED" and order is not None and order.submission_in_doubt
        assert len(exchange.orders) == 1
        assert pipeline.resolve_in_doubt(out.order_id).state == "FILLED"
        assert len(exchange.orders) == 1
    finally:
        slow.close()


def test_live_signal_when_venue_refuses_order_then_rejected_with_reason(live):
    """A definitive 4xx refusal is the §1.4 step 4 failure: REJECTED with the venue's reason, not ERROR."""
    pipeline, exchange, ticker, m = live
    exchange.inject(Fault(status=400, method="POST", path_contains="/portfolio/orders",
                          body={"error": {"code": "insufficient_balance", "message": "not enough funds"}}))
    out = pipeline.process(_signal("live-4", ticker, m["yes_ask"]))
    assert out.state == "REJECTED"
    assert out.last_error is not None and "insufficient_balance" in out.last_error
    assert exchange.orders == []


def test_live_signal_when_venue_says_id_in_use_but_lookup_fails_then_in_doubt(live):
    """409 "order already exists" means the venue may hold our order: unresolved, it is in doubt, not an error."""
    pipeline, exchange, ticker, m = live
    exchange.inject(Fault(status=409, method="POST", path_contains="/portfolio/orders",
                          body={"error": {"code": "order_already_exists", "message": "in use"}}))
    out = pipeline.process(_signal("live-5", ticker, m["yes_ask"]))
    order = pipeline.orders.find(out.order_id)
    assert out.state == "SUBMITTED" and order is not None and order.submission_in_doubt


def test_in_doubt_order_when_venue_cancelled_it_meanwhile_then_resolved_cancelled(live):
    """Resolution applies the whole venue answer: an order the venue holds as cancelled is CANCELLED (§1.6),
    not left working (it would hold its market's slot for good)."""
    pipeline, exchange, ticker, m = live
    exchange.inject(Fault(status=500, process=True, method="POST", path_contains="/portfolio/orders"))
    out = pipeline.process(_signal("live-6", ticker, m["yes_ask"] - 1))  # below the ask: rests
    assert out.state == "SUBMITTED" and exchange.orders[0]["status"] == "resting"
    pipeline.venue.cancel(exchange.orders[0]["order_id"])  # type: ignore[union-attr]
    resolved = pipeline.resolve_in_doubt(out.order_id)
    assert resolved.state == "CANCELLED"
