"""The scheduled valuation of the book feeds the circuit breaker (trading §2.3 portfolio update; ADR 0301), on
real PostgreSQL: a drawdown past 10 % moves it NORMAL -> CAUTION through its events, once, and later
valuations of the same drawdown record nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import psycopg
import pytest

from paulp.adapters.market_data import StaticMarketData
from paulp.adapters.projector import catch_up_from_log
from paulp.domain.breaker import CircuitBreaker
from paulp.domain.clock import FixedClock
from paulp.domain.services.breaker import GLOBAL_SCOPE
from tests.integration.helpers import NOW, deep_book, facts, signal

pytestmark = pytest.mark.integration
LOSERS = tuple(f"KXDD-{n}" for n in range(4))



def _lose_yesterday(system, clock: FixedClock) -> None:
    """Four paper bonding fills of about $21.50, each market resolving NO an hour later: $86 lost, 10.75 % of
    the $800 paper capital (bonding + weather), all of it before today."""
    for n, ticker in enumerate(LOSERS):
        clock.set(NOW + n * timedelta(seconds=2))
        book = StaticMarketData({ticker: replace(facts(ticker), category=ticker, last_price_update=clock.now())})
        assert system.pipeline(book).process(signal(f"dd-{ticker}", ticker)).state == "FILLED"
        assert system.markets.resolve(ticker, "NO", NOW + timedelta(hours=1), None)
    with psycopg.connect(system.database_url, autocommit=True) as conn:
        for name in ("orders", "market_marks"):
            catch_up_from_log(conn, system.projections[name])


def _breaker_events(system) -> list[object]:
    return list(system.breaker.events.get(CircuitBreaker.create_id(GLOBAL_SCOPE)))


def test_exits_job_when_book_drawdown_past_10pct_then_breaker_cautions_once_and_does_not_flap(clocked):
    # Arrange: the loss happened yesterday, so the daily loss is 0 and only the drawdown alerts
    system, clock = clocked
    _lose_yesterday(system, clock)
    clock.set(NOW + timedelta(days=1))
    before = len(_breaker_events(system))
    # Act: the scheduled exits job values the book, three runs five minutes apart
    reports = []
    for k in range(3):
        clock.set(NOW + timedelta(days=1, minutes=5 * k))
        reports.append(system.jobs.jobs["exits"]("scheduler", None))  # the scheduled job as wired
    # Assert: the breaker moved through its own events, once
    new = _breaker_events(system)[before:]
    assert [(e.code, e.severity) for e in new if isinstance(e, CircuitBreaker.AlertRaised)] == [
        ("DRAWDOWN_ALERT", "critical")]
    assert [(e.from_state, e.to_state, e.trigger) for e in new if isinstance(e, CircuitBreaker.Transitioned)] == [
        ("NORMAL", "CAUTION", "alert")]
    assert system.breaker.get().state.value == "CAUTION"
    first = reports[0]["portfolio"]
    assert (first["mode"], first["totalValue"], first["changed"], first["state"]) == ("PAPER", 800.0, True, "CAUTION")
    # $86 lost plus the four fills' modelled paper fees (paperFeeRate 0.07: 86c each), which the drawdown's equity
    # paid at the fills (ADR 0442): $89.44 of $800; all yesterday, so the daily figure is still 0
    assert first["maxDrawdown"] == pytest.approx(89.44 / 800) and first["dailyPnl"] == 0.0
    assert [r["portfolio"]["changed"] for r in reports] == [True, False, False]


def test_exits_job_when_book_is_flat_then_breaker_untouched(clocked):
    system, _ = clocked
    before = len(_breaker_events(system))
    report = system.jobs.jobs["exits"]("scheduler", None)
    assert report["portfolio"]["changed"] is False and report["portfolio"]["state"] == "NORMAL"
    assert len(_breaker_events(system)) == before


def _quoted(ticker: str, bid: int, ask: int, at):
    """The helpers' market at another price, in a category of its own (I4 stays out of the way)."""
    base = facts(ticker)
    book = replace(base.snapshot, yes_bid=bid, yes_ask=ask, no_bid=100 - ask, no_ask=100 - bid)
    return replace(base, snapshot=book, book=deep_book(bid, ask), category=ticker, last_price_update=at)


def _buy(system, clock: FixedClock, ticker: str, bid: int, ask: int, contracts: int) -> None:
    market = StaticMarketData({ticker: _quoted(ticker, bid, ask, clock.now())})
    order = system.pipeline(market).process(signal(f"tail-{ticker}", ticker, size=contracts, price=ask + 2))
    assert order.state == "FILLED", order.last_error
    clock.set(clock.now() + timedelta(seconds=2))


def test_exits_job_when_tail_book_concentrated_then_breaker_cautions_once_and_rearms_when_diversified(clocked):
    # Arrange: a paper book of one bond bought at 95, one longshot at 13 and one 43-cent position (no tail,
    # §3.6): two tail positions, the bond about 2/3 of the tail money, HHI about 0.55 (>= 0.3)
    system, clock = clocked
    _buy(system, clock, "KXTAIL-BOND1", 93, 94, 25)
    _buy(system, clock, "KXTAIL-LONG", 11, 12, 100)
    _buy(system, clock, "KXTAIL-MID", 41, 42, 50)
    with psycopg.connect(system.database_url, autocommit=True) as conn:
        catch_up_from_log(conn, system.projections["orders"])
    before = len(_breaker_events(system))
    # Act: three scheduled exits runs, five minutes apart
    reports = []
    for k in range(3):
        clock.set(NOW + timedelta(minutes=5 * (k + 1)))
        reports.append(system.jobs.jobs["exits"]("scheduler", None))
    # Assert: one tail evaluation and one step up, through the breaker's own events; no flapping
    new = _breaker_events(system)[before:]
    [evaluated] = [e for e in new if isinstance(e, CircuitBreaker.TailEvaluated)]
    assert (evaluated.count, evaluated.compliant) == (2, False) and evaluated.hhi >= 0.3
    assert [(e.from_state, e.to_state, e.trigger) for e in new if isinstance(e, CircuitBreaker.Transitioned)] == [
        ("NORMAL", "CAUTION", "tail_concentration")]
    assert [r["portfolio"]["changed"] for r in reports] == [True, False, False]
    assert reports[0]["portfolio"]["tail"] == {"count": 2, "hhi": round(evaluated.hhi, 4), "compliant": False}
    assert system.breaker.get().state.value == "CAUTION"

    # Act: three more bonds diversify the tail book (five tail positions, HHI about 0.23)
    clock.set(NOW + timedelta(minutes=20))
    for n in (2, 3, 4):
        _buy(system, clock, f"KXTAIL-BOND{n}", 93, 94, 12)  # CAUTION halves I1: 2.5 % of $500
    with psycopg.connect(system.database_url, autocommit=True) as conn:
        catch_up_from_log(conn, system.projections["orders"])
    mark = len(_breaker_events(system))
    report = system.jobs.jobs["exits"]("scheduler", None)
    # Assert: the latch clears (recorded), nothing moves; a later run records nothing
    cleared = _breaker_events(system)[mark:]
    assert [(e.count, e.compliant) for e in cleared if isinstance(e, CircuitBreaker.TailEvaluated)] == [(5, True)]
    assert not [e for e in cleared if isinstance(e, CircuitBreaker.Transitioned)]
    assert report["portfolio"]["changed"] is True and report["portfolio"]["state"] == "CAUTION"
    assert system.jobs.jobs["exits"]("scheduler", None)["portfolio"]["changed"] is False
