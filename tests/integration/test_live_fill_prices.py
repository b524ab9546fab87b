"""LIVE fills are booked at the price Kalshi filled them, not at our limit (ADR 0282).

Kalshi fills a buy at the resting ask when it is better than the limit and reports what the fills cost
(``taker_fill_cost``/``maker_fill_cost``); the loopback fake now does the same, so the order's average fill
price, the trades view and the position cost are checked against the resting book, not the limit."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import psycopg
import pytest

from paulp.adapters.kalshi.port import fill_price
from paulp.adapters.kalshi.venue import fill_cost_cents, parse_order
from paulp.api.exit_jobs import monitor_exits
from paulp.domain.marks import Quotes
from paulp.domain.services.pipeline import TradeSignal
from tests.integration.helpers import NOW, deep_book, facts
from tests.integration.kalshi_system import AUTH, System

pytestmark = pytest.mark.integration
SIZE = 30  # LIVE policy: <= 50 contracts, >= $10 notional


def _buy(system: System, sid: str, side: str, limit: int, yes: list[tuple[int, int]],
         no: list[tuple[int, int]]) -> tuple[str, str]:
    """A LIVE bonding buy of ``side`` limited at ``limit`` (that side's cents, = the ask we saw), sent through the
    real pipeline while the fake's book rests ``yes``/``no`` bids: (order id, state)."""
    ticker = system.tradable_ticker()
    yes_ask = limit if side == "YES" else 100 - limit + 1
    seen = facts(ticker)  # the book as we saw it: our side's ask at the limit
    seen = replace(seen, snapshot=replace(seen.snapshot, yes_ask=yes_ask, yes_bid=yes_ask - 1, no_bid=100 - yes_ask,
                                          no_ask=100 - yes_ask + 1), book=deep_book(yes_ask - 1, yes_ask))
    system.exchange.set_book(ticker, yes=yes, no=no)
    out = system.process_live(seen, TradeSignal(signal_id=sid, strategy="bonding", ticker=ticker, side=side,
                                                requested_size=SIZE, max_price=limit, model_probability=0.6,
                                                edge=0.18, confidence=0.8))
    [placed] = system.exchange.orders
    assert placed[f"{side.lower()}_price"] == limit  # the limit went out unchanged
    return out.order_id, out.state


def _booked(system: System, order_id: str) -> tuple[float, float, int]:
    """(order's avg fill price, the trades view's fill price, the position's cost in cents)."""
    system.project("orders", "venue_orders")
    order = system.container.orders.find(order_id)
    assert order is not None and order.avg_fill_price is not None
    [trade] = system.client.get("/admin/trades?venue=kalshi&mode=LIVE", headers=AUTH).json()["trades"]
    with psycopg.connect(system.container.database_url) as conn:
        [(contracts, cost)] = conn.execute("SELECT contracts, cost_cents FROM views.positions WHERE mode = 'LIVE'"
                                           " AND side = %s", (order.side,)).fetchall()
    assert contracts == SIZE
    return order.avg_fill_price, trade["fill_price"], int(cost)


def test_live_yes_buy_when_resting_ask_is_below_limit_then_booked_at_the_ask(system):
    """Limited at 55 against a resting ask of 52: Kalshi fills at 52, so 52 is what was paid."""
    order_id, state = _buy(system, "fp-yes", "YES", 55, yes=[(50, 100)], no=[(48, 100)])  # YES ask = 100 - 48
    assert state == "FILLED"
    assert _booked(system, order_id) == (52, 52, SIZE * 52)


def test_live_no_buy_when_resting_no_ask_is_below_limit_then_booked_in_no_cents(system):
    """A NO buy limited at 45 NO against NO asks at 42 (YES bids at 58): booked at 42 NO cents, not in YES cents."""
    order_id, state = _buy(system, "fp-no", "NO", 45, yes=[(58, 100)], no=[(38, 100)])
    assert state == "FILLED"
    assert system.exchange.orders[0]["taker_fill_cost"] == SIZE * 42
    assert _booked(system, order_id) == (42, 42, SIZE * 42)


def test_live_buy_when_fill_takes_two_price_levels_then_cost_weighted_average(system):
    """10 contracts rest at 52 and 100 at 53: 30 bought cost 10 x 52 + 20 x 53 = 1580 cents, 52.67 each."""
    order_id, state = _buy(system, "fp-split", "YES", 55, yes=[(50, 100)], no=[(48, 10), (47, 100)])
    assert state == "FILLED"
    avg, view, cost = _booked(system, order_id)
    assert cost == 1580
    assert avg == pytest.approx(1580 / 30) and view == pytest.approx(1580 / 30)


def test_live_buy_when_ask_is_at_the_limit_then_booked_at_the_limit(system):
    order_id, state = _buy(system, "fp-at", "YES", 55, yes=[(53, 100)], no=[(45, 100)])
    assert state == "FILLED"
    assert _booked(system, order_id) == (55, 55, SIZE * 55)


def test_fill_cost_prefers_fixed_point_dollars_and_adds_maker_to_taker():
    """Trade API v2 order objects: legacy integer cents, or ``*_dollars`` fixed-point strings (newer versions)."""
    assert fill_cost_cents({"taker_fill_cost": 520, "maker_fill_cost": 106}) == 626
    assert fill_cost_cents({"taker_fill_cost_dollars": "5.205000", "maker_fill_cost_dollars": "0.000000",
                            "taker_fill_cost": 520}) == Decimal("520.5")
    assert fill_cost_cents({"fill_count": 3}) is None


def test_order_object_when_only_fixed_point_fields_then_counts_prices_and_fill_price_read():
    """Newer API versions require only the ``*_fp`` counts and ``*_dollars`` prices/costs: a NO buy limited at
    45 that filled 30 for $12.60 is 30 filled at 42 NO cents, not "nothing filled"."""
    raw = {"order_id": "o-1", "ticker": "KXT-1", "status": "executed", "side": "no", "action": "buy",
           "type": "limit", "yes_price_dollars": "0.550000", "no_price_dollars": "0.450000",
           "fill_count_fp": "30.00", "remaining_count_fp": "0.00", "initial_count_fp": "30.00",
           "taker_fill_cost_dollars": "12.600000", "maker_fill_cost_dollars": "0.000000"}
    record = parse_order(raw)
    assert (record.filled_count, record.remaining_count, record.count) == (30, 0, 30)
    assert (record.yes_price, record.no_price) == (55, 45)
    assert fill_price(record) == 42


def _stopped_live_position(system: System, sid: str, side: str, size: int) -> tuple[str, int]:
    """``size`` LIVE contracts of ``side`` bought at the fake's ask, then a stop: the mark falls to a ``side`` bid of
    ``limit`` (the sell's limit), while the fake's book rests better ``side`` bids above it. (ticker, limit)."""
    ticker, out = system.live_order(sid, size=size) if side == "YES" else _no_fill(system, sid, size)
    assert out.state == "FILLED", out
    order = system.container.orders.find(out.order_id)
    assert order is not None and order.avg_fill_price is not None
    limit = int(order.avg_fill_price * 0.9)  # a stop: at or below 97 % of the entry
    better = [(limit + 3, 10), (limit + 2, 100)]  # bids of the held side above the mark: the sell takes these
    other = [(100 - limit - 5, 100)]
    system.exchange.set_book(ticker, yes=better if side == "YES" else other, no=other if side == "YES" else better)
    bid, ask = limit, limit + 1
    quotes = Quotes(bid, ask, 99 - bid, 100 - bid) if side == "YES" else Quotes(99 - bid, 100 - bid, bid, ask)
    assert system.container.markets.observe(ticker, quotes, NOW, None)
    system.project("orders", "venue_orders", "market_marks")
    return ticker, limit


def _no_fill(system: System, sid: str, size: int) -> tuple[str, object]:
    ticker = system.tradable_ticker()
    m = system.exchange.markets[ticker]
    seen = facts(ticker)
    seen = replace(seen, snapshot=replace(seen.snapshot, yes_bid=m["yes_bid"], yes_ask=m["yes_ask"],
                                          no_bid=100 - m["yes_ask"], no_ask=100 - m["yes_bid"]),
                   book=deep_book(m["yes_bid"], m["yes_ask"]))
    return ticker, system.process_live(seen, TradeSignal(signal_id=sid, strategy="bonding", ticker=ticker,
                                                         side="NO", requested_size=size, max_price=100 - m["yes_bid"],
                                                         model_probability=0.4, edge=0.18, confidence=0.8))


@pytest.mark.parametrize(("side", "size"), [("YES", 40), ("NO", 30)])  # LIVE risk: >= $10, <= 5 % of capital
def test_live_sell_when_resting_bids_are_above_limit_then_booked_at_the_proceeds_not_the_limit(system, side, size):
    """A stop sells the position at the mark's bid; Kalshi fills 10 at limit + 3 and the rest at limit + 2 (the
    resting bids of the held side): the exit, the trades view and the realised PnL carry what it got."""
    _, limit = _stopped_live_position(system, f"fp-sell-{side.lower()}", side, size)
    [done] = monitor_exits(system.container)["exits"]
    [sold] = [o for o in system.exchange.orders if o["action"] == "sell"]
    assert sold[f"{side.lower()}_price"] == limit and sold["fill_count"] == size  # the limit went out unchanged
    assert (done["mode"], done["state"], done["contracts"]) == ("LIVE", "FILLED", size)
    proceeds = (10 * (limit + 3) + (size - 10) * (limit + 2)) / size
    assert done["exitPrice"] == pytest.approx(proceeds)
    system.project("orders", "venue_orders")
    trades = system.client.get("/admin/trades?venue=kalshi&mode=LIVE", headers=AUTH).json()["trades"]
    [sell] = [t for t in trades if t["action"] == "sell"]
    assert (sell["fill_price"], sell["limit_price"]) == (pytest.approx(proceeds), limit)
    assert sell["order_id"] == sold["order_id"] and sell["client_order_id"] == done["clientOrderId"]
    entry = system.container.orders.find(next(t["client_order_id"] for t in trades if t["action"] == "buy"))
    assert entry is not None and entry.avg_fill_price is not None
    assert done["realizedPnlUsd"] == pytest.approx(size * (proceeds - entry.avg_fill_price) / 100)


def test_fill_price_when_sell_cost_is_not_a_price_the_limit_allows_then_the_limit():
    """A sell fills at its limit or better (higher): an average below the limit (e.g. a cost given in the other
    side's cents) is not booked; the limit is, as before."""
    raw = {"order_id": "o-2", "ticker": "KXT-1", "status": "executed", "side": "yes", "action": "sell",
           "type": "limit", "yes_price": 95, "no_price": 5, "fill_count": 40, "remaining_count": 0,
           "taker_fill_cost": 40 * 4, "maker_fill_cost": 0}
    assert fill_price(parse_order(raw)) == 95
    assert fill_price(parse_order({**raw, "taker_fill_cost": 40 * 96})) == 96
