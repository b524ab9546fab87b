"""Unknown fees of LIVE exit sells settled by the reconcile run from Kalshi's sell order (ADR 0449), over the
loopback Kalshi exchange on real PostgreSQL: a stop's sell whose answer carried no fee gets the fee the fake charged
on the next run (exit row, position, trade record, risk loss figures), a second run records and reads nothing,
Kalshi's count differing (or no fee, or a failed read) leaves it unknown with the reason, PAPER exits are never read
from Kalshi, and the postmortem's ``feesUsd`` counts a correction with its fill's window."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from starlette.responses import Response

from paulp.adapters.postmortem import postmortem
from paulp.api.exit_jobs import monitor_exits
from paulp.api.fee_corrections import last_asked
from paulp.domain.clock import iso_utc
from paulp.domain.exits import ExitReason
from paulp.domain.position_exits import PositionExit
from tests.fakes.kalshi_exchange import Fault
from tests.integration.helpers import NOW, assert_live_equals_replay
from tests.integration.kalshi_system import System, _system, trade_row, venue_order
from tests.integration.test_live_fill_prices import _stopped_live_position

pytestmark = pytest.mark.integration
FEE_FIELDS = ("taker_fees", "maker_fees", "taker_fees_dollars", "maker_fees_dollars")
EXIT_ROW = ("SELECT fee_cents, fee_corrected_by IS NOT NULL, updated_at FROM views.position_exits"
            " WHERE exit_uuid = %s")


@pytest.fixture
def system(fresh_db, nats_url, namespace, exchange, key, tmp_path) -> Iterator[System]:
    yield from _system(fresh_db, nats_url, namespace, exchange, key, tmp_path)


def _reconcile(system: System) -> dict[str, Any]:
    """One reconcile run as an operator triggers it, the views projected first (its inputs are views)."""
    system.project("orders", "venue_orders")
    result: dict[str, Any] = system.container.jobs.trigger("reconcile", "ops-on-call", "admin")
    return result


def _sold_without_fee(system: System, sid: str) -> tuple[str, Any, str, int, int]:
    """40 YES bought LIVE (its fee known), then a stop's sell that filled at Kalshi while Kalshi's answer to it
    carried no fee field, so the exit is FILLED with its fee unknown. (ticker, Filled event, the sell's client order
    id, the fee the fake charged for the sell, the buy's fee)."""
    ticker, _ = _stopped_live_position(system, sid, "YES", 40)
    place = system.exchange._place

    def without_fees(body: Any) -> Response:
        answer = place(body)
        if not isinstance(body, dict) or body.get("action") != "sell":
            return answer
        data = json.loads(bytes(answer.body))
        for name in FEE_FIELDS:
            data.get("order", {}).pop(name, None)
        return Response(json.dumps(data).encode(), answer.status_code, media_type="application/json")

    system.exchange._place = without_fees  # type: ignore[method-assign]
    try:
        [done] = monitor_exits(system.container)["exits"]
    finally:
        del system.exchange._place  # Kalshi answers with fees again
    assert done["state"] == "FILLED"
    [filled] = system.events("PositionExit.Filled")
    assert filled.fee_cents is None
    [buy] = [o for o in system.exchange.orders if o["action"] == "buy"]
    [sell] = [o for o in system.exchange.orders if o["action"] == "sell"]
    assert sell["taker_fees"] > 0 and buy["taker_fees"] > 0
    return ticker, filled, sell["client_order_id"], sell["taker_fees"], buy["taker_fees"]


def _sell_lookups(system: System, client_order_id: str) -> int:
    kalshi_id = venue_order(system, client_order_id)["order_id"]
    return sum(1 for r in system.exchange.requests if r.method == "GET" and r.path.endswith(f"/orders/{kalshi_id}"))


def _position(system: System, ticker: str) -> tuple[Any, bool]:
    """The LIVE position's (fees_cents, fees_complete): sold out, so the API's open list no longer shows it."""
    with psycopg.connect(system.container.database_url) as conn:
        row = conn.execute("SELECT fees_cents, fees_complete FROM views.positions WHERE mode = 'LIVE' AND ticker = %s",
                           (ticker,)).fetchone()
    assert row is not None
    return row[0], row[1]


def _exit_row(system: System, exit_id: Any) -> tuple[Any, ...]:
    with psycopg.connect(system.container.database_url) as conn:
        row = conn.execute(EXIT_ROW, (exit_id,)).fetchone()
    assert row is not None
    return tuple(row)


def test_reconcile_when_a_live_exit_sell_fee_is_unknown_then_corrected_from_kalshi(system: System):
    # Arrange: the sell is booked with its fee unknown; the loss figures say one fee is not known
    ticker, filled, sell, fee, buy_fee = _sold_without_fee(system, "exit-fee")
    system.project("orders", "venue_orders")
    assert _position(system, ticker) == (buy_fee, False)
    before = system.container.portfolio().snapshot("bonding", ticker, "LIVE").loss_fees
    assert before is not None and (before.weekly_usd, before.unknown_weekly) == (buy_fee / 100, 1)
    lookups = _sell_lookups(system, sell)
    # Act
    result = _reconcile(system)
    # Assert: the fee the fake charged, recorded once on the exit with Kalshi's answer as evidence
    [corrected] = result["feeCorrections"]["corrected"]
    assert result["feeCorrections"]["leftUnknown"] == []
    assert corrected == {"orderId": sell, "kind": "exit", "exitId": str(filled.originator_id), "feeUsd": fee / 100,
                         "fills": 1, "kalshiFeesUsd": fee / 100, "evidenceHash": corrected["evidenceHash"]}
    assert _sell_lookups(system, sell) == lookups + 1
    [event] = system.events("PositionExit.FeesCorrected")
    assert (event.fee_cents, event.venue_fill_count, event.counted_at, event.evidence_hash) == (
        Decimal(fee), 40, filled.at, corrected["evidenceHash"])
    system.project("orders", "venue_orders", "evidence_usage")
    # the exit row keeps its fill time; the position, the trade record and the loss figures take the fee
    assert _exit_row(system, filled.originator_id) == (Decimal(fee), True, filled.at)
    assert _position(system, ticker) == (buy_fee + fee, True)
    assert trade_row(system, sell)["fees_cents"] == fee
    fees = system.container.portfolio().snapshot("bonding", ticker, "LIVE").loss_fees
    assert fees is not None
    assert (fees.daily_usd, fees.weekly_usd, fees.unknown_daily, fees.unknown_weekly, fees.unknown_drawdown) == (
        (buy_fee + fee) / 100, (buy_fee + fee) / 100, 0, 0, 0)
    with psycopg.connect(system.container.database_url) as conn:
        used = conn.execute("SELECT count(*) FROM views.evidence_usage WHERE evidence_hash = %s"
                            " AND extraction_path = 'PositionExit.FeesCorrected'", (event.evidence_hash,)).fetchone()
    assert used == (1,)
    assert_live_equals_replay(system.container, "orders")


def test_reconcile_when_an_exit_fee_was_corrected_then_a_rerun_records_and_reads_nothing(system: System):
    # Arrange: corrected by one run
    _, _, sell, _, _ = _sold_without_fee(system, "exit-fee-twice")
    assert len(_reconcile(system)["feeCorrections"]["corrected"]) == 1
    lookups, head = _sell_lookups(system, sell), system.head()
    # Act: a run before the views show the correction (the exit row still without a fee), then one after
    behind = system.container.jobs.trigger("reconcile", "ops-on-call", "admin")
    after = _reconcile(system)
    # Assert: the exit's own record says settled: no second correction, no further Kalshi read of the sell
    assert "feeCorrections" not in behind and "feeCorrections" not in after
    assert system.events("FeesCorrected", after=head) == []
    assert _sell_lookups(system, sell) == lookups


@pytest.mark.parametrize(("reason", "detail"), [
    ("count_differs", "Kalshi has filled 30 contracts, the exit sold 40"),
    ("no_fee_reported", "Kalshi's answer carries no fee field"),
    ("lookup_failed", "500"),
])
def test_reconcile_when_kalshi_cannot_settle_the_exit_fee_then_left_unknown_with_the_reason(
        system: System, reason: str, detail: str):
    # Arrange: Kalshi's copy of the sell shows 30 filled, or no fee field, or cannot be read
    ticker, filled, sell, fee, _ = _sold_without_fee(system, f"exit-fee-{reason}")
    if reason == "count_differs":
        restore = system.exchange.amend_order(sell, fill_count=30)
    elif reason == "no_fee_reported":
        restore = system.exchange.amend_order(sell, taker_fees=None, maker_fees=None)
    else:
        restore = {}
        system.exchange.inject(Fault(status=500, method="GET", path_contains=venue_order(system, sell)["order_id"],
                                     times=10))
    # Act
    result = _reconcile(system)
    # Assert: nothing recorded; the run names the exit's sell, the reason and why
    assert system.events("PositionExit.FeesCorrected") == []
    assert result["feeCorrections"]["corrected"] == []
    [left] = result["feeCorrections"]["leftUnknown"]
    assert (left["orderId"], left["kind"], left["exitId"], left["reason"]) == (
        sell, "exit", str(filled.originator_id), reason)
    assert detail in left["detail"]
    system.project("orders", "job_runs")
    with psycopg.connect(system.container.database_url) as conn:  # the next runs rank it by this ask (ADR 0457)
        assert ("exit", str(filled.originator_id)) in last_asked(conn, NOW - timedelta(days=1))
    assert _position(system, ticker)[1] is False
    assert _exit_row(system, filled.originator_id)[:2] == (None, False)
    # and once Kalshi shows the sell as it is, the next run settles it
    system.exchange.clear_faults()
    if restore:
        system.exchange.amend_order(sell, **restore)
    later = _reconcile(system)
    assert [c["feeUsd"] for c in later["feeCorrections"]["corrected"]] == [fee / 100]


def test_reconcile_when_a_paper_exit_fee_is_unknown_then_it_is_never_read_from_kalshi(system: System):
    # Arrange: a PAPER exit filled without a fee (as one recorded before fees were)
    ex = PositionExit.decide("bonding", system.tradable_ticker(), "YES", NOW, 0, 10, 42.0, 40.0,
                             ExitReason.STOP_LOSS_HIT, "PAPER", NOW)
    ex.fill(10, 40.0, NOW)
    system.container.exits.save(ex)
    # Act
    result = _reconcile(system)
    # Assert: not a candidate: no Kalshi order read, nothing recorded, its fee still unknown
    assert "feeCorrections" not in result and system.events("FeesCorrected") == []
    assert not [r for r in system.exchange.requests if r.method == "GET" and "/portfolio/orders/" in r.path]
    assert _exit_row(system, ex.id)[:2] == (None, False)


def _fees_usd(system: System, start: datetime, end: datetime) -> tuple[dict[str, Any], list[str]]:
    report = postmortem(system.container.database_url, system.container.anchor_url, start, end, "INC-FEES")
    return report["impact"]["feesUsd"], [x["summary"] for x in report["timeline"]]


def test_postmortem_when_an_exit_fee_is_corrected_later_then_counted_in_its_fill_window_only(system: System):
    # Arrange: window A holds the buy and the sell (fee unknown); the reconcile run that corrects it comes after
    start = datetime.now(UTC) - timedelta(seconds=1)
    _, _, _, fee, buy_fee = _sold_without_fee(system, "exit-fee-pm")
    middle = datetime.now(UTC)
    time.sleep(0.05)  # chain record times are milliseconds: the run's events are after ``middle``
    before, _ = _fees_usd(system, start, middle)
    assert (before["total"], before["fillsFeeUnknown"], before["corrections"]) == (buy_fee / 100, 1, 0)
    assert len(_reconcile(system)["feeCorrections"]["corrected"]) == 1
    end = datetime.now(UTC) + timedelta(seconds=1)
    # Act
    in_window, _ = _fees_usd(system, start, middle)
    later, lines = _fees_usd(system, middle, end)
    # Assert: the correction counts with the sell's fill in A, not in the window where it was recorded
    assert in_window == {"total": (buy_fee + fee) / 100, "fillsWithFee": 1, "fillsFeeUnknown": 0,
                         "fillsFeeSettled": 1, "correctedUsd": fee / 100, "corrections": 1}
    assert (later["total"], later["corrections"], later["fillsWithFee"]) == (0, 0, 0)
    [line] = [x for x in lines if x.startswith("exit fee settled +")]  # the timeline keeps the correction's line
    assert line.endswith(f"(Kalshi's total, fill at {iso_utc(NOW)})")
