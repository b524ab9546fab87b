"""Price-move cancel of resting orders (trading §1.4 step 7, §1.5; ADR 0382) in the order-timers job, on real
PostgreSQL with the loopback Kalshi exchange. The resting order is a LIVE bonding order sent at the ask we saw
after the market moved 3 cents up (``resting_live_order``): exactly at the 0.03 threshold, so it rests until the
market moves further. The clock is moved, never slept; a repeated tick changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest

from paulp.api.order_timers_job import run_order_timers
from paulp.domain.order_states import OrderState
from paulp.domain.orders import Order
from tests.fakes.kalshi_exchange import Fault
from tests.integration.helpers import NOW
from tests.integration.kalshi_system import System, resting_live_order, trade_row

pytestmark = pytest.mark.integration
S = OrderState


@pytest.fixture(autouse=True)
def _compliance_seeded(request: pytest.FixtureRequest) -> None:
    """Seeded as ``paulp up`` does at start, so the gate's first check records nothing inside a tick."""
    for name in ("system", "uncredentialed"):
        if name in request.fixturenames:
            request.getfixturevalue(name).container.compliance.seed()


def _tick(system: System, seconds: float) -> dict[str, Any]:
    system.container.clock.set(NOW + timedelta(seconds=seconds))  # type: ignore[attr-defined]
    system.project("orders")
    return run_order_timers(system.container)



def _move(system: System, ticker: str, cents: int) -> None:
    """The market moves ``cents`` (both YES quotes, and the NO quotes they mirror)."""
    m = system.exchange.markets[ticker]
    m.update(yes_bid=m["yes_bid"] + cents, yes_ask=m["yes_ask"] + cents)
    m.update(no_bid=100 - m["yes_ask"], no_ask=100 - m["yes_bid"])


def _limit_and_ask(system: System, ticker: str, order_id: str) -> tuple[float, int]:
    return system.order(order_id).max_price, system.exchange.markets[ticker]["yes_ask"]


def _venue_order(system: System, order_id: str) -> dict[str, Any]:
    [found] = [o for o in system.exchange._orders.values() if o["client_order_id"] == order_id]
    return found


def _count(system: System, method: str, path_part: str = "") -> int:
    return sum(1 for r in system.exchange.requests if r.method == method and path_part in r.path)


def _names(system: System, order_id: str) -> list[str]:
    return [type(e).__qualname__.rsplit(".", 1)[-1] for e in system.container.orders.history(order_id)]


def _outcomes(report: dict[str, Any]) -> dict[str, str]:
    return {r["orderId"]: r["outcome"] for r in report["results"]}


def test_price_move_when_live_order_rests_and_market_moves_5_then_cancelled_at_kalshi_on_the_next_tick(
        system: System):
    # Arrange: resting 3 cents below the ask; the market moves 2 more: 5 points from the limit
    ticker, order_id = resting_live_order(system, "pm-live")
    _move(system, ticker, 2)
    limit, ask = _limit_and_ask(system, ticker, order_id)
    assert ask - limit == 5
    # Act: the next minute's tick, long before the 300 s stale timer
    report = _tick(system, 60)
    # Assert: one venue cancel, confirmed, the order closed as PRICE_MOVE_CANCEL with the move
    assert _outcomes(report) == {order_id: "price_move_cancelled_at_venue"}
    assert (report["priceMoveCancelled"], report["cancelled"], report["left"], report["marketsRead"]) == (1, 0, [], 1)
    order = system.order(order_id)
    assert order.state == S.PRICE_MOVE_CANCEL and order.closed_at == NOW + timedelta(seconds=60)
    assert order.history[-1].metadata == {"priceMovePct": 5.0, "threshold": 3.0, "referencePrice": limit,
                                          "marketPrice": ask}
    assert _count(system, "DELETE") == 1 and _venue_order(system, order_id)["status"] == "canceled"
    names = _names(system, order_id)
    assert names.count("PriceMoveCancelRequested") == 1
    assert names.index("PriceMoveCancelRequested") < len(names) - 1  # requested before Kalshi's answer closed it
    [request] = [e for e in system.container.orders.history(order_id) if type(e).__name__ == "PriceMoveCancelRequested"]
    assert request.evidence_hash in order.evidence_hashes  # the market body the move was read from
    assert trade_row(system, order_id)["status"] == "cancelled"
    system.project("orders")
    with psycopg.connect(system.container.database_url) as conn:
        state, last = conn.execute(
            "SELECT o.state, h.to_state FROM views.orders o JOIN views.order_history h USING (order_uuid)"
            " WHERE o.order_id = %s ORDER BY h.notification_id DESC LIMIT 1", (order_id,)).fetchone()
    assert state == last == "PRICE_MOVE_CANCEL"
    # a later tick, the market still away: nothing twice
    head = system.head()
    again = _tick(system, 120)
    assert again["results"] == [] and system.head() == head and _count(system, "DELETE") == 1


def test_price_move_when_move_at_or_below_threshold_then_nothing_until_the_stale_timer(system: System):
    ticker, order_id = resting_live_order(system, "pm-calm")
    limit, ask = _limit_and_ask(system, ticker, order_id)
    assert ask - limit == 3  # exactly the threshold: not beyond it
    head = system.head()
    for seconds in (60, 120):
        report = _tick(system, seconds)
        assert report["results"] == [] and report["marketsRead"] == 1
    _move(system, ticker, -1)  # 2 points
    assert _tick(system, 180)["results"] == []
    assert system.head() == head and _count(system, "DELETE") == 0
    assert system.order(order_id).state in (S.SUBMITTED, S.ORDER_ACKNOWLEDGED)
    assert _outcomes(_tick(system, 301)) == {order_id: "cancelled_at_venue"}  # the stale timer still bounds it
    assert system.order(order_id).state == S.CANCELLED


def test_price_move_when_venue_cancel_fails_then_left_and_the_cancel_sent_again_next_tick(system: System):
    ticker, order_id = resting_live_order(system, "pm-retry")
    _move(system, ticker, 4)
    system.exchange.inject(Fault(status=500, method="DELETE", path_contains="/portfolio/orders/"))
    report = _tick(system, 60)
    assert [r["orderId"] for r in report["left"]] == [order_id] and report["left"][0]["outcome"].startswith("failed")
    order = system.order(order_id)
    assert order.state in (S.SUBMITTED, S.ORDER_ACKNOWLEDGED) and order.cancel_requested_at is not None
    assert _venue_order(system, order_id)["status"] == "resting"  # never closed while it rests
    _move(system, ticker, -4)  # back at the threshold: the recorded decision stands, it is not taken back
    assert _outcomes(_tick(system, 120)) == {order_id: "price_move_cancelled_at_venue"}
    assert system.order(order_id).state == S.PRICE_MOVE_CANCEL and _count(system, "DELETE") == 2
    assert _names(system, order_id).count("PriceMoveCancelRequested") == 1


def test_price_move_when_submission_in_doubt_then_looked_up_by_client_order_id_first_never_resent(system: System):
    system.exchange.inject(Fault(status=500, process=True, method="POST", path_contains="/portfolio/orders"))
    ticker, out = system.live_order("pm-doubt", size=40, move_up_by=3)  # placed at Kalshi, its answer lost
    assert system.order(out.order_id).submission_in_doubt
    _move(system, ticker, 3)
    assert _outcomes(_tick(system, 60)) == {out.order_id: "price_move_cancelled_at_venue"}
    order = system.order(out.order_id)
    assert order.state == S.PRICE_MOVE_CANCEL and not order.submission_in_doubt and order.broker_order_id
    assert len(system.exchange.orders) == 1 and _count(system, "POST") == 1  # never a second order
    assert _count(system, "GET", "/portfolio/orders") >= 1 and _count(system, "DELETE") == 1


def test_price_move_when_part_filled_at_kalshi_meanwhile_then_cancelled_with_the_fill_recorded(system: System):
    ticker, order_id = resting_live_order(system, "pm-part")
    venue = _venue_order(system, order_id)
    venue.update(fill_count=10, remaining_count=venue["initial_count"] - 10)  # we have not heard of it yet
    _move(system, ticker, 5)
    assert _outcomes(_tick(system, 60)) == {order_id: "cancelled_at_venue"}
    order = system.order(order_id)
    assert (order.state, order.filled_size) == (S.CANCELLED, 10)  # §1.4.7: not from PARTIAL_FILL
    assert order.history[-1].reason == "Price moved beyond threshold"
    assert order.history[-1].metadata["priceMovePct"] == 8.0


def test_price_move_when_paper_order_rests_then_price_move_cancel_in_the_log_without_a_venue_call(
        uncredentialed: System):
    system = uncredentialed
    ticker = system.tradable_ticker()
    ask = system.exchange.markets[ticker]["yes_ask"]
    order = Order.create(signal_id="pm-paper", strategy="bonding", ticker=ticker, side="YES", requested_size=20,
                         max_price=ask - 5, now=NOW, signal_model_probability=0.6, signal_edge=0.1)
    for target in (S.VALIDATING, S.VALIDATED, S.RISK_CHECK, S.RISK_APPROVED, S.SUBMITTING, S.SUBMITTED):
        order.transition(target, "test path", NOW)  # working, no venue order id: paper
    system.container.orders.save(order)
    report = _tick(system, 60)
    assert _outcomes(report) == {order.order_id: "price_move_cancelled"} and report["priceMoveCancelled"] == 1
    assert system.order(order.order_id).state == S.PRICE_MOVE_CANCEL
    assert "PriceMoveCancelRequested" not in _names(system, order.order_id)
    assert {r.method for r in system.exchange.requests} == {"GET"}  # the market read only


def test_price_move_when_live_order_and_no_credentials_then_left_open_and_nothing_recorded(uncredentialed: System):
    system = uncredentialed
    ticker, order_id = resting_live_order(system, "pm-nocreds")  # placed with the test's own venue client
    _move(system, ticker, 5)
    head = system.head()
    [left] = _tick(system, 60)["left"]
    assert left["orderId"] == order_id and "credentials" in left["outcome"]
    assert system.head() == head and _count(system, "DELETE") == 0
    assert system.order(order_id).state in (S.SUBMITTED, S.ORDER_ACKNOWLEDGED)


def test_price_move_when_market_cannot_be_read_then_nothing_decided_and_named(system: System):
    ticker, order_id = resting_live_order(system, "pm-unread")
    _move(system, ticker, 5)
    system.exchange.inject(Fault(status=503, method="GET", path_contains=f"/markets/{ticker}", times=5))
    head = system.head()
    report = _tick(system, 60)
    assert report["results"] == [] and report["marketsUnread"] == {ticker: report["marketsUnread"][ticker]}
    assert report["marketsUnread"][ticker] and system.head() == head and _count(system, "DELETE") == 0
    assert system.order(order_id).state in (S.SUBMITTED, S.ORDER_ACKNOWLEDGED)
