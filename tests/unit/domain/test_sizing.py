"""Sizing (trading §4.1 Kelly, §5.4 market impact, §5.7 capital allocation)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paulp.domain.capital import (
    NOT_ENABLED_REASON,
    UnknownStrategy,
    allocation_for,
    can_enable,
    position_size,
    validate_size,
)
from paulp.domain.market_impact import ImpactLookupCache, MarketBook, assess_impact, estimate_depth
from paulp.domain.sizing import (
    InvalidSide,
    Opportunity,
    coefficient_of_variation,
    kelly_batch,
    kelly_size,
    raw_kelly,
    sizing_cv,
)

BOOK = MarketBook(45, 55, 45, 55, 10000)
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_raw_kelly_when_no_side_then_mirror_of_yes() -> None:
    assert raw_kelly(0.3, 0.5, "NO") == pytest.approx(0.4)
    assert raw_kelly(0.6, 0.5, "YES") == pytest.approx(0.2)


@pytest.mark.parametrize(("fair", "price"), [(0.0, 0.5), (1.0, 0.5), (0.5, 0.0), (0.5, 1.0)])
def test_raw_kelly_when_input_outside_open_interval_then_zero(fair: float, price: float) -> None:
    assert raw_kelly(fair, price, "YES") == 0.0


def test_raw_kelly_when_side_unknown_then_raises() -> None:
    with pytest.raises(InvalidSide):
        raw_kelly(0.6, 0.5, "MAYBE")


def test_cv_when_fewer_than_five_returns_or_flat_mean_then_default() -> None:
    assert coefficient_of_variation([1, 2, 3, 4]) == 0.3
    assert coefficient_of_variation([1, -1, 1, -1, 0]) == 0.3


def test_cv_when_the_mean_is_exactly_the_floor_then_computed_from_the_returns() -> None:
    # Arrange: in units of 1e-4 the returns are -3, -1, 3, 3, 3: mean exactly 1, so |mean| < 1e-4 does not hold
    returns = [-0.0003, -0.0001, 0.0003, 0.0003, 0.0003]
    # Act
    cv = coefficient_of_variation(returns)
    # Assert: population variance 32/5, so CV = sqrt(6.4) (ADR 0460); binary's mean 9.99…e-05 gave the default 0.3
    assert cv == pytest.approx(math.sqrt(6.4))


def test_kelly_size_when_history_given_then_cv_from_returns() -> None:
    result = kelly_size(0.55, 0.5, "YES", 1000, 50, returns=[8, 9, 10, 11, 12])

    assert result.confidence_adjustment == pytest.approx(1 / 1.02)
    assert result.adjusted_fraction == pytest.approx(0.1 / 1.02)


def test_sizing_cv_when_no_history_then_the_assumption_else_the_history_even_a_short_one() -> None:
    assert sizing_cv(None, 0.25) == 0.25
    assert sizing_cv([1, 2, 3], 0.25) == 0.3  # fewer than 5 returns: 0.3, not the weather assumption
    assert sizing_cv([8, 9, 10, 11, 12], 0.25) == pytest.approx(math.sqrt(2) / 10)
    assert kelly_size(0.55, 0.5, "YES", 1000, 50, [1, 2, 3], 0.25).confidence_adjustment == pytest.approx(1 / 1.09)


def test_kelly_size_when_no_edge_then_everything_zero_but_raw_kelly_kept() -> None:
    result = kelly_size(0.4, 0.5, "YES", 10000)

    assert (result.has_edge, result.adjusted_fraction, result.position_size) == (False, 0.0, 0.0)
    assert result.kelly_fraction == pytest.approx(-0.2)


@given(
    st.floats(0.01, 0.99), st.floats(0.01, 0.99), st.sampled_from(["YES", "NO"]), st.floats(0, 1e6), st.floats(0, 100)
)
def test_kelly_size_when_any_inputs_then_fraction_within_cap(
    fair: float, price: float, side: str, bankroll: float, cap: float
) -> None:
    result = kelly_size(fair, price, side, bankroll, cap)

    assert 0 <= result.adjusted_fraction <= cap / 100 + 1e-12
    assert result.position_size == pytest.approx(result.adjusted_fraction * bankroll)


def test_kelly_batch_when_total_over_budget_then_scaled_pro_rata() -> None:
    opps = [Opportunity(f"o{i}", 0.7, 0.5, "YES") for i in range(20)]

    result = kelly_batch(opps, 10000, max_single_position_pct=5, max_total_allocation_pct=50)

    assert math.fsum(r.sizing.adjusted_fraction for r in result) == pytest.approx(0.5)
    assert all(r.sizing.position_size == pytest.approx(250) for r in result)


def test_estimate_depth_when_volume_low_then_floor_of_100() -> None:
    assert estimate_depth(MarketBook(45, 55, 45, 55, 10)).yes_depth == 100


def test_market_book_when_quote_missing_then_spread_50() -> None:
    assert MarketBook(None, 55, 45, 55, 10).spread("YES") == 50


@pytest.mark.parametrize("side,spread", [("YES", 2), ("yes", 2), ("NO", 30), ("no", 30)])
def test_market_book_when_side_in_either_case_then_that_sides_spread(side: str, spread: float) -> None:
    assert MarketBook(49, 51, 40, 70, 1000).spread(side) == spread


def test_assess_impact_when_side_lower_case_then_sized_on_that_sides_book() -> None:
    book = MarketBook(49, 51, 40, 70, 1000)

    assert assess_impact(50, 2, "yes", book) == assess_impact(50, 2, "YES", book)
    assert assess_impact(50, 2, "no", book) == assess_impact(50, 2, "NO", book)


def test_market_book_when_side_unknown_then_refused() -> None:
    with pytest.raises(ValueError, match="Unknown side"):
        MarketBook(49, 51, 40, 70, 1000).spread("maybe")


@given(st.integers(1, 100000), st.floats(0, 20), st.sampled_from(["YES", "NO"]), st.floats(0, 1e6))
def test_assess_impact_when_any_order_then_never_increases_size(
    size: int, edge: float, side: str, volume: float
) -> None:
    result = assess_impact(size, edge, side, MarketBook(40, 60, 40, 60, volume))

    assert 1 <= result.adjusted_size <= size


def test_lookup_cache_when_ttl_expired_then_recomputes_from_new_data() -> None:
    cache = ImpactLookupCache()
    first = cache.max_safe("T", BOOK, 1.0, NOW)
    thin = MarketBook(45, 55, 45, 55, 1)

    cached = cache.max_safe("T", thin, 1.0, NOW + timedelta(minutes=4))
    fresh = cache.max_safe("T", thin, 1.0, NOW + timedelta(minutes=5))

    assert cached == first == 25000
    assert fresh < first


def test_capital_position_size_when_current_capital_given_then_overrides_table() -> None:
    assert position_size(allocation_for("bonding"), 0.5, current_capital=1000) == 50


def test_validate_size_when_over_max_position_then_invalid() -> None:
    result = validate_size(allocation_for("bonding"), 26, 500)

    assert not result.valid and result.reason is not None and "max position" in result.reason


def test_validate_size_when_strategy_disabled_then_reason_given() -> None:
    assert validate_size(allocation_for("resolution"), 1).reason == NOT_ENABLED_REASON


def test_can_enable_when_both_counts_reach_14_then_true() -> None:
    row = allocation_for("smart_money")

    assert can_enable(row, 14, 14)
    assert not can_enable(row, 14, 13)
    assert not can_enable(row, None, 20)


def test_allocation_for_when_unknown_strategy_then_raises() -> None:
    with pytest.raises(UnknownStrategy) as err:
        allocation_for("astrology")
    assert err.value.code == "unknown_strategy"
