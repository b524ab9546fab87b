"""Contracts a DR rebuild adopted (ADR 0415) judged by the exit monitor against the venue's cost (ADR 0450), on
real PostgreSQL and NATS with the loopback Kalshi exchange: Kalshi's ``market_exposure`` recorded at adoption, the
stop fired and the contracts sold once at the bid, capped at what Kalshi holds, and the positions view and the next
reconciliation agree; without a usable cost they stay unjudged and are named; a time exit counts from adoption."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from paulp.api.cli import app
from paulp.api.exit_jobs import monitor_exits
from paulp.api.position_rebuild import rebuild_positions
from paulp.domain.marks import Quotes
from tests.integration.helpers import NOW
from tests.integration.kalshi_system import AUTH, System, point_cli_at

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
ADOPTED = "venue-adjustment"


def _halt_and_adopt(system: System) -> dict[str, Any]:
    """DR step 4 as the runbook has it: HALT, then the rebuild reads Kalshi and adopts what it holds."""
    system.container.breaker.trip("DR drill: event store restored", "ops")
    out = rebuild_positions(system.container, "ops", "DR drill: restored the 06:00 backup")
    assert out["followUp"]["status"] == "ok", out
    system.project("reconciliation")
    return out


def _book(system: System, ticker: str, yes_bid: int, yes_ask: int, at: Any = NOW) -> None:
    """Kalshi's book and our mark of it move together (the sell goes at Kalshi's bid)."""
    system.exchange.markets[ticker].update(yes_bid=yes_bid, yes_ask=yes_ask)
    system.mark(ticker, Quotes(yes_bid, yes_ask, 100 - yes_ask, 100 - yes_bid), at=at)


def _adopted_rows(system: System) -> list[Any]:
    rows = system.client.get("/admin/positions", headers=AUTH).json()["positions"]
    return [(p["ticker"], p["side"], p["contracts"]) for p in rows if p["strategy"] == ADOPTED]


def test_adopted_with_kalshi_cost_when_market_falls_below_the_stop_then_sold_once_at_the_bid_and_views_agree(
        system: System):
    # Arrange: Kalshi holds 10 YES that no order of ours bought, which it says cost 500c (50c each)
    ticker = system.tradable_ticker()
    system.exchange.set_position(ticker, 10, exposure_cents=500)
    out = _halt_and_adopt(system)
    assert out["adjustments"] == [{"marketId": ticker, "side": "YES", "internalSize": "0", "venueSize": "10.00",
                                   "contracts": "10.00", "venueCostCents": "500.000000"}]
    assert out["withoutCost"] == []
    with psycopg.connect(system.container.database_url) as conn:
        assert conn.execute("SELECT venue_cost_cents FROM views.position_adjustments").fetchall() == [(Decimal(500),)]
    _book(system, ticker, 51, 53, at=NOW - timedelta(minutes=1))  # mid 52: above the stop (48.5), nothing fires
    assert monitor_exits(system.container)["exits"] == [] and system.sells() == []
    [row] = [p for p in system.client.get("/admin/positions", headers=AUTH).json()["positions"]
             if p["strategy"] == ADOPTED]  # valued against the entry the monitor judges by
    assert (row["contracts"], row["avgPriceCents"], row["currentPriceCents"], row["unrealizedPnlUsd"]) == (
        10, 50.0, 52.0, 0.2)

    # Act: the market falls below the stop
    _book(system, ticker, 45, 47)  # mid 46 <= 48.5
    report = monitor_exits(system.container)

    # Assert: one stop, sold at the bid, the loss against Kalshi's average cost
    assert [(e["strategy"], e["reason"], e["state"], e["contracts"], e["exitPrice"], e["realizedPnlUsd"])
            for e in report["exits"]] == [(ADOPTED, "STOP_LOSS_HIT", "FILLED", 10, 45.0, -0.5)]
    assert report["adopted"] == 1 and report["unjudgedAdopted"] == []
    [sell] = system.sells()
    assert sell.verified and system.exchange._positions[ticker] == 0
    head = system.head()
    again = monitor_exits(system.container)  # views not caught up yet: the same exit found, nothing sent again
    assert [e["state"] for e in again["exits"]] == ["FILLED"] and len(system.sells()) == 1
    assert system.head() == head
    system.project("orders", "venue_orders", "reconciliation")
    assert monitor_exits(system.container)["adopted"] == 0 and len(system.sells()) == 1
    with psycopg.connect(system.container.database_url) as conn:
        exit_row = conn.execute("SELECT strategy, mode, reason, state, filled_size, entry_price, exit_price,"
                                " realized_pnl_usd FROM views.position_exits WHERE ticker = %s", (ticker,)).fetchall()
    assert [(s, m, r, st, n, float(e), float(x), float(p)) for s, m, r, st, n, e, x, p in exit_row] == [
        (ADOPTED, "LIVE", "STOP_LOSS_HIT", "FILLED", 10, 50.0, 45.0, -0.5)]
    assert _adopted_rows(system) == []  # NET_ADJUSTMENTS: adopted 10 less sold 10
    assert system.container.jobs.trigger("reconcile", "ops", "admin")["status"] == "ok"  # Kalshi holds none either


def test_adopted_when_the_take_profit_is_exactly_reached_through_a_repeating_average_then_it_fires(system: System):
    # Arrange: 3 YES adopted that Kalshi says cost 100c: an entry of exactly 100/3, a take-profit of exactly 50
    ticker = system.tradable_ticker()
    system.exchange.set_position(ticker, 3, exposure_cents=100)
    _halt_and_adopt(system)
    # Act: the mid reaches 50 (a float entry of 33.333333333333336 put the target at 50.000000000000004)
    _book(system, ticker, 49, 51)
    report = monitor_exits(system.container)
    # Assert: the take-profit fires on the exact entry (ADR 0463)
    assert [(e["reason"], e["contracts"]) for e in report["exits"]] == [("TAKE_PROFIT_HIT", 3)]


def test_adopted_when_kalshi_holds_fewer_than_adopted_then_the_stop_sells_only_what_it_holds(system: System):
    # Arrange: 6 YES adopted at 40c each; then 2 of them are sold at Kalshi behind our back
    ticker = system.tradable_ticker()
    system.exchange.set_position(ticker, 6, exposure_cents=240)
    _halt_and_adopt(system)
    system.exchange.set_position(ticker, 4, exposure_cents=160)
    # Act
    _book(system, ticker, 30, 32)
    report = monitor_exits(system.container)
    # Assert: never more than Kalshi holds (ADR 0260): the 4 it holds, the rest left for reconciliation
    assert [(e["contracts"], e["exitPrice"]) for e in report["exits"]] == [(4, 30.0)]
    assert system.exchange._positions[ticker] == 0 and len(system.sells()) == 1


def test_adopted_when_kalshi_reports_no_cost_then_unjudged_named_and_never_sold(
        system: System, monkeypatch: pytest.MonkeyPatch):
    # Arrange: 4 NO at Kalshi with no market_exposure in its answer, 3 YES elsewhere that it says cost nothing
    first, second = sorted(system.exchange.markets)[:2]
    system.exchange.set_position(first, -4, exposure_cents=None)
    system.exchange.set_position(second, 3, exposure_cents=0)
    system.container.breaker.trip("DR drill", "ops")
    point_cli_at(system, monkeypatch)

    done = CliRunner().invoke(app, ["reconcile", "rebuild-positions", "--operator", "ops", "--reason", "DR drill"])

    assert done.exit_code == 0, done.output
    text = " ".join(done.output.split())
    assert f"no usable venue cost for {first} NO" in text and f"no usable venue cost for {second} YES" in text
    system.project("reconciliation")
    with psycopg.connect(system.container.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM views.position_adjustments WHERE venue_cost_cents IS NULL"
                            ).fetchone() == (2,)
    # Act: both markets collapse far below anything they could have cost
    _book(system, first, 90, 92)  # NO mid 9
    _book(system, second, 5, 7)  # YES mid 6
    head = system.head()
    report = monitor_exits(system.container)
    # Assert: nothing decided, nothing sent; the report names them (fail closed: no invented entry)
    assert report["exits"] == [] and system.sells() == [] and system.head() == head
    assert sorted(report["unjudgedAdopted"], key=lambda u: u["ticker"]) == [
        {"ticker": first, "side": "NO", "contracts": 4, "reason": "no venue cost recorded at adoption"},
        {"ticker": second, "side": "YES", "contracts": 3, "reason": "no venue cost recorded at adoption"}]
    listed = [p for p in system.client.get("/admin/positions", headers=AUTH).json()["positions"]
              if p["strategy"] == ADOPTED]  # no entry known: valued at the mark, no PnL made up (ADR 0415)
    assert sorted((p["ticker"], p["side"], p["contracts"], p["avgPriceCents"], p["unrealizedPnlUsd"])
                  for p in listed) == sorted([(first, "NO", 4, 9.0, 0), (second, "YES", 3, 6.0, 0)])


def test_adopted_when_held_more_than_168_hours_since_adoption_then_time_exit(system: System):
    # Arrange: 5 YES adopted at 40c each; the price stays between the stop (38.8) and the target (60)
    ticker = system.tradable_ticker()
    system.exchange.set_position(ticker, 5, exposure_cents=200)
    _halt_and_adopt(system)
    clock: Any = system.container.clock
    clock.set(NOW + timedelta(hours=168))
    _book(system, ticker, 44, 46, at=NOW + timedelta(hours=168))
    assert monitor_exits(system.container)["exits"] == []  # exactly 168 h: held on
    # Act
    clock.set(NOW + timedelta(hours=168, minutes=5))
    _book(system, ticker, 44, 46, at=NOW + timedelta(hours=168, minutes=5))
    report = monitor_exits(system.container)
    # Assert: the clock starts at adoption (the entry time the venue cannot tell us)
    assert [(e["reason"], e["contracts"], e["exitPrice"], e["realizedPnlUsd"]) for e in report["exits"]] == [
        ("TIME_LIMIT_EXCEEDED", 5, 44.0, 0.2)]
