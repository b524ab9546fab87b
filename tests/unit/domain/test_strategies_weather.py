"""Weather (trading §6.2): tickers, NOAA parsing, the climatology window, normal CDF, edges."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from paulp.domain.strategies.noaa import MalformedNoaaPayload, metric_values, station_for
from paulp.domain.strategies.weather import (
    Forecast,
    ForecastConfig,
    UnknownOperator,
    WeatherEdge,
    forecast,
    in_window,
    normal_cdf,
    outcome_probability,
    parse_ticker,
    rank_edges,
    rank_signals,
    weather_edge,
    weather_signal,
)

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_parse_ticker_when_kx_prefixed_high_ticker_then_year_month_day() -> None:
    got = parse_ticker("KXHIGHNY-26MAR01-T50")

    assert got is not None
    assert (got.location, got.threshold, got.settlement_date) == ("NY", 50, date(2026, 3, 1))


@pytest.mark.parametrize("ticker", ["TEMP-NYC-26FEB30-T50", "TEMP-NYC-26XYZ01-T50", "TEMP-NYC-26MAR01"])
def test_parse_ticker_when_date_or_shape_invalid_then_none(ticker: str) -> None:
    assert parse_ticker(ticker) is None


@pytest.mark.parametrize("ticker", ["TEMP-NYC-26MAR25-T\u0665\u0660", "TEMP-NYC-\uff12\uff16MAR25-T50",
                                    "KXHIGHNY-26MAR\u0662\u0665-T50", "TEMP-\u017fEA-26MAR25-T50"])
def test_parse_ticker_when_digits_or_letters_are_not_ascii_then_none(ticker: str) -> None:
    # §6.2's "<2 digits>" and "T<int>" are ASCII digits (venue tickers are ASCII; the source's JavaScript \d is
    # ASCII-only); Python's str \d also takes Arabic-Indic and full-width digits, and upper() folds the long s
    # onto "S" (ADR 0482)
    assert parse_ticker(ticker) is None


@pytest.mark.parametrize("digits", [310, 5000])
def test_parse_ticker_when_threshold_has_no_float_value_then_skipped_not_raised(digits: int) -> None:
    # 310 digits overflow float(), 5000 digits exceed int()'s conversion limit; both raised out of the scan
    assert parse_ticker("TEMP-NYC-26MAR25-T" + "1" * digits) is None


def test_station_for_when_location_unknown_then_new_york() -> None:
    assert station_for("zzz") == station_for("NYC")


def test_metric_values_when_payload_has_no_results_then_empty() -> None:
    assert metric_values({}, "temperature") == []


def test_metric_values_when_row_lacks_value_then_malformed() -> None:
    with pytest.raises(MalformedNoaaPayload):
        metric_values({"results": [{"date": "2024-01-01", "datatype": "TMAX"}]}, "temperature")


def test_in_window_when_dates_straddle_new_year_then_included() -> None:
    assert in_window(date(2026, 1, 2), date(2020, 12, 30))
    assert not in_window(date(2026, 3, 15), date(2020, 3, 23))


def test_normal_cdf_when_zero_then_follows_the_approximation_not_exactly_half() -> None:
    assert normal_cdf(0) == pytest.approx(0.5000000005, abs=1e-12)


def test_outcome_probability_when_degenerate_then_strict_indicator() -> None:
    assert outcome_probability("above", 70, 0, 70) == 0
    assert outcome_probability("between", 70, 0, [70, 75]) == 0


def test_outcome_probability_when_operator_unknown_then_error() -> None:
    with pytest.raises(UnknownOperator):
        outcome_probability("equals", 70, 5, 70)


def test_forecast_when_precipitation_then_gamma_label_but_normal_maths() -> None:
    points = [(date(2000 + i, 3, 15), 1.0 + i % 3) for i in range(25)]

    got = forecast(points, date(2026, 3, 15), 2026, "precipitation", ForecastConfig(climate_adjustment=0))

    assert got.distribution == "gamma"
    assert got.sample_size == 25
    assert got.upper_95 - got.mean == pytest.approx(1.96 * got.std_dev)


def test_forecast_when_climate_adjustment_then_uses_first_point_year() -> None:
    points = [(date(2025 - i, 3, 15), 50.0) for i in range(25)]  # newest first

    got = forecast(points, date(2026, 3, 15), 2026)

    assert got.mean == pytest.approx(50.03)


def test_forecast_when_no_point_and_minimum_zero_then_degenerate_not_a_division_by_zero() -> None:
    far = [(date(2020, 9, 1), 70.0)]  # outside the ±7-day window of 15 March

    for points in ([], far):
        got = forecast(points, date(2026, 3, 15), 2026, config=ForecastConfig(min_sample_size=0))

        assert (got.mean, got.std_dev, got.sample_size, got.lower_95, got.upper_95) == (0.0, 0.0, 0, 0.0, 0.0)


def test_forecast_when_every_value_is_the_same_then_sigma_is_exactly_zero_and_the_indicator_applies() -> None:
    """§6.2: weighted mean and population variance of identical figures are 70.1 and 0 exactly; binary left
    sigma ~4e-14, so P(above 70.1) was Phi(+-1) (0.84 or 0.16) instead of the sigma <= 0 indicator's strict 0."""
    for factor in (1.0, 1.5, 3.0):
        points = [(date(y, 3, 15), 70.1) for y in range(2001, 2026)]

        got = forecast(points, date(2026, 3, 15), 2026, config=ForecastConfig(climate_adjustment=0,
                                                                              recent_weight_factor=factor))

        assert (got.mean, got.std_dev, got.lower_95, got.upper_95) == (70.1, 0.0, 70.1, 70.1)
        assert outcome_probability("above", got.mean, got.std_dev, 70.1) == 0.0
        assert outcome_probability("below", got.mean, got.std_dev, 70.1) == 0.0


def test_forecast_when_one_point_and_a_trend_then_sigma_zero_and_the_mean_is_exact() -> None:
    got = forecast([(date(2024, 4, 3), 93.4)], date(2026, 4, 3), 2026,
                   config=ForecastConfig(min_sample_size=1, climate_adjustment=-0.05))

    assert (got.mean, got.std_dev, got.sample_size) == (93.3, 0.0, 1)


def test_weather_signal_when_model_below_market_then_no_side_signal_is_emitted() -> None:
    fc = Forecast(70, 5, 30, 0, 0, "normal")
    edge = weather_edge(fc, "above", 80, 0.30)

    assert edge is not None and edge.side == "NO"
    sig = weather_signal("M", fc, edge, 300, NOW)
    assert sig is not None and sig.target_size == pytest.approx(15)


def test_rank_edges_when_decimal_edges_tie_then_given_order_kept() -> None:
    certain = Forecast(70, 0, 30, 70, 70, "normal")
    yes = weather_edge(certain, "above", 60, 0.93)  # 1 - 0.93: binary 0.06999999999999995
    no = weather_edge(certain, "above", 75, 0.07)  # 0.07 - 0: binary 0.07
    wide = weather_edge(certain, "above", 75, 0.2)
    assert yes is not None and no is not None and wide is not None

    assert rank_edges([yes, no, wide]) == [wide, yes, no]
    assert rank_edges([no, yes]) == [no, yes]
    sized = [WeatherEdge("YES", 0.99, 0.92, 0.99 - 0.92, 1.0),  # binary 0.06999999999999995
             WeatherEdge("NO", 0.01, 0.08, 0.08 - 0.01, 1.0),  # binary 0.07
             WeatherEdge("YES", 0.7, 0.5, 0.2, 1.0)]
    signals = [weather_signal(m, certain, e, 300, NOW) for m, e in zip("YNW", sized, strict=True)]
    ranked = rank_signals([s for s in signals if s is not None])
    assert [s.market_id for s in ranked] == ["W", "Y", "N"]
