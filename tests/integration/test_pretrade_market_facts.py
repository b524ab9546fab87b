"""The execute step reads each market's order book and trades from Kalshi (the loopback fake): a thin book or
toxic flow fails the pre-trade check, a deep book passes, and a book that absorbs less than the order shrinks it
before the risk check (trading §1.4.1, §5.4, §5.6; ADR 0373). Real PostgreSQL and NATS."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from paulp.api.signal_jobs import execute_pending
from paulp.api.venue_session import JobFailed
from paulp.domain.order_states import OrderState
from paulp.domain.orders import Order
from tests.fakes.kalshi_exchange import Fault
from tests.integration.helpers import NOW
from tests.integration.kalshi_system import AUTH, System

pytestmark = pytest.mark.integration
S = OrderState


def _pending(system: System, sid: str, size: int, yes_bid: int, yes_ask: int, asks: int, edge: float = 0.1) -> str:
    """A PENDING paper bonding order of ``size`` YES at the ask, the fake's book resting ``asks`` contracts there."""
    ticker = system.tradable_ticker()
    system.exchange.set_book(ticker, yes=[(yes_bid, 5_000)], no=[(100 - yes_ask, asks)])
    later = (NOW + timedelta(days=5)).isoformat().replace("+00:00", "Z")
    system.exchange.markets[ticker].update(close_time=later, expected_expiration_time=later, volume_24h=50_000)
    order = Order.create(signal_id=sid, strategy="bonding", ticker=ticker, side="YES", requested_size=size,
                         max_price=yes_ask, now=NOW, signal_model_probability=0.6, signal_edge=edge,
                         signal_confidence=0.8)
    system.container.orders.save(order)
    system.project("orders")
    return order.order_id



def _history(system: System, order_id: str) -> list[Any]:
    return system.container.orders.history(order_id)


def _pre_trade_result(system: System, order_id: str) -> dict[str, Any]:
    [event] = [e for e in _history(system, order_id) if type(e).__qualname__.endswith(".PreTradeChecked")]
    return dict(event.result)


def _view(system: System, order_id: str) -> dict[str, Any]:
    system.project("orders")
    r = system.client.get("/admin/orchestrator/orders", headers=AUTH)
    assert r.status_code == 200, r.text
    [row] = [o for o in r.json()["orders"] if o["orderId"] == order_id]
    return dict(row)


def test_execute_when_book_is_thin_then_pre_trade_fails_on_depth_in_history(system: System) -> None:
    order_id = _pending(system, "thin-book", 20, 59, 60, asks=100)  # 100 x $0.60 = $60 within reach

    report = execute_pending(system.container)

    assert report["rejected"] == [order_id]
    order = system.order(order_id)
    assert order.state == S.PRE_TRADE_FAILED and order.last_error == "Depth $60.00 below $100"
    assert _pre_trade_result(system, order_id) == {"passed": False, "spread": 0.01, "depth": 60.0,
                                                   "blockReason": "Depth $60.00 below $100"}
    assert [e.to_state for e in _history(system, order_id) if hasattr(e, "to_state")] == [
        "PRE_TRADE_CHECK", "PRE_TRADE_FAILED"]
    assert order.times_entered(S.SUBMITTING) == 0
    row = _view(system, order_id)
    assert (row["currentState"], row["lastError"]) == ("PRE_TRADE_FAILED", "Depth $60.00 below $100")


def test_execute_when_book_is_deep_then_pre_trade_passes_and_the_order_fills(system: System) -> None:
    order_id = _pending(system, "deep-book", 20, 59, 60, asks=5_000)

    report = execute_pending(system.container)

    assert report["executed"] == [order_id]
    order = system.order(order_id)
    assert order.state == S.FILLED and order.filled_size == 20
    result = _pre_trade_result(system, order_id)
    assert result["passed"] is True and result["depth"] == 3000.0 and "adjustedSize" not in result
    assert result["marketImpact"]["depthMeasured"] is True and result["marketImpact"]["depthContracts"] == 5000


def test_execute_when_book_absorbs_less_than_the_order_then_impact_shrinks_it_before_risk(system: System) -> None:
    # 120 contracts at 90 cents ($108: deep enough), half a cent of edge: 18 contracts keep the impact within 30 %
    order_id = _pending(system, "impact", 25, 89, 90, asks=120, edge=0.005)

    report = execute_pending(system.container)

    assert report["executed"] == [order_id]
    order = system.order(order_id)
    assert order.state == S.FILLED and order.requested_size == 16 and order.filled_size == 16  # floor(0.9 x 18)
    assert order.order_id == order_id  # the id is not recomputed (§1.4.3)
    pre = _pre_trade_result(system, order_id)
    assert pre["adjustedSize"] == 16 and pre["marketImpact"]["maxSafeSize"] == 18
    [risk] = [e for e in _history(system, order_id) if type(e).__qualname__.endswith(".RiskChecked")]
    assert risk.requested_size == 16 and risk.result["adjustedSize"] == 16 and risk.result["approved"] is True
    assert _view(system, order_id)["requestedSize"] == 16


def test_execute_when_impact_leaves_less_than_the_minimum_order_then_refused_before_risk(system: System) -> None:
    order_id = _pending(system, "impact-min", 25, 89, 90, asks=120, edge=0.001)  # affords 2 contracts: $1.80
    breaker_before = system.container.breaker.get()

    report = execute_pending(system.container)

    assert report["rejected"] == [order_id]
    order = system.order(order_id)
    assert order.state == S.PRE_TRADE_FAILED
    assert order.last_error == "Market impact: the book absorbs 2 of 25 contracts ($1.80), below the $10 minimum order"
    assert not [e for e in _history(system, order_id) if type(e).__qualname__.endswith(".RiskChecked")]
    assert system.container.breaker.get().version == breaker_before.version  # never counted toward the breaker


def test_execute_when_takers_all_buy_yes_then_vpin_toxic_fails_pre_trade(system: System) -> None:
    order_id = _pending(system, "toxic", 20, 59, 60, asks=5_000)
    system.exchange.set_trades(system.order(order_id).ticker, [(60, 1_000, "yes")] * 3)  # $1800: one bucket

    report = execute_pending(system.container)

    assert report["rejected"] == [order_id]
    assert system.order(order_id).last_error == "VPIN 1.00 is toxic (at or above 0.60)"
    assert _pre_trade_result(system, order_id)["vpinScore"] == 1.0


def test_execute_when_takers_balance_then_vpin_recorded_and_the_order_fills(system: System) -> None:
    order_id = _pending(system, "balanced", 20, 59, 60, asks=5_000)
    system.exchange.set_trades(system.order(order_id).ticker, [(60, 1_000, "yes"), (60, 1_000, "no")] * 2)

    assert execute_pending(system.container)["executed"] == [order_id]
    # $600 a trade, buckets of $1000: (600 buy, 400 sell) then (600 buy, 400 sell) -> 400 / 2000
    assert _pre_trade_result(system, order_id)["vpinScore"] == pytest.approx(0.2)


@pytest.mark.parametrize("endpoint", ["/orderbook", "/markets/trades"])
def test_execute_when_the_book_or_trades_cannot_be_read_then_the_order_waits_untouched(system: System,
                                                                                      endpoint: str) -> None:
    order_id = _pending(system, f"unread{endpoint.replace('/', '-')}", 20, 59, 60, asks=5_000)
    system.exchange.inject(Fault(status=500, path_contains=endpoint, times=20))

    with pytest.raises(JobFailed) as failed:
        execute_pending(system.container)

    assert failed.value.code == "venue_unavailable"
    assert system.order(order_id).state == S.PENDING and len(_history(system, order_id)) == 1
