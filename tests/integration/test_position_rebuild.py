"""Disaster-recovery position rebuild (trading §7 "Rebuild", §8 DR step 4; ADR 0415) on real PostgreSQL and NATS
against the loopback Kalshi exchange: drift, HALT, `paulp reconcile rebuild-positions`, and the next run is ok;
refused (nothing written, the venue not even read) outside HALT; nothing written when Kalshi cannot be read."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from paulp.api.advisory_locks import LiveSellsInProgress, RebuildInProgress, no_live_sells
from paulp.api.cancel_job import cancel_outstanding
from paulp.api.cli import app
from paulp.api.exit_jobs import close_position, monitor_exits
from paulp.api.jobs import JobBusy
from paulp.api.position_rebuild import rebuild_positions
from paulp.api.venue_session import JobFailed
from paulp.domain.marks import Quotes
from paulp.domain.position_rebuild import BreakerNotHalted, VenueWorkUnfinished
from tests.fakes.kalshi_exchange import Fault
from tests.integration.helpers import NOW
from tests.integration.kalshi_system import AUTH, System, point_cli_at, resting_live_order

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
OPERATOR = "ops-ann"


@pytest.fixture
def cli(system: System, monkeypatch: pytest.MonkeyPatch) -> System:
    """The CLI pointed at the system's database, NATS, namespace, evidence folder and Kalshi."""
    point_cli_at(system, monkeypatch)
    return system


def _drifted(system: System) -> tuple[str, str]:
    """40 LIVE contracts of ours, 45.50 at Kalshi, and 3 NO contracts at Kalshi that no order of ours bought
    (as after a restore from a backup older than the last fills); then a run: critical drift, HALT."""
    ticker, _ = system.live_fill("dr-1", size=40)
    other = next(t for t in sorted(system.exchange.markets) if t != ticker)
    system.exchange.set_position(ticker, Decimal("45.50"))
    system.exchange.set_position(other, -3)
    system.project("orders", "venue_orders")
    assert system.container.jobs.trigger("reconcile", OPERATOR, "admin")["status"] == "critical_drift"
    assert system.container.breaker.get().state.value == "HALT"
    return ticker, other


def _positions_reads(system: System) -> int:
    return sum(r.path.endswith("/portfolio/positions") for r in system.exchange.requests)


def _rebuild(*args: str) -> Any:
    return CliRunner().invoke(app, ["reconcile", "rebuild-positions", "--operator", OPERATOR,
                                    "--reason", "DR drill: event store restored from the 06:00 backup", *args])


def test_rebuild_when_drifted_and_halted_then_venue_adopted_as_adjustments_and_the_next_run_is_ok(cli: System):
    system = cli
    ticker, other = _drifted(system)
    head = system.head()

    preview = _rebuild("--dry-run", "--json")
    assert preview.exit_code == 0, preview.output
    planned = json.loads(preview.output)
    assert system.head() == head  # a dry run records nothing
    assert (planned["statusBefore"], planned["rebuildId"], planned["followUp"]) == ("critical_drift", None, None)

    done = _rebuild("--json")

    assert done.exit_code == 0, done.output
    out = json.loads(done.output)
    expected = [{"marketId": ticker, "side": "YES", "internalSize": "40", "venueSize": "45.50", "contracts": "5.50"},
                {"marketId": other, "side": "NO", "internalSize": "0", "venueSize": "3.00", "contracts": "3.00"}]
    costs = {a["marketId"]: Decimal(a.pop("venueCostCents")) for a in out["adjustments"]}  # Kalshi's (ADR 0450)
    assert costs == {t: n * system.exchange.markets[t]["last_price"] for t, n in ((ticker, Decimal("45.50")),
                                                                                 (other, 3))}
    assert sorted(out["adjustments"], key=lambda a: a["marketId"]) == sorted(expected, key=lambda a: a["marketId"])
    assert [{k: v for k, v in a.items() if k != "venueCostCents"} for a in planned["adjustments"]] == out["adjustments"]
    assert out["followUp"]["status"] == "ok" and out["followUp"]["matchedCount"] == 2
    started, *adjusted = system.events("PositionRebuild", head)
    assert (started.operator, started.breaker_state, started.rebuild_id) == (OPERATOR, "HALT", out["rebuildId"])
    assert started.evidence_hashes and started.evidence_hashes == out["evidenceHashes"]
    assert len(adjusted) == 2
    with psycopg.connect(system.container.database_url) as conn:
        rows = conn.execute("SELECT ticker, side, contracts FROM views.position_adjustments ORDER BY ticker").fetchall()
        chained = conn.execute("SELECT event_type FROM audit_chain WHERE notification_id > %s AND agent ="
                               " 'position_rebuild' ORDER BY chain_seq", (head,)).fetchall()
    assert sorted(rows) == sorted([(ticker, "YES", Decimal("5.50")), (other, "NO", Decimal(3))])
    assert [t for (t,) in chained] == ["PositionRebuild.Started", "PositionRebuild.Adjusted",
                                         "PositionRebuild.Adjusted"]  # in the audit chain, as runs are

    listed = system.client.get("/admin/positions", headers=AUTH).json()["positions"]
    adopted = {(p["ticker"], p["side"]): (p["contracts"], p["mode"], p["status"], p["unrealizedPnlUsd"])
               for p in listed if p["strategy"] == "venue-adjustment"}
    assert adopted == {(ticker, "YES"): (5.5, "LIVE", "adjusted", 0), (other, "NO"): (3, "LIVE", "adjusted", 0)}
    exposure = {p.market_id: p.size for p in system.container.portfolio().snapshot("bonding", ticker, "LIVE").positions}
    assert exposure.get(other, 0) > 0  # the adopted NO contracts count against the risk limits
    ran = CliRunner().invoke(app, ["reconcile", "run", "--actor", OPERATOR, "--json"])  # fills + adjustments = venue
    assert ran.exit_code == 0, ran.output
    again = json.loads(ran.output)
    assert (again["status"], again["matchedCount"], again["maxDriftPct"]) == ("ok", 2, 0)
    second = _rebuild()  # nothing left to adopt: nothing recorded
    assert second.exit_code == 0, second.output
    assert "already match the venue; nothing recorded" in second.output
    assert system.events("PositionRebuild.Started", head) == [started]


def test_rebuild_when_the_breaker_is_not_halted_then_refused_before_kalshi_is_read(cli: System):
    system = cli
    ticker, _ = system.live_fill("dr-2", size=40)
    system.exchange.set_position(ticker, 41)  # drift, but no run: the breaker stays NORMAL
    system.project("orders", "venue_orders")
    head, reads = system.head(), _positions_reads(system)

    with pytest.raises(BreakerNotHalted):
        rebuild_positions(system.container, OPERATOR, "drill")
    refused = _rebuild()

    assert refused.exit_code == 1 and "breaker_not_halted" in refused.output
    assert (system.head(), _positions_reads(system)) == (head, reads)


def test_rebuild_when_kalshi_cannot_be_read_then_nothing_written(system: System):
    _drifted(system)
    head = system.head()
    system.exchange.inject(Fault(status=401, path_contains="/portfolio/positions"))

    with pytest.raises(JobFailed) as failed:
        rebuild_positions(system.container, OPERATOR, "drill")

    assert failed.value.code.startswith("venue_")
    assert system.head() == head and system.events("PositionRebuild") == []


def test_rebuild_when_a_reconciliation_or_rebuild_holds_the_lock_then_busy_and_nothing_read_or_written(
        system: System, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("paulp.api.position_rebuild.LOCK_WAIT_S", 0.2)
    _drifted(system)
    head, reads = system.head(), _positions_reads(system)

    with system.container.jobs.exclusive("reconcile", 1.0), pytest.raises(JobBusy):  # another process's run
        rebuild_positions(system.container, OPERATOR, "drill")

    assert (system.head(), _positions_reads(system)) == (head, reads) and system.events("PositionRebuild") == []


def test_rebuild_when_a_live_order_rests_at_kalshi_then_refused_before_the_read_until_it_is_cancelled(cli: System):
    system = cli
    _, resting = resting_live_order(system, "dr-resting")  # could still fill under the read
    system.container.clock.set(NOW + timedelta(seconds=10))  # type: ignore[attr-defined]  # order spacing
    _drifted(system)
    head, reads = system.head(), _positions_reads(system)

    with pytest.raises(VenueWorkUnfinished) as refused:
        rebuild_positions(system.container, OPERATOR, "drill")
    by_cli = _rebuild("--dry-run")

    assert resting in str(refused.value) and "cancel-outstanding" in str(refused.value)
    assert by_cli.exit_code == 1 and "venue_work_unfinished" in by_cli.output
    assert (system.head(), _positions_reads(system)) == (head, reads) and system.events("PositionRebuild") == []
    assert cancel_outstanding(system.container, "dr")["failed"] == 0
    assert rebuild_positions(system.container, OPERATOR, "drill")["adjustments"]


def test_rebuild_when_a_live_exit_is_in_doubt_then_refused_until_the_exit_is_resolved(system: System):
    ticker, _ = system.live_fill("dr-exit", size=40)
    system.project("orders", "venue_orders")
    bid = 20  # far under the entry: a stop
    system.exchange.markets[ticker].update(yes_bid=bid, yes_ask=bid + 1)
    system.mark(ticker, Quotes(bid, bid + 1, 99 - bid, 100 - bid))
    system.exchange.inject(Fault(status=500, process=True, method="POST", path_contains="/portfolio/orders"))
    [doubt] = monitor_exits(system.container)["exits"]
    assert doubt["state"] == "IN_DOUBT"
    system.container.breaker.trip("incident", "ops")
    head, reads = system.head(), _positions_reads(system)

    with pytest.raises(VenueWorkUnfinished) as refused:  # the sell reached Kalshi: its contracts are gone there
        rebuild_positions(system.container, OPERATOR, "drill")

    [decided] = system.events("PositionExit.Decided")
    assert "1 LIVE exit(s) decided or in doubt" in str(refused.value) and str(decided.originator_id) in str(
        refused.value)
    assert (system.head(), _positions_reads(system)) == (head, reads)
    [done] = monitor_exits(system.container)["exits"]  # found by client order id, never sold twice
    assert done["state"] == "FILLED"
    out = rebuild_positions(system.container, OPERATOR, "drill")
    assert out["adjustments"] == [] and out["statusBefore"] == "ok"  # nothing to adopt: we sold what Kalshi sold


def _live_position_at_a_stop(system: System, signal_id: str) -> str:
    """40 LIVE contracts at Kalshi, marked far under the entry (a stop fires), breaker in HALT (DR)."""
    ticker, _ = system.live_fill(signal_id, size=40)
    system.project("orders", "venue_orders")
    bid = 20
    system.exchange.markets[ticker].update(yes_bid=bid, yes_ask=bid + 1)
    system.mark(ticker, Quotes(bid, bid + 1, 99 - bid, 100 - bid))
    system.container.breaker.trip("incident", "ops")
    return ticker


def test_live_sells_when_a_rebuild_holds_the_venue_then_close_and_monitor_refused_with_nothing_sent(
        system: System, monkeypatch: pytest.MonkeyPatch):
    """ADR 0480: while a rebuild reads and adopts Kalshi's positions no LIVE sell starts (the rebuild would count
    its contracts a second time); the close and the monitor's run fail with rebuild_in_progress, nothing sent or
    recorded, and go through once the rebuild has finished."""
    monkeypatch.setattr("paulp.api.exit_jobs.LOCK_WAIT_S", 0.2)
    ticker = _live_position_at_a_stop(system, "dr-lock-1")
    head = system.head()

    with no_live_sells(system.container, 1.0):  # a rebuild under way (in this or another process)
        with pytest.raises(RebuildInProgress) as closing:
            close_position(system.container, "bonding", ticker, "YES", "LIVE", OPERATOR, "flatten")
        with pytest.raises(RebuildInProgress):
            monitor_exits(system.container)
        by_http = system.client.post("/admin/positions/close", headers=AUTH, json={
            "strategy": "bonding", "ticker": ticker, "side": "YES", "mode": "LIVE", "reason": "flatten"})
        preview = close_position(system.container, "bonding", ticker, "YES", "LIVE", OPERATOR, "flatten",
                                 dry_run=True)  # a dry run sends nothing: not held up

    assert (closing.value.code, closing.value.status) == ("rebuild_in_progress", 409)
    assert preview["contracts"] == 40
    assert by_http.status_code == 409 and "rebuild_in_progress" in by_http.text
    assert system.sells() == [] and system.head() == head and system.events("PositionExit", head) == []
    out = close_position(system.container, "bonding", ticker, "YES", "LIVE", OPERATOR, "flatten")
    assert out["state"] == "FILLED" and len(system.sells()) == 1


def test_rebuild_when_a_live_sell_is_under_way_then_refused_before_kalshi_is_read(
        system: System, monkeypatch: pytest.MonkeyPatch):
    """A close whose sell Kalshi has filled but not yet answered: Kalshi's positions already lack the contracts
    while our log does not know it. The rebuild started then is refused before the read (nothing read or written);
    after the close it finds nothing to adopt."""
    monkeypatch.setattr("paulp.api.position_rebuild.LOCK_WAIT_S", 0.2)
    ticker = _live_position_at_a_stop(system, "dr-lock-2")
    system.exchange.inject(Fault(status=None, delay_s=1.5, process=True, method="POST",
                                 path_contains="/portfolio/orders"))
    closed: dict[str, Any] = {}
    closer = threading.Thread(target=lambda: closed.update(close_position(
        system.container, "bonding", ticker, "YES", "LIVE", OPERATOR, "flatten")))
    closer.start()
    try:
        deadline = time.monotonic() + 10
        while not system.sells() and time.monotonic() < deadline:  # the sell has reached Kalshi
            time.sleep(0.01)
        assert system.sells()
        reads = _positions_reads(system)  # the close's own events go on being recorded meanwhile

        with pytest.raises(LiveSellsInProgress) as refused:
            rebuild_positions(system.container, OPERATOR, "drill")

        assert refused.value.code == "live_sells_in_progress"
        assert (_positions_reads(system), system.events("PositionRebuild")) == (reads, [])
    finally:
        closer.join(timeout=15)
    assert not closer.is_alive() and closed["state"] == "FILLED"
    system.project("orders", "venue_orders")
    out = rebuild_positions(system.container, OPERATOR, "drill")
    assert out["adjustments"] == [] and out["statusBefore"] == "ok"  # we sold what Kalshi sold: nothing to adopt


def test_close_when_a_rebuild_is_reading_kalshi_then_refused_and_the_rebuild_adopts_nothing(
        system: System, monkeypatch: pytest.MonkeyPatch):
    """The race ADR 0451 left open: a close decided after the rebuild's in-flight check, sold while the rebuild
    reads Kalshi. Kalshi would answer without the sold contracts, the rebuild adopt -40 and the exit book the sale
    as well: counted twice. Now the close waits for the rebuild and is refused; the rebuild adopts nothing."""
    monkeypatch.setattr("paulp.api.exit_jobs.LOCK_WAIT_S", 0.2)
    ticker = _live_position_at_a_stop(system, "dr-lock-3")
    reads = _positions_reads(system)
    system.exchange.inject(Fault(status=None, delay_s=1.0, method="GET", path_contains="/portfolio/positions"))
    rebuilt: dict[str, Any] = {}
    rebuild = threading.Thread(target=lambda: rebuilt.update(rebuild_positions(system.container, OPERATOR, "drill",
                                                                               follow_up=False)))
    rebuild.start()
    try:
        deadline = time.monotonic() + 10
        while _positions_reads(system) == reads and time.monotonic() < deadline:  # Kalshi is being read
            time.sleep(0.01)
        assert _positions_reads(system) > reads

        with pytest.raises(RebuildInProgress):
            close_position(system.container, "bonding", ticker, "YES", "LIVE", OPERATOR, "flatten")
    finally:
        rebuild.join(timeout=15)

    assert not rebuild.is_alive() and rebuilt["adjustments"] == [] and rebuilt["statusBefore"] == "ok"
    assert system.sells() == [] and system.exchange._positions.get(ticker) == 40
