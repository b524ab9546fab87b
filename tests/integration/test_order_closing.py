"""The order lifecycle's last two steps driven by the reconcile run (trading §1.4 steps 8-9, §7 "Order-level";
ADR 0410), on real PostgreSQL and NATS against the loopback Kalshi exchange: FILLED -> RECONCILED after a matching
run, RECONCILIATION_DRIFT after a drifted one, the operator's manual fix, ARCHIVED with PnL once the market settled
or exits sold the position; a run that cannot read the venue moves nothing. Exit sells reach the regulatory export
(ADR 0414)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from typer.testing import Result

from paulp.adapters.market_data import StaticMarketData
from paulp.adapters.regulatory_export import read_order_rows
from paulp.api.exit_jobs import monitor_exits
from paulp.api.positions import valued_positions
from paulp.api.venue_session import JobFailed
from paulp.domain.marks import Quotes
from paulp.domain.order_states import OrderState
from paulp.domain.regulatory_export import ReportPeriod, records
from tests.fakes.kalshi_exchange import Fault
from tests.integration.helpers import NOW, facts, signal
from tests.integration.kalshi_system import System, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
S = OrderState
PAPER_TICKER = "KXCLOSE-P"


def _run(system: System) -> tuple[dict[str, Any], str]:
    """One reconcile run as the trigger endpoints start it: (its result, its run id)."""
    system.project("orders", "venue_orders", "market_marks")
    head = system.head()
    result = system.container.jobs.trigger("reconcile", "ops-on-call", "admin")
    [report] = system.events("ReconciliationReport", head)
    return result, report.run_id


def _order(system: System, order_id: str) -> Any:
    order = system.container.orders.find(order_id)
    assert order is not None
    return order


def _moves(system: System, after: int) -> list[tuple[str, str]]:
    return [(e.from_state, e.to_state) for e in system.events("OrderRecord.Transitioned", after)]


def _cli(system: System, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    return run_cli(system, monkeypatch, "orders", "reconcile", *args)


def test_orders_when_runs_match_drift_are_fixed_and_the_market_settles_then_reconciled_then_archived_with_pnl(
        system: System, monkeypatch: pytest.MonkeyPatch):
    ticker, a = system.live_fill("close-a", size=40)
    paper = system.container.pipeline(StaticMarketData({PAPER_TICKER: facts(PAPER_TICKER)})).process(
        signal("close-paper", PAPER_TICKER, size=30))
    assert paper.state == S.FILLED

    # the venue cannot be read: the run fails and no order moves
    system.project("orders", "venue_orders")
    head = system.head()
    system.exchange.inject(Fault(status=401, path_contains="/portfolio/positions"))
    with pytest.raises(JobFailed):
        system.container.jobs.trigger("reconcile", "ops-on-call", "admin")
    assert _moves(system, head) == [] and _order(system, a).state == S.FILLED

    # a matching run: the LIVE order by Kalshi, the PAPER one by the paper book; the run's id on each move
    result, run_id = _run(system)
    assert result["status"] == "ok"
    for oid, size in ((a, 40), (paper.order_id, 30)):
        order = _order(system, oid)
        assert order.state == S.RECONCILED and order.reconciliation_result.to_dict() == {
            "verified": True, "expectedSize": size, "brokerSize": size, "driftPct": 0}
        assert dict(order.history[-1].metadata) == {"runId": run_id, "basis": "compared"}
    head = system.head()
    _run(system)  # idempotent: nothing is moved again
    assert _moves(system, head) == []

    # a second order on the key, and Kalshi holds 2 contracts fewer: that order drifts, the reconciled one stays
    system.container.clock.set(NOW + timedelta(seconds=10))  # type: ignore[attr-defined]  # order spacing
    ticker_b, b = system.live_fill("close-b", size=40)
    assert ticker_b == ticker
    system.exchange.set_position(ticker, 78)
    result, run_id = _run(system)
    assert result["status"] == "major_drift"
    drifted = _order(system, b)
    assert (drifted.state, drifted.last_error) == (S.RECONCILIATION_DRIFT, "Position drift: -2.50%")
    assert drifted.reconciliation_result.to_dict() == {"verified": False, "expectedSize": 80, "brokerSize": 78,
                                                       "driftPct": -2.5}
    assert _order(system, a).state == S.RECONCILED

    # the manual fix: refused for an order not in drift (exit 1, nothing recorded), accepted for the drifted one
    head = system.head()
    refused = _cli(system, monkeypatch, a, "--reason", "checked", "--operator", "alice")
    assert refused.exit_code == 1 and "not in RECONCILIATION_DRIFT state" in refused.stderr
    assert _moves(system, head) == []
    blank = _cli(system, monkeypatch, b, "--reason", " ", "--operator", "alice")
    assert blank.exit_code == 2 and _moves(system, head) == []
    fixed = _cli(system, monkeypatch, b, "--reason", "2 contracts sold by hand at Kalshi", "--operator", "alice")
    assert fixed.exit_code == 0, fixed.stdout + fixed.stderr
    fixed_order = _order(system, b)
    assert (fixed_order.state, fixed_order.last_error) == (S.RECONCILED, None)
    assert fixed_order.history[-1].reason == "Manual fix by alice: 2 contracts sold by hand at Kalshi"

    # the market settles YES: Kalshi zeroes the position; both LIVE orders are archived with the settlement's PnL
    assert system.container.markets.resolve(ticker, "yes", NOW, None)
    system.exchange.set_position(ticker, 0)
    system.exchange.markets[ticker].update(status="settled", result="yes")
    result, run_id = _run(system)
    assert result["status"] == "ok" and result["settledMarkets"] == [ticker]
    for oid in (a, b):
        order = _order(system, oid)
        assert order.state == S.ARCHIVED and order.archived_at is not None
        meta = dict(order.history[-1].metadata)
        assert meta["runId"] == run_id and meta["closingNotes"].startswith("Market settled: episode opened")
        assert meta["pnl"] == pytest.approx((100 - order.avg_fill_price) * 40 / 100, abs=1e-6)
    assert _order(system, paper.order_id).state == S.RECONCILED  # its paper market is still open

    # archiving changes no position: the settled one is still shown resolved, and the next run is still ok
    system.project("orders")
    [held] = [p for p in valued_positions(system.container.pool) if p.ticker == ticker]
    assert (held.status, held.contracts) == ("resolved", 80)
    assert _run(system)[0]["status"] == "ok"


def test_order_when_exits_sold_the_position_then_archived_with_the_exit_pnl_and_the_sell_exported(system: System):
    ticker, oid = system.live_fill("close-exit", size=40)
    system.project("orders", "venue_orders")
    with psycopg.connect(system.container.database_url) as conn:
        row = conn.execute("SELECT cost_cents FROM views.positions WHERE ticker = %s", (ticker,)).fetchone()
    assert row is not None
    bid = int(row[0] / 40 * 0.9)  # the market falls: a stop
    system.exchange.markets[ticker].update(yes_bid=bid, yes_ask=bid + 1)
    assert system.container.markets.observe(ticker, Quotes(bid, bid + 1, 99 - bid, 100 - bid), NOW, None)
    system.project("market_marks")
    [sold] = monitor_exits(system.container)["exits"]
    assert (sold["state"], sold["contracts"]) == ("FILLED", 40)

    _, run_id = _run(system)  # Kalshi and we hold nothing of the key: verified, then closed by the exit

    order = _order(system, oid)
    assert [e.target for e in order.history[-2:]] == [S.RECONCILED, S.ARCHIVED]
    assert dict(order.history[-2].metadata) == {"runId": run_id, "basis": "flat"}
    meta = dict(order.history[-1].metadata)
    assert meta["pnl"] == pytest.approx(sold["realizedPnlUsd"], abs=1e-6)
    assert meta["closingNotes"].startswith("Sold by exits:")
    assert _run(system)[0]["status"] == "ok"  # the archived order's fill and its exit's sell still net to 0

    period = ReportPeriod.parse("2026-03-02", "2026-03-02")
    with psycopg.connect(system.container.database_url) as conn:
        rows = read_order_rows(conn, *period.bounds(), ("LIVE",))
    by_id = {r["Trade_ID"]: r for r in records(rows, period)}
    sell = by_id[sold["clientOrderId"]]
    assert (sell["Trade_Quantity"], sell["Order_Status"], sell["Contract_Code"]) == (-40, "EXECUTED", ticker)
    assert sell["Trade_Price"] == f"{Decimal(repr(sold['exitPrice'])) / 100:.4f}"
    assert by_id[oid]["Trade_Quantity"] == 40 and len(by_id) == 2


def test_paper_order_when_a_paper_stop_sold_it_then_verified_by_the_paper_book_and_archived(system: System):
    """The paper book counts the exit's paper sell against the fill (trading §1.6), so a sold-out paper position is
    held by neither book: verified (basis flat), then archived with the stop's PnL, without reading Kalshi."""
    order = system.container.pipeline(StaticMarketData({PAPER_TICKER: facts(PAPER_TICKER)})).process(
        signal("close-paper-stop", PAPER_TICKER))
    assert order.state == S.FILLED
    system.project("orders", "venue_orders")
    assert system.container.markets.observe(PAPER_TICKER, Quotes(38, 40, 60, 62), NOW, None)  # a stop
    system.project("market_marks")
    [sold] = monitor_exits(system.container)["exits"]
    assert (sold["mode"], sold["state"]) == ("PAPER", "FILLED")
    kalshi_reads = len(system.exchange.requests)

    _, run_id = _run(system)

    done = _order(system, order.order_id)
    assert [(e.target, e.metadata.get("basis")) for e in done.history[-2:]] == [(S.RECONCILED, "flat"),
                                                                                 (S.ARCHIVED, None)]
    assert done.history[-1].metadata["pnl"] == pytest.approx(sold["realizedPnlUsd"], abs=1e-6)
    assert done.history[-1].metadata["runId"] == run_id and len(system.exchange.requests) == kalshi_reads
