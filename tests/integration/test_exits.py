"""The exit monitor (trading §3.5, ADR 0260) on real PostgreSQL, with the loopback Kalshi exchange for LIVE:
a fired rule sells the position once, in the mode it was bought in; the views, trades and reconciliation
follow; a lost venue answer is resolved by client order id, never by a second sell."""

from __future__ import annotations

import json
from datetime import timedelta

import psycopg
import pytest

from paulp.adapters.market_data import StaticMarketData
from paulp.api.exit_jobs import monitor_exits
from paulp.domain.marks import Quotes
from paulp.domain.schedule import Slot
from tests.fakes.kalshi_exchange import Fault
from tests.integration.helpers import NOW, facts, signal
from tests.integration.kalshi_system import AUTH, System, facts_at_book

pytestmark = pytest.mark.integration
PAPER_TICKER = "KXEXIT-A"


def _position(system: System, ticker: str) -> tuple[int, int, float, int]:
    with psycopg.connect(system.container.database_url) as conn:
        row = conn.execute("SELECT contracts, cost_cents, realized_pnl_usd, exits FROM views.positions"
                           " WHERE ticker = %s", (ticker,)).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), float(row[2]), int(row[3])


def _paper_position(system: System) -> None:
    system.paper_fill("exit-paper", PAPER_TICKER)
    assert _position(system, PAPER_TICKER)[:2] == (50, 2150)


def test_paper_stop_when_mark_below_97_percent_then_sold_once_at_the_mark_and_position_closed(system: System):
    _paper_position(system)
    system.mark(PAPER_TICKER, Quotes(38, 40, 60, 62))  # YES mid 39 <= 43 * 0.97
    report = monitor_exits(system.container)
    [done] = report["exits"]
    assert (done["mode"], done["reason"], done["state"], done["contracts"]) == ("PAPER", "STOP_LOSS_HIT", "FILLED", 50)
    assert done["exitPrice"] == 39.0 and done["realizedPnlUsd"] == pytest.approx(-2.0)
    assert (report["positions"], report["checked"], report["staleMarks"]) == (1, 1, [])

    head = system.head()
    again = monitor_exits(system.container)  # the view has not caught up yet: the same exit, already done
    assert [e["state"] for e in again["exits"]] == ["FILLED"] and system.head() == head

    system.project("orders", "venue_orders")
    assert _position(system, PAPER_TICKER) == (0, 0, pytest.approx(-2.0), 0)
    assert monitor_exits(system.container)["positions"] == 0 and system.head() == head
    trades = system.client.get("/admin/trades?mode=PAPER&status=filled", headers=AUTH).json()["trades"]
    sells = [t for t in trades if t["order_id"] == done["clientOrderId"]]
    assert len(sells) == 1 and sells[0]["fill_count"] == 50 and sells[0]["action"] == "sell"
    assert system.client.get("/admin/positions", headers=AUTH).json()["positions"] == []


@pytest.mark.parametrize(("quotes", "age", "expect"), [
    (Quotes(44, 46, 54, 56), timedelta(0), "hold"),  # mid 45: above the stop, below the 64.5 target
    (Quotes(30, 32, 68, 70), timedelta(minutes=11), "stale"),  # would stop, but the mark is too old
])
def test_monitor_when_rule_does_not_fire_or_mark_is_stale_then_nothing_written(system: System, quotes, age,
                                                                                expect):
    _paper_position(system)
    system.mark(PAPER_TICKER, quotes, age)
    head = system.head()
    report = monitor_exits(system.container)
    assert report["exits"] == [] and system.head() == head
    if expect == "stale":
        assert [s["ticker"] for s in report["staleMarks"]] == [PAPER_TICKER] and report["checked"] == 0
    else:
        assert report["checked"] == 1 and report["staleMarks"] == []


def test_monitor_when_held_past_168_hours_then_time_exit(system: System):
    _paper_position(system)
    later = NOW + timedelta(hours=168, minutes=1)
    system.container.clock.set(later)  # type: ignore[attr-defined]
    assert system.container.markets.observe(PAPER_TICKER, Quotes(44, 46, 54, 56), later, None)
    system.project("market_marks")
    [done] = monitor_exits(system.container)["exits"]
    assert (done["reason"], done["state"], done["exitPrice"]) == ("TIME_LIMIT_EXCEEDED", "FILLED", 45.0)


def test_monitor_when_breaker_halted_then_positions_are_still_closed(system: System):
    """HALT stops new risk; closing is what the operator docs leave open in HALT (ADR 0260)."""
    _paper_position(system)
    system.mark(PAPER_TICKER, Quotes(38, 40, 60, 62))
    system.container.breaker.trip("test halt", "ops")
    assert system.container.breaker.get().state.value == "HALT"
    [done] = monitor_exits(system.container)["exits"]
    assert (done["reason"], done["state"]) == ("STOP_LOSS_HIT", "FILLED")


def _live_position(system: System) -> tuple[str, int]:
    ticker, _ = system.live_fill("exit-live", size=40)
    system.project("orders", "venue_orders")
    contracts, cost, _, _ = _position(system, ticker)
    assert contracts == 40
    entry = cost / contracts
    bid = int(entry * 0.9)  # the market falls: a stop
    system.exchange.markets[ticker].update(yes_bid=bid, yes_ask=bid + 1)
    system.mark(ticker, Quotes(bid, bid + 1, 99 - bid, 100 - bid))
    return ticker, bid


def test_live_stop_when_fired_then_signed_sell_at_the_bid_and_reconciliation_still_matches(system: System):
    ticker, bid = _live_position(system)
    [done] = monitor_exits(system.container)["exits"]
    assert (done["mode"], done["state"], done["exitPrice"]) == ("LIVE", "FILLED", float(bid))
    [sell] = system.sells()
    assert sell.verified
    assert system.exchange._positions.get(ticker, 0) == 0  # the venue holds nothing any more
    system.project("orders", "venue_orders")
    assert _position(system, ticker)[0] == 0
    r = system.client.post("/admin/reconcile", headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ok" and r.json()["drifts"] == []


def test_live_exit_when_venue_answer_lost_then_in_doubt_then_found_by_client_id_without_a_second_sell(
        system: System):
    _live_position(system)
    system.exchange.inject(Fault(status=500, process=True, method="POST", path_contains="/portfolio/orders"))
    [doubt] = monitor_exits(system.container)["exits"]
    assert doubt["state"] == "IN_DOUBT"
    assert len(system.sells()) == 1  # it did reach the venue
    [done] = monitor_exits(system.container)["exits"]
    assert done["state"] == "FILLED" and done["clientOrderId"] == doubt["clientOrderId"]
    assert len(system.sells()) == 1  # resolved by asking, not by selling again


def test_live_exit_when_no_credentials_then_job_fails_closed_and_nothing_decided(system: System):
    _live_position(system)
    system.container.settings.KALSHI_API_KEY = None
    head = system.head()
    run_id = system.container.jobs.run_slot(Slot("exits", NOW))
    assert run_id is not None and system.container.jobs.wait(30)
    failed = system.events("JobRun.Failed", head)
    assert len(failed) == 1 and "credentials" in failed[0].error
    assert system.events("PositionExit", head) == [] and system.sells() == []


def test_monitor_when_paper_and_live_contracts_in_one_market_then_each_position_exits_in_its_own_mode(
        system: System):
    """ADR 0262: a strategy that went live while it held paper contracts of the same market and side has two
    positions; the stop sells the LIVE ones at Kalshi and the paper ones on paper, never one for the other."""
    ticker, _ = _live_position(system)  # 40 LIVE contracts, marked at a stop
    market = facts(ticker)
    book = market.snapshot.__class__(**{**market.snapshot.__dict__, "yes_bid": 40, "yes_ask": 42,
                                        "no_bid": 58, "no_ask": 60})
    paper = system.container.pipeline(StaticMarketData({ticker: market.__class__(**{**market.__dict__,
                                                                                    "snapshot": book})}))
    system.container.clock.set(NOW + timedelta(seconds=2))  # type: ignore[attr-defined]  # order spacing
    out = paper.process(signal("exit-mixed-paper", ticker, size=30))
    assert out.state == "FILLED", out
    system.project("orders", "venue_orders")
    with psycopg.connect(system.container.database_url) as conn:
        rows = conn.execute("SELECT mode, contracts FROM views.positions WHERE ticker = %s ORDER BY mode",
                            (ticker,)).fetchall()
    assert rows == [("LIVE", 40), ("PAPER", 30)]
    positions = system.client.get("/admin/positions", headers=AUTH).json()["positions"]
    assert sorted((p["mode"], p["contracts"]) for p in positions) == [("LIVE", 40), ("PAPER", 30)]

    report = monitor_exits(system.container)
    by_mode = {e["mode"]: e for e in report["exits"]}
    assert set(by_mode) == {"LIVE", "PAPER"} and {e["state"] for e in by_mode.values()} == {"FILLED"}
    assert (by_mode["LIVE"]["contracts"], by_mode["PAPER"]["contracts"]) == (40, 30)
    [sell] = system.sells()  # only the LIVE contracts went to the venue
    assert b'"count":40' in sell.body.replace(b" ", b"")
    assert system.exchange._positions.get(ticker, 0) == 0
    system.project("orders", "venue_orders")
    with psycopg.connect(system.container.database_url) as conn:
        assert conn.execute("SELECT sum(contracts) FROM views.positions WHERE ticker = %s",
                            (ticker,)).fetchone() == (0,)
    daily = system.client.get("/dashboard/daily-pnl", headers=AUTH).json()
    assert daily["closed_positions"] == 2 and daily["open_positions"] == 0
    assert daily["realized_pnl"] == pytest.approx(round(by_mode["LIVE"]["realizedPnlUsd"]
                                                        + by_mode["PAPER"]["realizedPnlUsd"], 2), abs=0.011)


def test_live_exit_when_sell_rests_at_the_venue_then_cancelled_failed_and_redecided_next_run(system: System):
    ticker, bid = _live_position(system)
    market = system.exchange.markets[ticker]
    market.update(yes_bid=bid - 3, yes_ask=bid - 2)  # the book moved after the mark: our sell at `bid` rests
    [failed] = monitor_exits(system.container)["exits"]
    assert failed["state"] == "FAILED" and "nothing filled" in failed["detail"]
    assert len(system.sells()) == 1
    resting = [o for o in system.exchange._orders.values() if o["client_order_id"] == failed["clientOrderId"]]
    assert [o["status"] for o in resting] == ["canceled"]  # nothing left to fill behind our back
    assert system.exchange._positions.get(ticker) == 40

    market.update(yes_bid=bid, yes_ask=bid + 1)
    [done] = monitor_exits(system.container)["exits"]
    assert done["state"] == "FILLED" and done["clientOrderId"] != failed["clientOrderId"]
    assert len(system.sells()) == 2 and system.exchange._positions.get(ticker, 0) == 0


def test_live_exit_when_venue_refuses_one_then_others_still_exit_and_it_is_decided_again_next_run(
        system: System):
    """A 4xx refusal places nothing (the port answers 'rejected'): the LIVE exit fails, the paper one is not held
    back, and the next run decides the LIVE one again under a new client order id."""
    ticker, _ = _live_position(system)
    system.container.clock.set(NOW + timedelta(seconds=2))  # type: ignore[attr-defined]  # order spacing
    _paper_position(system)
    system.mark(PAPER_TICKER, Quotes(38, 40, 60, 62))
    system.exchange.inject(Fault(status=400, method="POST", path_contains="/portfolio/orders",
                                 body={"error": {"code": "invalid_parameters", "message": "refused"}}))
    report = monitor_exits(system.container)
    by_ticker = {e["ticker"]: e for e in report["exits"]}
    assert report["errors"] == [] and by_ticker[PAPER_TICKER]["state"] == "FILLED"  # not held back
    assert by_ticker[ticker]["state"] == "FAILED" and "rejected" in by_ticker[ticker]["detail"]
    assert len(system.sells()) == 1 and system.exchange._positions.get(ticker) == 40
    again = monitor_exits(system.container)  # the refusal is gone: decided again, sent once more
    [done] = [e for e in again["exits"] if e["ticker"] == ticker]
    assert done["state"] == "FILLED" and again["errors"] == []
    assert done["clientOrderId"] != by_ticker[ticker]["clientOrderId"]
    assert len(system.sells()) == 2 and system.exchange._positions.get(ticker, 0) == 0


def test_live_exit_when_kalshi_holds_fewer_or_none_then_never_sells_more_than_held(system: System):
    ticker, _ = _live_position(system)  # 40 LIVE contracts in our views
    system.exchange._positions[ticker] = 15  # 25 sold at Kalshi behind our back
    [done] = monitor_exits(system.container)["exits"]
    assert (done["state"], done["contracts"]) == ("FILLED", 15)
    [sell] = system.sells()
    assert json.loads(sell.body)["count"] == 15  # type: ignore[attr-defined]
    assert system.exchange._positions.get(ticker, 0) == 0

    system.project("orders", "venue_orders")  # 25 left in our views, none at Kalshi
    head = system.head()
    report = monitor_exits(system.container)
    assert report["exits"] == [] and system.head() == head and len(system.sells()) == 1
    assert report["notHeld"] == [{"strategy": "bonding", "ticker": ticker, "side": "YES", "contracts": 25}]


@pytest.mark.parametrize("held", [0, 15])
def test_live_exit_when_redecided_after_a_failed_attempt_then_still_never_sells_more_than_held(system: System,
                                                                                              held: int):
    """ADR 0260: every LIVE sell is capped at what Kalshi holds, a retry of a failed exit included (selling
    what is not held opens the opposite position)."""
    ticker, bid = _live_position(system)  # 40 LIVE contracts
    market = system.exchange.markets[ticker]
    market.update(yes_bid=bid - 3, yes_ask=bid - 2)  # the first sell rests and is cancelled: FAILED
    [failed] = monitor_exits(system.container)["exits"]
    assert failed["state"] == "FAILED" and len(system.sells()) == 1
    system.exchange._positions[ticker] = held  # the rest sold at Kalshi meanwhile
    market.update(yes_bid=bid, yes_ask=bid + 1)
    report = monitor_exits(system.container)
    assert system.exchange._positions.get(ticker, 0) == 0  # never short: at most what was held was sold
    if held:
        [done] = report["exits"]
        assert (done["state"], done["contracts"]) == ("FILLED", held)
        assert json.loads(system.sells()[-1].body)["count"] == held  # type: ignore[attr-defined]
    else:
        assert report["exits"] == [] and len(system.sells()) == 1
        assert report["notHeld"] == [{"strategy": "bonding", "ticker": ticker, "side": "YES", "contracts": 40}]


def test_monitor_when_quotes_unchanged_but_read_every_minute_then_mark_stays_fresh_and_time_exit_fires(
        system: System):
    """A quiet market's mark is read every minute (ADR 0166) with the same quotes: it is current, not stale,
    so the 168 h exit (trading §3.5) still fires."""
    _paper_position(system)
    start = NOW + timedelta(hours=167, minutes=55)
    quotes = Quotes(44, 46, 54, 56)  # mid 45: neither stop nor target
    for minute in range(12):  # what the marks job does each minute
        at = start + timedelta(minutes=minute)
        system.container.markets.observe(PAPER_TICKER, quotes, at, None)
    system.project("market_marks")
    system.container.clock.set(start + timedelta(minutes=11))  # type: ignore[attr-defined]
    report = monitor_exits(system.container)
    assert report["staleMarks"] == []
    [done] = report["exits"]
    assert (done["reason"], done["state"], done["exitPrice"]) == ("TIME_LIMIT_EXCEEDED", "FILLED", 45.0)


def test_live_exits_of_two_strategies_in_one_market_when_kalshi_holds_less_then_together_never_sell_more(
        system: System):
    """Kalshi's positions are read once per run (ADR 0260): what one exit sold is no longer held for the next."""
    from dataclasses import replace

    from paulp.domain.execution_policy import ExecutionMode
    from paulp.domain.services.pipeline import OrderPipeline
    from tests.integration.kalshi_system import facts_at_book

    ticker, _ = system.live_fill("exit-two-bonding", size=40)
    # LIVE's 5 s order spacing binds both strategies' orders (one LIVE throttle, ADR 0307)
    system.container.clock.set(NOW + timedelta(seconds=6))  # type: ignore[attr-defined]
    port, client = system.venue_port()
    try:
        c = system.container
        pipeline = OrderPipeline(c.orders, c.breaker, c.execution, StaticMarketData(
            {ticker: facts_at_book(system.exchange, ticker)}), c.pipeline(StaticMarketData({})).portfolio, port,
            modes={"weather": ExecutionMode.LIVE})
        ask = system.exchange.markets[ticker]["yes_ask"]
        out = pipeline.process(replace(signal("exit-two-weather", ticker, size=40, price=ask), strategy="weather"))
    finally:
        port.close(client)
    assert out.state == "FILLED", out
    system.project("orders", "venue_orders")
    with psycopg.connect(system.container.database_url) as conn:
        rows = conn.execute("SELECT strategy, mode, contracts, cost_cents FROM views.positions WHERE ticker = %s"
                            " ORDER BY strategy", (ticker,)).fetchall()
    assert [(s, m, n) for s, m, n, _ in rows] == [("bonding", "LIVE", 40), ("weather", "LIVE", 40)]
    bid = int(rows[0][3] / 40 * 0.9)  # a stop for both
    system.exchange.markets[ticker].update(yes_bid=bid, yes_ask=bid + 1)
    system.mark(ticker, Quotes(bid, bid + 1, 99 - bid, 100 - bid))
    system.exchange._positions[ticker] = 50  # 30 sold at Kalshi behind our back

    report = monitor_exits(system.container)
    assert system.exchange._positions.get(ticker, 0) == 0  # never short
    assert sum(e["contracts"] for e in report["exits"]) == 50


def test_live_exit_in_doubt_when_market_resolves_before_next_run_then_found_by_client_id_and_booked(
        system: System):
    """A LIVE sell whose answer was lost is still resolved by client order id after the market's outcome is
    known (resolved markets get no new exit, but an unfinished one must not stay in doubt for ever)."""
    ticker, _ = _live_position(system)
    system.exchange.inject(Fault(status=500, process=True, method="POST", path_contains="/portfolio/orders"))
    [doubt] = monitor_exits(system.container)["exits"]
    assert doubt["state"] == "IN_DOUBT" and system.exchange._positions.get(ticker, 0) == 0  # it did sell
    assert system.container.markets.resolve(ticker, "no", NOW, None)
    system.project("market_marks")
    report = monitor_exits(system.container)
    assert report["resolved"] == 1
    [done] = report["exits"]
    assert (done["state"], done["contracts"], done["clientOrderId"]) == ("FILLED", 40, doubt["clientOrderId"])
    assert len(system.sells()) == 1  # asked, never sold again
    system.project("orders", "venue_orders")
    assert _position(system, ticker)[0] == 0  # the sale is booked, not the settlement


def test_live_exit_decided_but_unsent_when_market_resolves_then_failed_without_a_sell(system: System):
    from paulp.domain.exits import ExitReason
    from paulp.domain.position_exits import PositionExit

    ticker, _ = _live_position(system)
    with psycopg.connect(system.container.database_url) as conn:
        opened, cost = conn.execute("SELECT first_fill_at, cost_cents FROM views.positions WHERE ticker = %s",
                                    (ticker,)).fetchone()
    ex = PositionExit.decide("bonding", ticker, "YES", opened, 0, 40, cost / 40, cost / 40 * 0.9,
                             ExitReason.STOP_LOSS_HIT, "LIVE", NOW)
    system.container.exits.save(ex)  # a crash after the decision, before the sell
    assert system.container.markets.resolve(ticker, "no", NOW, None)
    system.project("market_marks")
    [done] = monitor_exits(system.container)["exits"]
    assert done["state"] == "FAILED" and system.sells() == []


def test_dashboard_summary_when_a_day_has_passed_then_cumulative_pnl_keeps_earlier_closes(system: System):
    """api-and-security §1.5: ``cumulative_pnl`` and ``cumulative_win_rate`` cover every close, not today's."""
    _paper_position(system)
    system.mark(PAPER_TICKER, Quotes(38, 40, 60, 62))
    [done] = monitor_exits(system.container)["exits"]
    system.project("orders", "venue_orders")
    same_day = system.client.get("/dashboard/summary", headers=AUTH).json()
    assert same_day["today_realized_pnl"] == same_day["cumulative_pnl"] == pytest.approx(done["realizedPnlUsd"])
    system.container.clock.set(NOW + timedelta(days=1))  # type: ignore[attr-defined]
    next_day = system.client.get("/dashboard/summary", headers=AUTH).json()
    assert next_day["today_realized_pnl"] == 0 and next_day["today_win_rate"] == 0
    assert next_day["cumulative_pnl"] == pytest.approx(done["realizedPnlUsd"])
    assert next_day["cumulative_win_rate"] == 0  # one close, a loss


def test_strategy_totals_when_position_sold_out_by_an_exit_then_its_realised_pnl_still_counts(system: System):
    """GET /admin/status: a strategy's total PnL keeps what its exits realised after the position is sold out
    (a closed position is a win or a loss, like a resolved one)."""
    _paper_position(system)
    system.mark(PAPER_TICKER, Quotes(38, 40, 60, 62))
    [done] = monitor_exits(system.container)["exits"]
    system.project("orders", "venue_orders")
    assert _position(system, PAPER_TICKER)[0] == 0
    rows = {s["id"]: s for s in system.client.get("/admin/status", headers=AUTH).json()["strategies"]}
    bonding = rows["bonding"]
    assert bonding["total_pnl_usd"] == pytest.approx(done["realizedPnlUsd"]) == pytest.approx(-2.0)
    assert (bonding["total_positions"], bonding["win_count"], bonding["loss_count"]) == (1, 0, 1)


def test_live_exit_when_failed_with_its_sell_left_resting_then_not_sold_again_beside_it(system: System):
    """A failed attempt whose cancel did not go through left a sell resting at Kalshi: the next run cancels it
    before selling again, or sells nothing (two live sells could sell twice what is held)."""
    ticker, bid = _live_position(system)  # 40 LIVE contracts
    market = system.exchange.markets[ticker]
    market.update(yes_bid=bid - 3, yes_ask=bid - 2)  # our sell at `bid` rests
    system.exchange.inject(Fault(status=400, method="DELETE", path_contains="/portfolio/orders/",
                                 body={"error": {"code": "internal", "message": "no"}}))
    [failed] = monitor_exits(system.container)["exits"]
    assert failed["state"] == "FAILED" and "left resting" in failed["detail"]

    def resting() -> list[dict]:
        return [o for o in system.exchange._orders.values() if o["action"] == "sell" and o["status"] == "resting"]

    assert len(resting()) == 1
    system.exchange.inject(Fault(status=400, method="DELETE", path_contains="/portfolio/orders/",
                                 body={"error": {"code": "internal", "message": "no"}}))
    monitor_exits(system.container)  # the rule still fires; the resting sell still cannot be cancelled
    assert len(system.sells()) == 1 and len(resting()) == 1  # nothing sent beside it

    market.update(yes_bid=bid, yes_ask=bid + 1)
    [done] = monitor_exits(system.container)["exits"]  # cancelled first, then sold once
    assert done["state"] == "FILLED" and resting() == []
    assert system.exchange._positions.get(ticker, 0) == 0


def test_live_exit_when_last_exit_left_a_remainder_resting_then_next_exit_not_sold_beside_it(system: System):
    """An exit that filled in part and could not cancel the rest leaves a sell resting at Kalshi: the position's
    next exit cancels it first, or sells nothing."""
    ticker, _ = _live_position(system)  # 40 LIVE contracts, at a stop
    system.exchange._positions[ticker] = 15
    [first] = monitor_exits(system.container)["exits"]
    assert (first["state"], first["contracts"]) == ("FILLED", 15)
    system.project("orders", "venue_orders")
    assert _position(system, ticker)[:1] == (25,)
    [order] = [o for o in system.exchange._orders.values() if o["client_order_id"] == first["clientOrderId"]]
    order.update(status="resting", initial_count=25, fill_count=15, remaining_count=10)  # as if 10 of it rest
    system.exchange._positions[ticker] = 25
    fault = {"error": {"code": "internal", "message": "no"}}
    system.exchange.inject(Fault(status=400, method="DELETE", path_contains="/portfolio/orders/", body=fault))
    monitor_exits(system.container)
    assert len(system.sells()) == 1  # nothing sent beside the resting remainder

    [done] = monitor_exits(system.container)["exits"]  # the remainder is cancelled first, then the rest sold
    assert (done["state"], done["contracts"]) == ("FILLED", 25) and order["status"] == "canceled"
    assert system.exchange._positions.get(ticker, 0) == 0


def test_paper_exit_when_mark_mid_is_a_half_cent_then_sell_record_limit_rounds_half_up(system: System):
    """Trading §0: round half up, never to even (a paper stop at the mid 40.5 is a sell limited at 41)."""
    _paper_position(system)
    system.mark(PAPER_TICKER, Quotes(40, 41, 59, 60))  # YES mid 40.5 <= 43 * 0.97
    [done] = monitor_exits(system.container)["exits"]
    assert (done["state"], done["exitPrice"]) == ("FILLED", 40.5)
    system.project("orders", "venue_orders")
    trades = system.client.get("/admin/trades?mode=PAPER", headers=AUTH).json()["trades"]
    [sell] = [t for t in trades if t["order_id"] == done["clientOrderId"]]
    assert (sell["limit_price"], sell["fill_price"]) == (41, 40.5)


def test_monitor_when_kalshi_reports_no_bid_as_0_then_no_exit_on_that_mark_and_listed_as_no_quote(system: System):
    """Kalshi's empty side (bid 0 / ask 100) is no quote: a YES position at 43 with nobody bidding is not
    stopped out at a made-up mid of 21 (ADR 0305)."""
    _paper_position(system)
    system.mark(PAPER_TICKER, Quotes(0, 42, 58, 100))
    head = system.head()
    report = monitor_exits(system.container)
    assert report["exits"] == [] and system.head() == head
    assert [q["ticker"] for q in report["noQuote"]] == [PAPER_TICKER] and report["checked"] == 0
    with psycopg.connect(system.container.database_url) as conn:
        [(bid, ask)] = conn.execute("SELECT yes_bid, yes_ask FROM views.market_marks WHERE ticker = %s",
                                    (PAPER_TICKER,)).fetchall()
    assert (bid, ask) == (None, 42)  # recorded as missing, not as a price of 0
    [position] = system.client.get("/admin/positions", headers=AUTH).json()["positions"]
    assert position["currentPriceCents"] == 42.0  # valued at the lone ask (ADR 0329), not 21 and not 46


def test_live_exit_in_doubt_when_position_averaged_in_before_it_is_found_filled_then_pnl_from_the_new_entry(
        system: System):
    """The realised PnL of an exit is taken against the position as of its fill, not as of its decision."""
    ticker, bid = _live_position(system)
    old_entry = _position(system, ticker)[1] / 40
    system.exchange.inject(Fault(status=500, process=True, method="POST", path_contains="/portfolio/orders"))
    [doubt] = monitor_exits(system.container)["exits"]
    assert doubt["state"] == "IN_DOUBT"
    system.container.clock.sleep(6)  # past LIVE's 5 s order spacing
    more = system.process_live(facts_at_book(system.exchange, ticker), signal("exit-live-more", ticker, size=50,
                                                                           price=bid + 1))
    assert more.state == "FILLED", more  # a further buy in the same position, at the lower ask
    system.project("orders", "venue_orders")
    contracts, cost, _, _ = _position(system, ticker)
    assert contracts == 90
    new_entry = cost / contracts
    assert new_entry < old_entry
    [done] = monitor_exits(system.container)["exits"]
    assert (done["state"], done["contracts"], done["exitPrice"]) == ("FILLED", 40, float(bid))
    assert done["realizedPnlUsd"] == pytest.approx((bid - new_entry) * 40 / 100)
    system.project("orders")
    with psycopg.connect(system.container.database_url) as conn:
        [(entry, pnl)] = conn.execute("SELECT entry_price, realized_pnl_usd FROM views.position_exits").fetchall()
    assert (float(entry), float(pnl)) == (pytest.approx(new_entry), pytest.approx(done["realizedPnlUsd"]))
    assert _position(system, ticker)[2] == pytest.approx(done["realizedPnlUsd"])
