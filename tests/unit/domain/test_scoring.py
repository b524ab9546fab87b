"""CLV, closing lines, skill rubrics and price semantics: the rules the vectors do not pin down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from paulp.domain.clv import (
    ExactSharpe,
    MarketClass,
    Observation,
    clv_statistics,
    compute_clv,
    estimate_closing_line,
    exact_sharpe,
    infer_market_class,
    resample,
)
from paulp.domain.prices import RawPrice, fixed, normalize_price, prob_to_cents
from paulp.domain.skill import (
    AccountMetrics,
    BlowupFlag,
    BlowupPosition,
    RankListsMismatch,
    ScoredPosition,
    account_skill_score,
    detect_blowup_signatures,
    rank_stability,
)
from paulp.domain.skill_aggregated import positive_category_hhi, without_clv_total

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _position(pnl: float, clv: float = 0.05, size: float = 1000, category: str | None = "politics") -> ScoredPosition:
    return ScoredPosition("m", category, 0.5, 0.55, clv, True, pnl, size, 5, 0.2, NOW - timedelta(days=1), NOW)


def test_compute_clv_when_no_buyer_passes_no_prices_then_favourable_entry_is_positive() -> None:
    result = compute_clv(0.40, 0.50, "NO", MarketClass.POLITICAL)
    assert result.clv == pytest.approx(0.10) and result.is_valid


def test_clv_statistics_when_invalid_results_then_excluded_but_counted() -> None:
    stats = clv_statistics([(0.05, True), (0.90, False)])
    assert (stats.mean_clv, stats.valid_clv_count, stats.invalid_clv_count) == (0.05, 1, 1)


def test_infer_market_class_when_category_sport_and_tag_weather_then_first_rule_wins() -> None:
    assert infer_market_class("Sports", ["temperature"]) is MarketClass.SPORTS
    assert infer_market_class(None, None) is MarketClass.POLITICAL


def test_estimate_closing_line_when_observation_thin_or_wide_then_filtered_out() -> None:
    resolution = NOW
    good = Observation(NOW - timedelta(seconds=30), 0.60, 600, 700, 0.02)
    thin = Observation(NOW - timedelta(seconds=20), 0.90, 600, 40, 0.02)
    wide = Observation(NOW - timedelta(seconds=10), 0.10, 600, 700, 0.20)
    result = estimate_closing_line([good, thin, wide], MarketClass.WEATHER, resolution)
    assert (result.closing_line_price, result.valid_observation_count) == (0.60, 1)
    assert result.sample_score == 0.2


def test_estimate_closing_line_when_sports_then_latest_observation_only() -> None:
    early = Observation(NOW - timedelta(hours=2), 0.3, 1000, 1000, 0.01)
    late = Observation(NOW - timedelta(hours=1), 0.7, 1000, 1000, 0.01)
    result = estimate_closing_line([late, early], MarketClass.SPORTS, NOW)
    assert result.closing_line_price == 0.7
    assert result.quality_score == pytest.approx(0.4 + 0.3 + 0.12 + 0.1)


def test_resample_when_gap_then_latest_observation_carried_forward() -> None:
    first = Observation(NOW, 0.5, 100, 100, 0.01)
    second = Observation(NOW + timedelta(seconds=40), 0.6, 100, 100, 0.01)
    ticks = resample([second, first], NOW, NOW + timedelta(seconds=45))
    assert [o.mid_price for o in ticks] == [0.5, 0.5, 0.5, 0.6]


def test_account_skill_when_identical_pnls_then_sharpe_zero_not_absurd() -> None:
    metrics = AccountMetrics(tuple(_position(0.1) for _ in range(10)), 50, 10000, NOW - timedelta(days=200), NOW)
    score = account_skill_score(metrics)
    assert score.factors["risk_adjusted_returns"].details["sharpe"] == 0.0


def test_account_skill_when_without_clv_then_returns_scaled_to_35() -> None:
    positions = tuple(_position(100 if i % 2 else 300) for i in range(20))
    metrics = AccountMetrics(positions, 100, 10000, NOW - timedelta(days=200), NOW)
    with_clv, without = account_skill_score(metrics), account_skill_score(metrics, include_clv=False)
    assert without.factors["risk_adjusted_returns"].score == 35
    assert without.total_score == with_clv.total_score - 25 + 15


def test_detect_blowup_when_three_quick_entries_after_loss_then_revenge_trading() -> None:
    loss_exit = NOW
    positions = [BlowupPosition(-10, 100, "a", NOW - timedelta(hours=1), loss_exit)] + [
        BlowupPosition(5, 100, c, loss_exit + timedelta(minutes=m), loss_exit + timedelta(hours=2))
        for c, m in (("b", 10), ("c", 20), ("d", 59))
    ]
    assert detect_blowup_signatures(positions) == (BlowupFlag.REVENGE_TRADING,)


def test_detect_blowup_when_fewer_than_three_positions_then_no_flags() -> None:
    positions = [BlowupPosition(-1000, 1, "a", NOW, NOW), BlowupPosition(-1000, 10, "a", NOW, NOW)]
    assert detect_blowup_signatures(positions) == ()


def test_rank_stability_when_lists_differ_in_length_then_raises() -> None:
    with pytest.raises(RankListsMismatch):
        rank_stability([("a", 1)], [])


def test_aggregated_when_no_profitable_category_then_fully_concentrated() -> None:
    assert positive_category_hhi({"politics": -5, "sports": 0}) == 1.0


def test_without_clv_total_when_half_point_then_rounds_up() -> None:
    assert without_clv_total(31, 1) == 40  # 30 x 4/3 = 40 exactly
    assert without_clv_total(10, 0) == 13  # 13.33 -> 13


def test_prob_to_cents_when_binary_float_just_above_half_then_rounds_up() -> None:
    assert [prob_to_cents(p) for p in (0.555, 0.5534, 0.5567, 0.005)] == [56, 55, 56, 1]


def test_fixed_when_exact_tie_then_away_from_zero_like_javascript() -> None:
    assert fixed(0.125, 2) == "0.13"
    assert fixed(-0.5, 0) == "-1"


def test_normalize_when_unknown_mechanics_then_invalid_half_price() -> None:
    result = normalize_price(RawPrice("parimutuel"))
    assert (result.p_yes, result.is_valid, result.warnings) == (0.5, False, ("Unknown mechanics type: parimutuel",))


@pytest.mark.parametrize("outcomes", [(0.0, 0.0), (0.0, 0.0, 0.0)])
def test_normalize_when_every_outcome_is_priced_zero_then_invalid_half_price_not_a_division_by_zero(
    outcomes: tuple[float, ...],
) -> None:
    result = normalize_price(RawPrice("multi_outcome", outcome_prices=outcomes))

    assert (result.p_yes, result.p_no, result.p_mid, result.is_valid) == (0.5, 0.5, 0.5, False)
    assert result.warnings == ("Multi-outcome sum 0.0000 cannot be normalised",)


def test_normalize_when_token_sum_low_then_arbitrage_warning_and_invalid() -> None:
    result = normalize_price(RawPrice("binary_token", yes_price=0.45, no_price=0.50))
    assert result.warnings == ("Token sum 0.9500 < 0.98: potential arbitrage",)
    assert not result.is_valid


def _window(spread: float, mids: tuple[float, float] = (0.5, 0.5)) -> list[Observation]:
    return [Observation(NOW - timedelta(seconds=600 - 50 * i), mids[i % 2], 600, 700, spread) for i in range(10)]


def test_closing_line_when_average_spread_exactly_at_a_band_edge_then_band_of_the_decimal_value() -> None:
    # ten spreads of 0.08 average to 0.07999999999999999 in binary; §4.3 "< 0.08 → 0.7" must not apply (ADR 0342)
    assert estimate_closing_line(_window(0.08), MarketClass.POLITICAL, NOW).spread_score == 0.3
    assert estimate_closing_line(_window(0.15), MarketClass.POLITICAL, NOW).spread_score == 0.0
    assert estimate_closing_line(_window(0.03), MarketClass.POLITICAL, NOW).spread_score == 0.7


def test_closing_line_when_mid_std_exactly_at_a_band_edge_then_band_of_the_decimal_value() -> None:
    assert estimate_closing_line(_window(0.02, (0.52, 0.48)), MarketClass.POLITICAL, NOW).stability_score == 0.5
    assert estimate_closing_line(_window(0.02, (0.55, 0.45)), MarketClass.POLITICAL, NOW).stability_score == 0.2


@pytest.mark.parametrize(("clv", "count", "points"), [(0.02, 10, 20), (0.03, 20, 20), (0.01, 10, 15), (0.02, 12, 20)])
def test_account_skill_when_mean_clv_exactly_at_a_band_edge_then_band_of_the_decimal_value(
    clv: float, count: int, points: int
) -> None:
    # 10 x 0.02 averages to 1.9999999999999998 cents in binary, 20 x 0.03 to 3.0000000000000018 (ADR 0342)
    positions = tuple(_position(100, clv=clv) for _ in range(count))
    score = account_skill_score(AccountMetrics(positions, 5 * count, 10_000, NOW - timedelta(days=200), NOW))
    assert score.factors["clv_consistency"].score == points
    assert score.factors["clv_consistency"].details["mean_clv"] == pytest.approx(clv)


def test_exact_sharpe_when_negative_then_compared_by_sign_and_square() -> None:
    sharpe = ExactSharpe(-1, Fraction(1, 4))  # -0.5
    assert sharpe > -1 and sharpe >= -0.5 and not sharpe > -0.5 and not sharpe >= 0
    assert float(sharpe) == -0.5


def test_exact_sharpe_when_decimal_would_round_under_the_edge_then_exactly_on_it() -> None:
    sharpe = exact_sharpe([20, -10] * 14, Fraction(252, 28))  # mean 5, std 15, sqrt(9): exactly 1
    assert sharpe >= 1.0 and not sharpe > 1.0
    assert exact_sharpe([0.1] * 7, 1) >= 0 and not exact_sharpe([0.1] * 7, 1) > 0  # std exactly 0


def test_infer_market_class_when_tags_given_as_one_string_then_it_is_one_tag() -> None:
    assert infer_market_class(None, "NFL game") is MarketClass.SPORTS
    assert infer_market_class(None, "gst") is MarketClass.POLITICAL  # not the letters g, s, t
