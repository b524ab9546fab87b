"""Cancelling every outstanding order (runbook rollback step 3; ADR 0263) on real PostgreSQL with the
loopback Kalshi exchange: queued orders closed in the log, resting LIVE orders cancelled at the venue,
an order that executed meanwhile recorded as filled, an in-doubt one left alone; a second run is a no-op."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from paulp.api.cancel_job import cancel_outstanding
from paulp.domain.order_states import OrderState
from tests.fakes.kalshi_exchange import Fault
from tests.integration.helpers import NOW
from tests.integration.kalshi_system import System, point_cli_at, resting_live_order, trade_row

pytestmark = pytest.mark.integration


def _venue_order(system: System, order_id: str) -> dict:
    [found] = [o for o in system.exchange._orders.values() if o["client_order_id"] == order_id]
    return found


def _state(system: System, order_id: str) -> str:
    order = system.container.orders.find(order_id)
    assert order is not None
    return order.state.value


def test_cancel_when_orders_queued_and_resting_then_all_closed_and_the_venue_order_cancelled(system: System):
    _, resting = resting_live_order(system, "cx-rest")
    queued = system.pending_order("cx-queued", "KXQ-A", 40, minutes=1)
    system.project("orders")
    report = cancel_outstanding(system.container, "rollback drill")
    outcomes = {r["orderId"]: r["outcome"] for r in report["results"]}
    assert outcomes == {resting: "cancelled_at_venue", queued: "cancelled"} and report["failed"] == 0
    assert _state(system, resting) == "CANCELLED" and _state(system, queued) == "CANCELLED"
    assert _venue_order(system, resting)["status"] == "canceled"
    history = system.container.orders.history(resting)
    assert any(type(e).__qualname__.endswith("CancelRequested") and e.reason == "rollback drill" for e in history)

    system.project("orders")
    head = system.head()
    assert cancel_outstanding(system.container, "again") == {"outstanding": 0, "results": [], "failed": 0}
    assert system.head() == head


def test_cancel_when_resting_live_order_cancelled_at_kalshi_then_its_trade_row_says_cancelled(system: System):
    """The venue record (GET /admin/trades) takes Kalshi's cancel answer: not "submitted" for a cancelled order."""
    _, resting = resting_live_order(system, "cx-row")
    before = trade_row(system, resting)
    assert before["status"] == "submitted" and before["order_id"]
    system.project("orders")
    [result] = cancel_outstanding(system.container, "rollback")["results"]
    assert result["outcome"] == "cancelled_at_venue"
    row = trade_row(system, resting)
    assert (row["status"], row["fill_count"]) == ("cancelled", 0)
    assert row["order_id"] == before["order_id"] == _venue_order(system, resting)["order_id"]  # Kalshi's id kept
    assert row["created_at"] == before["created_at"]  # when the order was recorded, not when it was cancelled


def test_cancel_when_resting_order_executed_meanwhile_then_recorded_as_filled(system: System):
    _, resting = resting_live_order(system, "cx-exec")
    venue = _venue_order(system, resting)
    venue.update(status="executed", fill_count=venue["initial_count"], remaining_count=0)  # filled behind us
    system.project("orders")
    [result] = cancel_outstanding(system.container, "rollback")["results"]
    assert result["outcome"] == "filled"
    order = system.container.orders.find(resting)
    assert order is not None and (order.state.value, order.filled_size) == ("FILLED", venue["initial_count"])
    row = trade_row(system, resting)  # the venue record says what Kalshi answered, too
    assert (row["status"], row["fill_count"]) == ("filled", venue["initial_count"])


def test_cancel_when_venue_refuses_then_reported_failed_and_cli_exits_1(system: System, monkeypatch):
    _, resting = resting_live_order(system, "cx-fail")
    system.project("orders")
    system.exchange.inject(Fault(status=500, method="DELETE", path_contains="/portfolio/orders/", times=10))
    system.exchange.inject(Fault(status=500, method="GET", path_contains="/portfolio/orders", times=10))
    from paulp.api.cli import app

    point_cli_at(system, monkeypatch)
    dry = CliRunner().invoke(app, ["orders", "cancel-outstanding", "--reason", "drill"])
    assert dry.exit_code == 0 and resting in dry.output and "dry run" in dry.output
    assert _state(system, resting) != "CANCELLED"
    out = CliRunner().invoke(app, ["orders", "cancel-outstanding", "--reason", "drill", "--yes"])
    assert out.exit_code == 1, out.output
    assert "failed" in out.output and "not cancelled" in out.output
    assert _state(system, resting) in ("SUBMITTED", "ORDER_ACKNOWLEDGED")  # still working: nothing invented
    blank = CliRunner().invoke(app, ["orders", "cancel-outstanding", "--reason", "  ", "--yes"])
    assert blank.exit_code == 2


def _in_doubt_without_venue_order(system: System, sid: str) -> str:
    """An order whose submission answer was lost and which never reached the venue: in doubt, no venue id."""
    ticker = system.tradable_ticker()
    ask = system.exchange.markets[ticker]["yes_ask"]
    order_id = system.pending_order(sid, ticker, ask)
    order = system.container.orders.find(order_id)
    assert order is not None
    for target in (OrderState.PRE_TRADE_CHECK, OrderState.VALIDATING, OrderState.VALIDATED, OrderState.RISK_CHECK,
                   OrderState.RISK_APPROVED, OrderState.SUBMITTING):
        order.transition(target, "test path", NOW)
    order.mark_submission_in_doubt("timeout", NOW)
    system.container.orders.save(order)
    system.project("orders")
    return order_id


def test_cancel_when_submission_in_doubt_and_not_at_venue_then_resolved_to_error_and_named(system: System):
    order_id = _in_doubt_without_venue_order(system, "cx-doubt")
    report = cancel_outstanding(system.container, "rollback")
    [result] = report["results"]
    assert result["outcome"].startswith("not_at_venue") and report["failed"] == 0
    order = system.container.orders.find(order_id)
    assert order is not None and order.state.value == "ERROR" and not order.submission_in_doubt
    assert [r.method for r in system.exchange.requests].count("DELETE") == 0  # a lookup, nothing sent


def test_cancel_when_submission_in_doubt_and_resting_at_venue_then_cancelled_there(system: System):
    """Rollback step 3 must reach an order whose submission answer was lost but which rests at Kalshi."""
    ticker = system.tradable_ticker()
    system.exchange.inject(Fault(status=500, process=True, method="POST", path_contains="/portfolio/orders"))
    _, out = system.live_order("cx-doubt-rest", size=40, move_up_by=3)  # placed, answer lost, resting
    order = system.container.orders.find(out.order_id)
    assert order is not None and order.submission_in_doubt and order.broker_order_id is None
    system.project("orders")
    [result] = cancel_outstanding(system.container, "rollback")["results"]
    assert result["outcome"] == "cancelled_at_venue"
    assert _state(system, out.order_id) == "CANCELLED"
    assert _venue_order(system, out.order_id)["status"] == "canceled" and ticker


def test_cancel_when_submission_in_doubt_and_lookup_fails_then_left_in_doubt_and_named(system: System):
    order_id = _in_doubt_without_venue_order(system, "cx-doubt-down")
    system.exchange.inject(Fault(status=400, method="GET", path_contains="/portfolio/orders", times=10))
    before, head = _state(system, order_id), system.head()
    report = cancel_outstanding(system.container, "rollback")
    [result] = report["results"]
    assert result["outcome"].startswith("in_doubt") and report["failed"] == 1
    assert _state(system, order_id) == before and system.head() == head  # nothing recorded for it
