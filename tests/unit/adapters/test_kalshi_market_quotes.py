"""A Kalshi market object's quotes as the domain reads them: an empty side of the book (bid 0, ask 100) is a
missing quote, not a price (ADR 0305)."""

from __future__ import annotations

from paulp.adapters.kalshi.venue import parse_market
from paulp.domain.ports import MarketFacts


def test_parse_market_when_no_bid_and_no_ask_reported_as_0_and_100_then_missing_quotes() -> None:
    snap = parse_market({"ticker": "KX-A", "status": "active", "yes_bid": 0, "yes_ask": 40, "no_bid": 60,
                         "no_ask": 100})
    assert (snap.yes_bid, snap.yes_ask, snap.no_bid, snap.no_ask) == (None, 40, 60, None)


def test_parse_market_when_both_sides_quoted_then_prices_kept() -> None:
    snap = parse_market({"ticker": "KX-A", "yes_bid": 1, "yes_ask": 99, "no_bid": 1, "no_ask": 99})
    assert (snap.yes_bid, snap.yes_ask, snap.no_bid, snap.no_ask) == (1, 99, 1, 99)


def test_risk_spread_when_a_side_is_empty_then_full_width_not_zero() -> None:
    facts = MarketFacts(snapshot=parse_market({"ticker": "KX-A", "yes_bid": 0, "yes_ask": 40}), category="x")
    assert facts.spread("YES") is None  # pre-trade: "No two-sided quote"
    assert facts.risk_spread("YES") == 1.0  # I10 reads the book as wide as it can be (fail closed)
    both = MarketFacts(snapshot=parse_market({"ticker": "KX-A", "yes_bid": 40, "yes_ask": 44}), category="x")
    assert both.risk_spread("YES") == both.spread("YES") == 0.04
