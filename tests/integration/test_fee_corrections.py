"""Unknown fees of LIVE fills settled by the reconcile run from Kalshi's order (ADR 0448), over the loopback Kalshi
exchange on real PostgreSQL: a webhook fill whose fee lookup failed gets Kalshi's fee on the next run (order,
position, trade record, fill row and risk loss figures), a second run records nothing, Kalshi behind our count
leaves the fee unknown and the run says why, and PAPER fills are never read from Kalshi."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from paulp.api.webhook_jobs import process_inbox
from paulp.domain.order_values import ExecutionResult, ExecutionStatus, PaperFill, PreTradeCheck, RiskCheckResult
from paulp.domain.orders import Order
from paulp.domain.services.venue_answers import kalshi_venue_record, venue_record
from tests.fakes.kalshi_exchange import Fault
from tests.integration.helpers import NOW, assert_live_equals_replay
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
FILL_ROWS = "SELECT fill_size, fee_cents, fee_corrected_by IS NOT NULL FROM views.order_fills WHERE order_uuid = %s"


@pytest.fixture
def system(fresh_db, nats_url, namespace, exchange, key, tmp_path) -> Iterator[System]:
    yield from _system(fresh_db, nats_url, namespace, exchange, key, tmp_path, KALSHI_WEBHOOK_SECRET=SECRET)


def _reconcile(system: System) -> dict[str, Any]:
    """One reconcile run as an operator triggers it, the views projected first (its inputs are views)."""
    system.project("orders", "venue_orders")
    result: dict[str, Any] = system.container.jobs.trigger("reconcile", "ops-on-call", "admin")
    return result


def _corrections(system: System) -> list[Any]:
    return system.events("FeesCorrected")


def _failed_lookup_fill(system: System, sid: str) -> tuple[str, str, int]:
    """A 40-contract LIVE order that filled at Kalshi as a maker, its webhook fill recorded with an unknown fee
    because every read of the order failed; Kalshi then answers again. (ticker, order id, fee Kalshi charged)."""
    ticker, order_id = resting_live_order(system, sid)
    fee = system.exchange.fill_resting(order_id, 40)
    system.exchange.inject(Fault(status=500, method="GET", path_contains=venue_order(system, order_id)["order_id"],
                                 times=10))
    relay_update(system, SECRET, order_id, "executed", 40, f"{sid}-1")
    assert process_inbox(system.container) == {"filled": 1}
    system.exchange.clear_faults()
    return ticker, order_id, fee


def test_reconcile_when_a_webhook_fill_lookup_failed_then_its_fee_is_corrected_from_kalshi(system: System):
    # Arrange: the fill is booked with its fee unknown
    ticker, order_id, fee = _failed_lookup_fill(system, "fix-fee")
    system.project("orders", "venue_orders")
    assert (order_row(system, order_id)["feesComplete"], live_position(system, ticker)["feesComplete"]) == (
        False, False)
    lookups = venue_order_lookups(system, order_id)
    # Act
    result = _reconcile(system)
    # Assert: one correction of what the fake charged, with the evidence of Kalshi's answer, in the run's result
    assert fee > 0 and result["status"] == "ok"
    [corrected] = result["feeCorrections"]["corrected"]
    assert result["feeCorrections"]["leftUnknown"] == []
    assert (corrected["orderId"], corrected["feeUsd"], corrected["fills"], corrected["kalshiFeesUsd"]) == (
        order_id, fee / 100, 1, fee / 100)
    assert venue_order_lookups(system, order_id) == lookups + 1
    [event] = _corrections(system)
    assert (event.fee_cents, event.fills_settled, event.venue_fill_count, event.counted_at) == (
        Decimal(fee), 1, 40, NOW)
    assert event.evidence_hash == corrected["evidenceHash"]
    system.project("orders", "venue_orders", "evidence_usage")
    row = order_row(system, order_id)
    assert (row["feesUsd"], row["feesComplete"]) == (fee / 100, True)
    position = live_position(system, ticker)
    assert (position["feesUsd"], position["feesComplete"], position["contracts"]) == (fee / 100, True, 40)
    assert trade_row(system, order_id)["fees_cents"] == fee
    order = system.container.orders.find(order_id)
    assert order is not None
    with psycopg.connect(system.container.database_url) as conn:
        assert conn.execute(FILL_ROWS, (order.id,)).fetchall() == [(40, Decimal(fee), True)]
        used = conn.execute("SELECT count(*) FROM views.evidence_usage WHERE evidence_hash = %s"
                            " AND extraction_path = 'Order.FeesCorrected'", (event.evidence_hash,)).fetchone()
    assert used == (1,)
    # the risk loss figures count it at the fill's time, nothing left unknown
    fees = system.container.portfolio().snapshot("bonding", ticker, "LIVE").loss_fees
    assert fees is not None
    assert (fees.daily_usd, fees.weekly_usd, fees.unknown_daily, fees.unknown_drawdown) == (fee / 100, fee / 100,
                                                                                            0, 0)
    assert_live_equals_replay(system.container, "orders")


def test_reconcile_when_two_fills_of_an_order_lack_a_fee_then_one_correction_counts_at_the_latest(system: System):
    # Arrange: 15 and then the other 25 filled at Kalshi, both webhook fills booked while Kalshi answered 500
    ticker, order_id = resting_live_order(system, "fix-fee-two")
    kalshi_id = venue_order(system, order_id)["order_id"]
    system.exchange.inject(Fault(status=500, method="GET", path_contains=kalshi_id, times=100))
    first = system.exchange.fill_resting(order_id, 15)
    relay_update(system, SECRET, order_id, "resting", 15, "fix-fee-two-1")
    assert process_inbox(system.container) == {"filled": 1}
    second = system.exchange.fill_resting(order_id, 25)
    relay_update(system, SECRET, order_id, "executed", 40, "fix-fee-two-2")
    assert process_inbox(system.container) == {"filled": 1}
    system.exchange.clear_faults()
    # Act
    result = _reconcile(system)
    # Assert: one event for both fills, Kalshi's total on the later fill's row, 0 on the earlier one
    [event] = _corrections(system)
    assert (event.fee_cents, event.fills_settled) == (Decimal(first + second), 2)
    assert [c["fills"] for c in result["feeCorrections"]["corrected"]] == [2]
    system.project("orders", "venue_orders")
    order = system.container.orders.find(order_id)
    assert order is not None
    with psycopg.connect(system.container.database_url) as conn:
        rows = conn.execute(FILL_ROWS + " ORDER BY notification_id", (order.id,)).fetchall()
    assert rows == [(15, Decimal(0), True), (25, Decimal(first + second), True)]
    assert (order_row(system, order_id)["feesUsd"], live_position(system, ticker)["feesComplete"]) == (
        (first + second) / 100, True)
    assert_live_equals_replay(system.container, "orders")


def test_reconcile_when_run_again_then_nothing_new_is_recorded_or_asked(system: System):
    # Arrange: corrected by one run
    _, order_id, _ = _failed_lookup_fill(system, "fix-fee-twice")
    assert len(_reconcile(system)["feeCorrections"]["corrected"]) == 1
    lookups, head = venue_order_lookups(system, order_id), system.head()
    # Act: a run before the views show the correction (they still list the fill without a fee), then one after
    behind = system.container.jobs.trigger("reconcile", "ops-on-call", "admin")
    after = _reconcile(system)
    # Assert: the order's own record says settled: no second correction, no further Kalshi read of the order
    assert "feeCorrections" not in behind and "feeCorrections" not in after
    assert len(_corrections(system)) == 1 and system.events("FeesCorrected", after=head) == []
    assert venue_order_lookups(system, order_id) == lookups


def test_reconcile_when_kalshi_has_filled_fewer_than_we_hold_then_fee_left_unknown_and_said_why(system: System):
    # Arrange: the relay reports 40 filled while Kalshi's order, read back, shows none yet
    ticker, order_id = resting_live_order(system, "fix-fee-behind")
    relay_update(system, SECRET, order_id, "executed", 40, "fix-fee-behind-1")
    assert process_inbox(system.container) == {"filled": 1}
    # Act
    result = _reconcile(system)
    # Assert: nothing recorded; the run names the order and the two counts
    assert _corrections(system) == []
    assert result["feeCorrections"]["corrected"] == []
    [left] = result["feeCorrections"]["leftUnknown"]
    assert (left["orderId"], left["reason"]) == (order_id, "count_differs")
    assert "Kalshi has filled 0 contracts, we hold 40" in left["detail"]
    system.project("orders")
    assert order_row(system, order_id)["feesComplete"] is False
    # and once Kalshi shows the fill, the next run settles it
    fee = system.exchange.fill_resting(order_id, 40)
    later = _reconcile(system)
    assert [c["feeUsd"] for c in later["feeCorrections"]["corrected"]] == [fee / 100]
    system.project("orders")
    assert (order_row(system, order_id)["feesUsd"], live_position(system, ticker)["feesComplete"]) == (
        fee / 100, True)


def test_reconcile_when_a_fee_stays_unsettled_then_later_runs_read_the_others_first(system: System, monkeypatch):
    # Arrange: two LIVE fills the relay reported and Kalshi does not show yet (each run leaves them count_differs),
    # filled a minute apart; a budget of one Kalshi read a run
    monkeypatch.setattr("paulp.api.fee_corrections.MAX_READS", 1)
    clock = system.container.clock
    _, older = resting_live_order(system, "fix-fee-rota")
    clock.set(NOW + timedelta(seconds=10))  # order spacing
    _, newer = resting_live_order(system, "fix-fee-rotb")
    for minute, (order_id, sid) in enumerate(((older, "fix-fee-rota"), (newer, "fix-fee-rotb")), start=1):
        clock.set(NOW + timedelta(minutes=minute))
        relay_update(system, SECRET, order_id, "executed", 40, f"{sid}-1")
        assert process_inbox(system.container) == {"filled": 1}
    asked: list[str] = []
    # Act: three runs, the job-runs view caught up before each (it says which were asked about, and when)
    for minute in (3, 4, 5):
        clock.set(NOW + timedelta(minutes=minute))
        system.project("job_runs")
        result = _reconcile(system)
        asked += [left["orderId"] for left in result["feeCorrections"]["leftUnknown"]]
    # Assert: the newest fill first, then the one never asked about, then the one asked about longest ago
    assert asked == [newer, older, newer]
    assert all(left == "count_differs" for left in [
        u["reason"] for u in _reconcile(system)["feeCorrections"]["leftUnknown"]])
    assert _corrections(system) == []


def _paper_fill_without_fee(system: System) -> str:
    """A PAPER order whose fill carries no fee (as one recorded before fees), with its PAPER execution row."""
    at = NOW + timedelta(minutes=1)
    order = Order.create(signal_id="fix-paper", strategy="bonding", ticker=system.tradable_ticker(), side="YES",
                         requested_size=10, max_price=45, now=at)
    order.pre_trade_check(PreTradeCheck(True, spread=0.01, depth=5000.0, vpin_score=0.1), at)
    order.validate(at)
    order.begin_risk_check(at)
    order.apply_risk_result(RiskCheckResult(True, input_hash="cd" * 32), at)
    order.apply_execution_result(ExecutionResult(True, ExecutionStatus.PAPER_FILLED, PaperFill(10, 42), mode="PAPER"),
                                 at)
    orders = system.container.orders
    orders.save(order, kalshi_venue_record(orders, venue_record(order, "filled", "PAPER", at, 10, 42), at))
    return order.order_id


def test_reconcile_when_a_paper_fill_has_no_fee_then_it_is_never_read_from_kalshi(system: System):
    # Arrange
    order_id = _paper_fill_without_fee(system)
    # Act
    result = _reconcile(system)
    # Assert: not a candidate, no Kalshi order read, nothing recorded, still incomplete
    assert "feeCorrections" not in result and _corrections(system) == []
    assert not [r for r in system.exchange.requests if r.method == "GET" and "/portfolio/orders/" in r.path]
    system.project("orders")
    assert order_row(system, order_id)["feesComplete"] is False
