"""Trading fees over the real paths (ADR 0437): a LIVE fill records the fee Kalshi reports in its order object
(the loopback exchange charges Kalshi's general taker fee per level taken, over real HTTP, in integer cents and in
dollar strings), a LIVE exit sell records its own, a PAPER fill records the modelled fee at its policy's rate, and
the orders, trades and positions views and APIs show them beside the unchanged gross figures."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from starlette.responses import Response

from paulp.adapters.market_data import StaticMarketData
from paulp.api.exit_jobs import monitor_exits
from paulp.domain.execution_policy import ExecutionMode
from paulp.domain.services.pipeline import OrderPipeline, TradeSignal
from tests.fakes.kalshi_exchange import taker_fee
from tests.integration.helpers import deep_book, facts, signal
from tests.integration.kalshi_system import AUTH, System
from tests.integration.test_live_fill_prices import _stopped_live_position

pytestmark = pytest.mark.integration
SIZE = 30  # LIVE policy: <= 50 contracts, >= $10 notional
FEE_FIELDS = ("taker_fees", "maker_fees", "taker_fees_dollars", "maker_fees_dollars")


def _buy_two_levels(system: System, sid: str) -> str:
    """A LIVE YES buy of 30 limited at 55 taking 10 at 52 and 20 at 53: Kalshi's fee 18c + 35c. The order id."""
    ticker = system.tradable_ticker()
    seen = facts(ticker)
    seen = replace(seen, snapshot=replace(seen.snapshot, yes_ask=55, yes_bid=54, no_bid=45, no_ask=46),
                   book=deep_book(54, 55))
    system.exchange.set_book(ticker, yes=[(50, 100)], no=[(48, 10), (47, 100)])
    out = system.process_live(seen, TradeSignal(signal_id=sid, strategy="bonding", ticker=ticker, side="YES",
                                                requested_size=SIZE, max_price=55, model_probability=0.6,
                                                edge=0.18, confidence=0.8))
    assert out.state == "FILLED", out
    return str(out.order_id)


def _order_row(system: System, order_id: str) -> dict[str, Any]:
    rows = system.client.get("/admin/orchestrator/orders", headers=AUTH).json()["orders"]
    [row] = [r for r in rows if r["orderId"] == order_id]
    return dict(row)


def _positions(system: System, mode: str) -> list[dict[str, Any]]:
    return [p for p in system.client.get("/admin/positions", headers=AUTH).json()["positions"] if p["mode"] == mode]


@pytest.mark.parametrize("shape", ["both", "dollars", "cents"])
def test_live_fill_when_kalshi_charges_taker_fees_then_recorded_on_the_fill_and_shown_in_the_views(
        system: System, shape: str) -> None:
    # Arrange: the exchange answers in today's shape, only dollar strings, or only the legacy integers
    system.exchange.shape = shape
    # Act
    order_id = _buy_two_levels(system, f"fee-live-{shape}")
    system.project("orders", "venue_orders")
    # Assert: what Kalshi sent, on the fill event, the order, the trade, the position
    [placed] = system.exchange.orders
    assert placed["taker_fees"] == 18 + 35 == taker_fee([(52, 10), (53, 20)])
    [fill] = [e for e in system.events("FillRecorded") if e.originator_id == system.container.orders.find(
        order_id).id]  # type: ignore[union-attr]
    assert (fill.fill_size, fill.fee_cents) == (SIZE, Decimal(53))
    row = _order_row(system, order_id)
    assert (row["feesUsd"], row["feesComplete"], row["avgFillPrice"]) == (0.53, True, pytest.approx(1580 / 30))
    [trade] = system.client.get("/admin/trades?venue=kalshi&mode=LIVE", headers=AUTH).json()["trades"]
    assert (trade["fees_cents"], trade["fill_price"]) == (53, pytest.approx(1580 / 30))
    [position] = _positions(system, "LIVE")
    assert (position["costUsd"], position["realizedPnlUsd"]) == (15.8, 0.0)  # gross: unchanged by fees
    assert (position["feesUsd"], position["feesComplete"], position["netRealizedPnlUsd"]) == (0.53, True, -0.53)


def test_live_fill_when_kalshi_sends_no_fee_fields_then_unknown_not_zero(system: System) -> None:
    # Arrange: the create-order answer without taker_fees / maker_fees in any form (an older API version)
    original = system.exchange._place

    def without_fees(body: Any) -> Response:
        answer = original(body)
        data = json.loads(bytes(answer.body))
        for name in FEE_FIELDS:
            data.get("order", {}).pop(name, None)
        return Response(json.dumps(data).encode(), answer.status_code, media_type="application/json")

    system.exchange._place = without_fees  # type: ignore[method-assign]
    # Act
    order_id = _buy_two_levels(system, "fee-live-absent")
    system.project("orders", "venue_orders")
    # Assert: the fill is booked; its fee is not known (None), so no fee and an incomplete sum, never "free"
    [fill] = system.events("FillRecorded")
    assert (fill.fill_size, fill.fee_cents) == (SIZE, None)
    row = _order_row(system, order_id)
    assert (row["filledSize"], row["feesUsd"], row["feesComplete"]) == (SIZE, None, False)
    [trade] = system.client.get("/admin/trades?venue=kalshi&mode=LIVE", headers=AUTH).json()["trades"]
    assert "fees_cents" not in trade
    [position] = _positions(system, "LIVE")
    assert (position["feesUsd"], position["feesComplete"], position["netRealizedPnlUsd"]) == (0.0, False, 0.0)


def test_live_exit_sell_when_kalshi_charges_a_fee_then_on_the_exit_and_the_position(system: System) -> None:
    # Arrange: 40 YES bought LIVE, then a stop sells them into bids of limit + 3 (10) and limit + 2 (the rest)
    _, limit = _stopped_live_position(system, "fee-exit", "YES", 40)
    [buy] = system.exchange.orders
    # Act
    [done] = monitor_exits(system.container)["exits"]
    system.project("orders", "venue_orders")
    # Assert
    [sold] = [o for o in system.exchange.orders if o["action"] == "sell"]
    sell_fee = taker_fee([(limit + 3, 10), (limit + 2, 30)])
    assert sold["taker_fees"] == sell_fee > 0 and buy["taker_fees"] > 0
    [filled] = system.events("PositionExit.Filled")
    assert filled.fee_cents == sell_fee
    with psycopg.connect(system.container.database_url) as conn:
        [(fee,)] = conn.execute("SELECT fee_cents FROM views.position_exits WHERE state = 'FILLED'").fetchall()
    assert fee == sell_fee
    with psycopg.connect(system.container.database_url) as conn:
        [(fees, complete, pnl)] = conn.execute("SELECT fees_cents, fees_complete, realized_pnl_usd FROM"
                                               " views.positions WHERE mode = 'LIVE'").fetchall()
    assert (fees, complete) == (buy["taker_fees"] + sell_fee, True)  # the entry's and the sell's
    assert float(pnl) == pytest.approx(done["realizedPnlUsd"])  # gross, as before
    [sell] = [t for t in system.client.get("/admin/trades?venue=kalshi&mode=LIVE", headers=AUTH).json()["trades"]
              if t["action"] == "sell"]
    assert sell["fees_cents"] == sell_fee


def test_paper_fill_when_policy_rate_then_modelled_fee_recorded_and_shown(system: System) -> None:
    # Arrange: bonding paper-trades; 50 YES at the ask 42 + 1 cent slippage = 43
    c = system.container
    pipeline = OrderPipeline(c.orders, c.breaker, c.execution, StaticMarketData({"KXFEE-P": facts("KXFEE-P")}),
                             c.portfolio(), None, policies=c.execution_policies,
                             modes={"bonding": ExecutionMode.PAPER})
    # Act
    out = pipeline.process(signal("fee-paper", "KXFEE-P", size=50, price=45))
    system.project("orders", "venue_orders")
    # Assert: ceil(0.07 x 50 x 0.43 x 0.57 x 100) = ceil(85.785) = 86 cents
    assert out.state == "FILLED"
    [fill] = system.events("FillRecorded")
    assert (fill.fill_price, fill.fee_cents) == (43, 86)
    row = _order_row(system, out.order_id)
    assert (row["feesUsd"], row["feesComplete"]) == (0.86, True)
    [position] = _positions(system, "PAPER")
    assert (position["costUsd"], position["feesUsd"], position["netRealizedPnlUsd"]) == (21.5, 0.86, -0.86)
    [trade] = system.client.get("/admin/trades?venue=kalshi&mode=PAPER", headers=AUTH).json()["trades"]
    assert trade["fees_cents"] == 86


def test_paper_fill_when_operator_sets_the_rate_then_the_next_fill_uses_it(system: System) -> None:
    # Arrange: the strategy's PAPER policy charges Kalshi's maker rate
    c = system.container
    c.execution_policies.update("bonding", "PAPER", {"paperFeeRate": 0.0175}, "ops", "maker-heavy series")
    pipeline = OrderPipeline(c.orders, c.breaker, c.execution, StaticMarketData({"KXFEE-R": facts("KXFEE-R")}),
                             c.portfolio(), None, policies=c.execution_policies,
                             modes={"bonding": ExecutionMode.PAPER})
    # Act
    out = pipeline.process(signal("fee-rate", "KXFEE-R", size=50, price=45))
    # Assert: ceil(0.0175 x 50 x 0.43 x 0.57 x 100) = ceil(21.44625) = 22 cents
    order = c.orders.find(out.order_id)
    assert order is not None and order.fees_cents == 22
