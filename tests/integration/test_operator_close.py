"""An operator's close of a position (ADR 0440) on real PostgreSQL, with the loopback Kalshi exchange for LIVE:
the exit monitor's own exit with reason OPERATOR_CLOSE and who asked and why; refused, with nothing recorded,
where no sell can be made safely; allowed in HALT."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from paulp.api.cli import app
from paulp.domain.marks import Quotes
from tests.integration.helpers import NOW
from tests.integration.kalshi_system import AUTH, System, point_cli_at

pytestmark = pytest.mark.integration
TICKER = "KXCLOSE-A"
CLOSE = "/admin/positions/close"


def _position(system: System, ticker: str) -> tuple[int, float]:
    with psycopg.connect(system.container.database_url) as conn:
        row = conn.execute("SELECT contracts, realized_pnl_usd FROM views.positions WHERE ticker = %s",
                           (ticker,)).fetchone()
    assert row is not None
    return int(row[0]), float(row[1])


def _body(**changes: Any) -> dict[str, Any]:
    return {"strategy": "bonding", "ticker": TICKER, "side": "YES", "mode": "PAPER",
            "reason": "INC-7: flatten before the data outage", **changes}


def test_paper_close_when_halted_and_no_rule_fires_then_sold_at_the_mark_with_operator_and_reason(
        system: System):
    system.paper_fill("close-paper", TICKER)
    system.mark(TICKER, Quotes(44, 46, 54, 56))  # mid 45: no stop, no take-profit, no time limit
    system.container.breaker.trip("incident", "ops")  # HALT stops new risk; closing stays open

    r = system.client.post(CLOSE, json=_body(side="yes", mode="paper"), headers=AUTH)

    assert r.status_code == 200, r.text
    out = r.json()["exit"]
    assert r.json()["success"] is True
    assert (out["reason"], out["state"], out["contracts"], out["exitPrice"]) == ("OPERATOR_CLOSE", "FILLED", 50, 45.0)
    assert out["realizedPnlUsd"] == pytest.approx(1.0)  # (45 - 43) x 50 contracts
    assert out["note"] == "INC-7: flatten before the data outage" and out["requestedBy"]
    system.project("orders", "venue_orders")
    assert _position(system, TICKER) == (0, pytest.approx(1.0))
    with psycopg.connect(system.container.database_url) as conn:
        row = conn.execute("SELECT reason, requested_by, note, state FROM views.position_exits WHERE ticker = %s",
                           (TICKER,)).fetchone()
    assert row == ("OPERATOR_CLOSE", out["requestedBy"], out["note"], "FILLED")
    trades = system.client.get("/admin/trades?mode=PAPER", headers=AUTH).json()["trades"]
    [sell] = [t for t in trades if t.get("action") == "sell"]
    assert (sell["signal_id"], sell["fill_count"]) == ("exit:OPERATOR_CLOSE", 50)

    again = system.client.post(CLOSE, json=_body(), headers=AUTH)  # sold out: the exit that did it (ADR 0517)
    assert (again.status_code, again.json()["alreadyClosed"], again.json()["exit"]) == (200, True, out)
    assert len(system.events("PositionExit.Filled")) == 1


@pytest.mark.parametrize(("body", "fields"), [
    (_body(side="MAYBE"), ["side"]),
    (_body(mode="SHADOW", reason="  "), ["mode", "reason"]),
    ({"ticker": TICKER, "side": "YES", "mode": "PAPER", "reason": "x"}, ["strategy"]),
    (_body(strategy=7), ["strategy"]),
    # a NUL, which no text column holds, reached the position query as a 500 (found by the fuzz campaign, ADR 0498)
    (_body(strategy="close\x00paper"), ["strategy"]),
])
def test_close_when_a_field_is_invalid_then_400_naming_it_and_nothing_recorded(system: System, body, fields):
    system.paper_fill("close-paper", TICKER)
    system.mark(TICKER, Quotes(44, 46, 54, 56))
    head = system.head()
    r = system.client.post(CLOSE, json=body, headers=AUTH)
    assert (r.status_code, r.json()["code"], r.json()["fields"]) == (400, "validation_error", fields)
    assert system.head() == head


def test_close_when_not_authenticated_then_401_and_nothing_recorded(system: System):
    system.paper_fill("close-paper", TICKER)
    head = system.head()
    assert system.client.post(CLOSE, json=_body()).status_code == 401
    assert system.head() == head


@pytest.mark.parametrize("situation", ["stale", "ahead", "one-sided", "resolved", "other-mode"])
def test_close_when_no_safe_price_or_no_such_position_then_refused_and_nothing_recorded(system: System, situation):
    system.paper_fill("close-paper", TICKER)
    if situation == "stale":
        system.mark(TICKER, Quotes(44, 46, 54, 56), age=timedelta(minutes=11))
    elif situation == "ahead":  # stamped 11 min after now: read before the wall clock stepped back (ADR 0526)
        system.mark(TICKER, Quotes(44, 46, 54, 56), age=-timedelta(minutes=11))
    elif situation == "one-sided":
        system.mark(TICKER, Quotes(0, 46, 54, 100))  # no YES bid: the mid would be half a stand-in
    elif situation == "resolved":
        system.mark(TICKER, Quotes(44, 46, 54, 56))
        assert system.container.markets.resolve(TICKER, "yes", NOW, None)
        system.project("market_marks")
    else:
        system.mark(TICKER, Quotes(44, 46, 54, 56))
    head = system.head()
    r = system.client.post(CLOSE, json=_body(mode="LIVE" if situation == "other-mode" else "PAPER"), headers=AUTH)
    expected = (404, "POSITION_NOT_OPEN") if situation == "other-mode" else (409, "CLOSE_REFUSED")
    assert (r.status_code, r.json()["code"]) == expected, r.text
    assert system.head() == head
    assert _position(system, TICKER)[0] == 50


def _live_position(system: System) -> tuple[str, int]:
    """40 LIVE contracts at the fake exchange; the market moves up two cents: no rule fires. Marked now: the CLI
    runs on the wall clock."""
    ticker, _ = system.live_fill("close-live", size=40)
    system.project("orders", "venue_orders")
    with psycopg.connect(system.container.database_url) as conn:
        contracts, cost = conn.execute("SELECT contracts, cost_cents FROM views.positions WHERE ticker = %s",
                                       (ticker,)).fetchone()
    assert contracts == 40
    bid = int(cost / contracts) + 2
    system.exchange.markets[ticker].update(yes_bid=bid, yes_ask=bid + 1)
    system.mark(ticker, Quotes(bid, bid + 1, 99 - bid, 100 - bid), at=datetime.now(UTC))
    return ticker, bid


def test_live_close_by_cli_then_one_signed_sell_at_the_bid_and_the_venue_holds_nothing(
        system: System, monkeypatch: pytest.MonkeyPatch):
    ticker, bid = _live_position(system)
    point_cli_at(system, monkeypatch)

    result = CliRunner().invoke(app, ["positions", "close", "bonding", ticker, "YES", "--mode", "LIVE",
                                      "--operator", "alice", "--reason", "INC-8 manual flatten", "--json"])

    assert result.exit_code == 0, result.output
    [sell] = system.sells()
    assert sell.verified
    assert system.exchange._positions.get(ticker, 0) == 0
    [exit_id] = _exit_ids(system, ticker)
    ex = system.container.exits.app.repository.get(exit_id)
    assert (ex.reason.value, ex.requested_by, ex.note, ex.state.value, ex.exit_price) == (
        "OPERATOR_CLOSE", "alice", "INC-8 manual flatten", "FILLED", float(bid))


def _exit_ids(system: System, ticker: str) -> list[Any]:
    system.project("orders")
    with psycopg.connect(system.container.database_url) as conn:
        return [r[0] for r in conn.execute("SELECT exit_uuid FROM views.position_exits WHERE ticker = %s",
                                           (ticker,))]


def test_live_close_when_kalshi_holds_none_then_refused_without_a_sell(system: System,
                                                                        monkeypatch: pytest.MonkeyPatch):
    ticker, _ = _live_position(system)
    system.exchange._positions[ticker] = 0  # sold elsewhere (by hand on kalshi.com): not ours to sell again
    point_cli_at(system, monkeypatch)
    head = system.head()

    result = CliRunner().invoke(app, ["positions", "close", "bonding", ticker, "YES", "--mode", "LIVE",
                                      "--operator", "alice", "--reason", "flatten"])

    assert result.exit_code == 1 and "CLOSE_REFUSED: Kalshi holds no" in result.output
    assert system.sells() == [] and system.head() == head


def test_cli_close_when_side_is_invalid_then_exit_2_and_nothing_recorded(system: System,
                                                                          monkeypatch: pytest.MonkeyPatch):
    system.paper_fill("close-paper", TICKER)
    point_cli_at(system, monkeypatch)
    head = system.head()
    result = CliRunner().invoke(app, ["positions", "close", "bonding", TICKER, "UP", "--mode", "PAPER",
                                      "--operator", "alice", "--reason", "x"])
    assert result.exit_code == 2 and "SIDE must be one of YES, NO" in result.output
    assert system.head() == head


def test_adopted_contracts_when_closed_then_whole_contracts_sold_and_positions_and_reconciliation_agree(
        system: System, monkeypatch: pytest.MonkeyPatch):
    """After a DR rebuild (ADR 0415) the exit monitor does not sell adopted contracts; an operator can, through
    the same exit, and Kalshi, the positions view and the next reconciliation all agree afterwards."""
    from decimal import Decimal

    from paulp.api.position_rebuild import rebuild_positions

    ticker, _ = system.live_fill("close-dr", size=40)
    other = next(t for t in sorted(system.exchange.markets) if t != ticker)
    system.exchange.set_position(ticker, Decimal("45.50"))  # 5.50 more than ours
    system.exchange.set_position(other, -3)  # 3 NO that no order of ours bought
    system.project("orders", "venue_orders")
    assert system.container.jobs.trigger("reconcile", "ops", "admin")["status"] == "critical_drift"
    assert rebuild_positions(system.container, "ops", "DR drill", False)["followUp"]["status"] == "ok"
    for t in (ticker, other):
        system.exchange.markets[t].update(yes_bid=60, yes_ask=62)
        system.mark(t, Quotes(60, 62, 38, 40), at=datetime.now(UTC))
    point_cli_at(system, monkeypatch)

    def close(t: str, side: str) -> Any:
        return CliRunner().invoke(app, ["positions", "close", "venue-adjustment", t, side, "--mode", "LIVE",
                                        "--operator", "ops", "--reason", "adopted in the DR drill", "--json"])

    paper = CliRunner().invoke(app, ["positions", "close", "venue-adjustment", other, "NO", "--mode", "PAPER",
                                     "--operator", "ops", "--reason", "x"])
    assert paper.exit_code == 1 and "POSITION_NOT_OPEN" in paper.output  # adopted contracts are LIVE only
    no_close, yes_close = close(other, "NO"), close(ticker, "YES")

    assert no_close.exit_code == 0, no_close.output
    assert yes_close.exit_code == 0, yes_close.output
    assert [(s["contracts"], s["exitPrice"], s["reason"]) for s in map(_json, (no_close, yes_close))] == [
        (3, 38.0, "OPERATOR_CLOSE"), (5, 60.0, "OPERATOR_CLOSE")]  # the fraction 0.50 stays: not ours to sell
    assert len(system.sells()) == 2
    assert system.exchange._positions.get(other, 0) == 0 and system.exchange._positions[ticker] == Decimal("40.50")
    system.project("orders", "venue_orders", "reconciliation")
    rows = system.client.get("/admin/positions", headers=AUTH).json()["positions"]
    assert [(p["strategy"], p["ticker"], p["contracts"]) for p in rows if p["strategy"] == "venue-adjustment"] == [
        ("venue-adjustment", ticker, 0.5)]
    assert system.container.jobs.trigger("reconcile", "ops", "admin")["status"] == "ok"
    again = close(other, "NO")  # nothing adopted is left in that market
    assert again.exit_code == 1 and "POSITION_NOT_OPEN" in again.output


def _json(result: Any) -> Any:
    return json.loads(result.output)


def test_positions_list_when_a_paper_position_is_open_then_listed_with_its_fees(system: System,
                                                                               monkeypatch: pytest.MonkeyPatch):
    system.paper_fill("close-paper", TICKER)
    system.mark(TICKER, Quotes(44, 46, 54, 56))
    point_cli_at(system, monkeypatch)
    result = CliRunner().invoke(app, ["positions", "list", "--strategy", "bonding", "--json"])
    assert result.exit_code == 0, result.output
    [row] = _json(result)
    assert (row["ticker"], row["side"], row["mode"], row["contracts"], row["status"]) == (TICKER, "YES", "PAPER", "50",
                                                                                      "open")
    assert row["feesComplete"] is True and float(row["feesUsd"]) > 0  # the paper taker fee (ADR 0437)
    table = CliRunner().invoke(app, ["positions", "list"])
    assert table.exit_code == 0 and TICKER in table.output


def test_paper_close_dry_run_then_preview_at_the_mark_and_nothing_recorded(system: System):
    system.paper_fill("close-paper", TICKER)
    system.mark(TICKER, Quotes(44, 46, 54, 56))
    head = system.head()
    r = system.client.post(CLOSE, json=_body(dryRun=True), headers=AUTH)
    assert r.status_code == 200, r.text
    preview = r.json()["preview"]
    assert (preview["dryRun"], preview["contracts"], preview["price"], preview["exitUnderWay"]) == (True, 50, 45.0,
                                                                                                     None)
    assert preview["estimatedPnlUsd"] == pytest.approx(1.0)
    assert system.head() == head and _position(system, TICKER)[0] == 50
    bad = system.client.post(CLOSE, json=_body(dryRun="yes"), headers=AUTH)
    assert (bad.status_code, bad.json()["fields"]) == (400, ["dryRun"]) and system.head() == head


def test_live_close_dry_run_by_cli_then_kalshi_read_and_nothing_sent(system: System,
                                                                      monkeypatch: pytest.MonkeyPatch):
    ticker, bid = _live_position(system)
    point_cli_at(system, monkeypatch)
    head = system.head()
    result = CliRunner().invoke(app, ["positions", "close", "bonding", ticker, "YES", "--mode", "LIVE",
                                      "--operator", "alice", "--reason", "preview", "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    preview = _json(result)
    assert (preview["contracts"], preview["price"]) == (40, bid)
    assert system.sells() == [] and system.head() == head
    assert any(r.path.endswith("/portfolio/positions") for r in system.exchange.requests)  # holdings were checked
    text = CliRunner().invoke(app, ["positions", "close", "bonding", ticker, "YES", "--mode", "LIVE",
                                    "--operator", "alice", "--reason", "preview", "--dry-run"])
    assert text.exit_code == 0 and f"would sell 40 {ticker} YES (LIVE) at {bid}c" in text.output
