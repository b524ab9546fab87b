"""A Kalshi market object's quotes as the domain reads them: an empty side of the book (bid 0, ask 100) is a
missing quote, not a price (ADR 0305); the fixed-point dollar fields are read first, exactly (ADR 0321)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from paulp.adapters.kalshi.market_fields import MarketFieldInvalid
from paulp.adapters.kalshi.venue import parse_market
from paulp.api.signal_jobs import catalogue_market
from paulp.api.weather_scan import weather_candidates
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


# -- the fixed-point dollar fields Kalshi now sends, and will send alone (ADR 0321) -------------------------------

DOLLARS_ONLY = {"ticker": "KX-A", "status": "active", "yes_bid_dollars": "0.4200", "yes_ask_dollars": "0.4500",
                "no_bid_dollars": "0.5500", "no_ask_dollars": "0.5800", "last_price_dollars": "0.4300",
                "volume_24h_fp": "1250.00"}


def test_parse_market_when_only_dollar_fields_sent_then_quotes_read_in_cents() -> None:
    snap = parse_market(DOLLARS_ONLY)
    assert (snap.yes_bid, snap.yes_ask, snap.no_bid, snap.no_ask, snap.volume_24h) == (42, 45, 55, 58, 1250.0)


def test_parse_market_when_both_shapes_sent_then_dollars_preferred() -> None:
    snap = parse_market({**DOLLARS_ONLY, "yes_bid": 41, "yes_ask": 46, "volume_24h": 7})
    assert (snap.yes_bid, snap.yes_ask, snap.volume_24h) == (42, 45, 1250.0)


def test_parse_market_when_dollar_side_empty_then_missing_quote() -> None:
    snap = parse_market({**DOLLARS_ONLY, "yes_bid_dollars": "0.0000", "no_ask_dollars": "1.0000"})
    assert (snap.yes_bid, snap.no_ask) == (None, None)


@pytest.mark.parametrize("field, value", [
    ("yes_bid_dollars", "0.4250"),  # a sub-cent price: refused, not rounded to 42 or 43
    ("yes_ask_dollars", "1.0100"),  # above a dollar
    ("no_bid_dollars", "-0.0100"),
    ("no_ask_dollars", "abc"),
    ("yes_bid_dollars", "NaN"),
    ("yes_bid", 42.5),  # the legacy cents field is held to the same rule
    ("yes_ask", 101),
])
def test_parse_market_when_price_not_a_whole_cent_in_range_then_refused(field: str, value: object) -> None:
    raw = {k: v for k, v in DOLLARS_ONLY.items() if not k.startswith(field.removesuffix("_dollars"))}
    with pytest.raises(MarketFieldInvalid, match=field):
        parse_market({**raw, field: value})


def test_catalogue_market_when_only_dollar_fields_sent_then_priced_at_the_mid() -> None:
    market = catalogue_market(DOLLARS_ONLY)
    assert market is not None
    assert (market.yes_price, market.average_spread, market.peak_volume_24h) == (0.435, 0.03, 1250.0)


def test_catalogue_market_when_a_side_empty_then_last_trade_and_full_spread() -> None:
    market = catalogue_market({**DOLLARS_ONLY, "yes_bid_dollars": "0.0000"})
    assert market is not None and (market.yes_price, market.average_spread) == (0.43, 1.0)


def test_catalogue_market_when_legacy_cent_fields_only_then_read_as_before() -> None:
    market = catalogue_market({"ticker": "KX-A", "status": "active", "yes_bid": 42, "yes_ask": 45,
                               "last_price": 43, "volume_24h": 1250})
    assert market is not None and (market.yes_price, market.average_spread) == (0.435, 0.03)


def test_catalogue_market_when_a_price_is_sub_cent_then_left_out() -> None:
    assert catalogue_market({**DOLLARS_ONLY, "yes_ask_dollars": "0.4455"}) is None


def test_weather_candidates_when_only_last_price_dollars_sent_then_priced() -> None:
    row = {"ticker": "KXHIGHNY-26MAR05-T40", "status": "active", "category": "Climate and Weather",
           "last_price_dollars": "0.4000", "close_time": "2026-03-06T04:59:00Z"}
    (got,) = weather_candidates([row], datetime(2026, 3, 2, 15, tzinfo=UTC))
    assert got.yes_price == 0.40
