"""Pre-trade check with the order book's depth and the trades' VPIN supplied, and market-impact sizing (ADR 0373)."""

from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paulp.domain.book_depth import BookLevels
from paulp.domain.execution_orders import MarketSnapshot
from paulp.domain.execution_policy import ExecutionMode, policy_for_mode
from paulp.domain.execution_quality import FlowTrade, taker_flow, vpin_or_none
from paulp.domain.order_values import PreTradeCheck
from paulp.domain.ports import MarketFacts
from paulp.domain.pretrade import UNKNOWN_VPIN, PreTradeThresholds, pre_trade_check, size_for_impact

SNAP = MarketSnapshot(ticker="KX-D", yes_bid=41, yes_ask=42, no_bid=58, no_ask=59, volume_24h=50_000)


def _facts(asks_at_42: int | Decimal | None, vpin: float | None = 0.1) -> MarketFacts:
    """YES asks resting at 42 cents (NO bids at 58); None: the book was not read."""
    book = None if asks_at_42 is None else BookLevels.of([(41, 5_000)], [(58, asks_at_42)] if asks_at_42 else [])
    return MarketFacts(snapshot=SNAP, category="economics", book=book, vpin_score=vpin)


def test_pre_trade_when_book_thin_then_fails_on_depth() -> None:
    check = pre_trade_check(_facts(200), "YES", 0.42)  # 200 x $0.42 = $84

    assert not check.passed
    assert check.block_reason == "Depth $84.00 below $100"
    assert check.depth == 84.0


def test_pre_trade_when_book_deep_then_passes_with_depth_recorded() -> None:
    check = pre_trade_check(_facts(300), "YES", 0.42)  # $126

    assert check.passed and check.depth == 126.0 and check.block_reason is None


def test_pre_trade_when_order_side_has_no_asks_then_depth_zero_fails() -> None:
    check = pre_trade_check(_facts(0), "YES", 0.42)

    assert not check.passed and check.depth == 0.0


def test_pre_trade_when_book_not_read_then_fails_closed() -> None:
    check = pre_trade_check(_facts(None), "YES", 0.42)

    assert not check.passed and check.block_reason == "Order book unavailable"


@pytest.mark.parametrize(("vpin", "passed"), [(0.59, True), (0.6, False), (0.95, False)])
def test_pre_trade_when_vpin_at_or_above_toxic_then_fails(vpin: float, passed: bool) -> None:
    check = pre_trade_check(_facts(5_000, vpin), "YES", 0.42)

    assert check.passed is passed and check.vpin_score == vpin
    assert passed or check.block_reason == f"VPIN {vpin:.2f} is toxic (at or above 0.60)"


def test_pre_trade_when_vpin_unknown_then_normal_flow_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="paulp.orders.pretrade"):
        check = pre_trade_check(_facts(5_000, None), "YES", 0.42)

    assert UNKNOWN_VPIN == 0.0
    assert check.passed and check.vpin_score is None  # recorded as unknown, not as a measured 0
    assert "VPIN unknown" in caplog.text


def _sized(size: int, edge: float, asks: int = 300) -> PreTradeCheck:
    facts = _facts(asks)
    return size_for_impact(pre_trade_check(facts, "YES", 0.42), facts, "YES", size, 42, edge, 10.0)


def test_impact_when_order_larger_than_book_absorbs_then_shrunk() -> None:
    check = _sized(1_000, 0.05)  # 300 contracts within reach, 5 cents of edge

    assert check.passed and check.adjusted_size == 405  # floor(0.9 x min(2 x 300, floor(5 x 0.3 x 300 / 1)))
    assert check.market_impact is not None and check.market_impact["depthMeasured"] is True
    assert check.market_impact["depthContracts"] == 300


def test_impact_when_order_small_then_unchanged() -> None:
    check = _sized(20, 0.18)

    assert check.passed and check.adjusted_size is None
    assert check.market_impact is not None and check.market_impact["adjustedSize"] == 20


def test_impact_when_shrunk_below_minimum_order_then_refused_with_reason() -> None:
    check = _sized(1_000, 0.001)  # 0.1 cent of edge affords 8 contracts: $3.36

    assert not check.passed and check.adjusted_size is None
    assert check.block_reason == ("Market impact: the book absorbs 8 of 1000 contracts ($3.36), below the $10 minimum"
                                  " order")


def test_impact_when_check_already_failed_then_left_as_it_is() -> None:
    facts = _facts(200)
    failed = pre_trade_check(facts, "YES", 0.42)

    assert size_for_impact(failed, facts, "YES", 1_000, 42, 0.05, 10.0) == failed


@given(st.integers(1, 100_000), st.floats(-0.5, 0.5), st.integers(250, 100_000))
def test_impact_never_grows_the_order(size: int, edge: float, asks: int) -> None:
    check = _sized(size, edge, asks)

    assert check.adjusted_size is None or 1 <= check.adjusted_size < size
    assert check.passed or (check.block_reason or "").startswith("Market impact")


def test_vpin_when_trades_fill_no_bucket_then_unknown() -> None:
    assert vpin_or_none([FlowTrade(999.0, 0.5, 0.5, "buy")]) is None


def test_vpin_when_every_taker_buys_yes_then_one() -> None:
    trades = [taker_flow(50, 1_000, "yes", 50) for _ in range(4)]  # $500 each

    assert vpin_or_none(trades) == 1.0


def test_vpin_when_takers_balance_then_zero() -> None:
    trades = [taker_flow(50, 1_000, side, 50) for side in ("yes", "no") * 4]

    assert vpin_or_none(trades) == 0.0


# ------------------------------------------------ thresholds from the strategy's policy (ADR 0433)


def test_thresholds_when_taken_from_a_policy_then_the_check_uses_them() -> None:
    policy = replace(policy_for_mode(ExecutionMode.PAPER), min_depth_to_trade=80.0, max_vpin_to_trade=0.5)
    t = PreTradeThresholds.of(policy)
    assert pre_trade_check(_facts(200), "YES", 0.42, t).passed  # $84 >= $80
    toxic = pre_trade_check(_facts(5_000, 0.55), "YES", 0.42, t)
    assert not toxic.passed and toxic.block_reason == "VPIN 0.55 is toxic (at or above 0.50)"


@pytest.mark.parametrize(("vpin", "multiplier"), [(None, 1.0), (0.1, 1.0), (0.3, 1.5), (0.59, 1.5)])
def test_edge_multiplier_follows_the_vpin_bands(vpin: float | None, multiplier: float) -> None:
    assert PreTradeThresholds().edge_multiplier(vpin) == multiplier
    assert PreTradeThresholds().edge_multiplier(0.6) == float("inf")


@given(st.integers(1, 5_000), st.floats(0.001, 0.3), st.floats(1.0, 4.0))
def test_elevated_flow_never_sizes_larger_than_normal_flow(size: int, edge: float, multiplier: float) -> None:
    facts = _facts(300, 0.4)
    check = pre_trade_check(facts, "YES", 0.42)
    normal = size_for_impact(check, facts, "YES", size, 42, edge, 0.0)
    elevated = size_for_impact(check, facts, "YES", size, 42, edge, 0.0, multiplier)
    assert (elevated.adjusted_size or size) <= (normal.adjusted_size or size)
    assert elevated.market_impact is not None and elevated.market_impact["edgeMultiplier"] == multiplier
    assert elevated.market_impact["effectiveEdgeCents"] == pytest.approx(edge * 100 / multiplier)


def test_elevated_flow_halves_what_the_edge_buys_at_a_multiplier_of_2() -> None:
    facts = _facts(300, 0.4)
    check = pre_trade_check(facts, "YES", 0.42)
    normal = size_for_impact(check, facts, "YES", 1_000, 42, 0.05, 10.0)
    elevated = size_for_impact(check, facts, "YES", 1_000, 42, 0.05, 10.0, 2.0)
    assert normal.adjusted_size == 405 and elevated.adjusted_size == 202  # floor(0.9 x floor(2.5 x 0.3 x 300))


def test_impact_when_elevated_flow_leaves_a_repeating_edge_then_the_safe_size_is_exact() -> None:
    # Arrange: 2 cents of edge under elevated flow (x1.5) buys 4/3 cent; 4/3 x 0.3 x 300 contracts / 1 cent is
    # exactly 120 (ADR 0460)
    facts = _facts(300, 0.4)
    check = pre_trade_check(facts, "YES", 0.42)
    # Act
    sized = size_for_impact(check, facts, "YES", 1_000, 42, 0.02, 10.0, 1.5)
    # Assert: floor(0.9 x 120) = 108; the binary 1.3333333333333333 floored the safe size to 119, so 107
    assert sized.passed and sized.adjusted_size == 108
    assert sized.market_impact is not None and sized.market_impact["effectiveEdgeCents"] == 2 / 1.5


def test_pre_trade_when_the_ask_moved_exactly_the_maximum_then_passes() -> None:
    # Arrange: a YES ask of 9 cents against a signal at 0.14 is a move of exactly 0.05, the default maximum
    snap = MarketSnapshot(ticker="KX-M", yes_bid=8, yes_ask=9, no_bid=91, no_ask=92, volume_24h=50_000)
    facts = MarketFacts(snapshot=snap, category="economics", book=BookLevels.of([(8, 50_000)], [(91, 50_000)]),
                        vpin_score=0.1)
    # Act
    at_edge, beyond = pre_trade_check(facts, "YES", 0.14), pre_trade_check(facts, "YES", 0.1401)
    # Assert: "price move <= 0.05" passes (ADR 0460); binary's 0.05000000000000002 refused it
    assert at_edge.passed, at_edge.block_reason
    assert not beyond.passed and beyond.block_reason is not None and "Price moved" in beyond.block_reason
