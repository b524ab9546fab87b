"""NOAA history rules (trading §6.2; ADR 0278): raw tenths of °C read as °F, and the whole-year request plan."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from paulp.domain.strategies.noaa import YearBlock, daily_highs_f, year_blocks
from paulp.domain.strategies.weather import forecast, in_window, outcome_probability, parse_ticker

NOW = datetime(2026, 3, 2, 15, tzinfo=UTC)


def raw(day: str, value: int, datatype: str = "TMAX") -> dict[str, object]:
    return {"date": f"{day}T00:00:00", "datatype": datatype, "station": "GHCND:USW00094728", "value": value}


@pytest.mark.parametrize("tenths,fahrenheit", [(0, 32.0), (100, 50.0), (-178, -0.04), (372, 98.96)])
def test_daily_highs_f_when_raw_tenths_of_celsius_then_fahrenheit(tenths: int, fahrenheit: float) -> None:
    assert daily_highs_f({"results": [raw("2025-03-01", tenths)]}) == [(date(2025, 3, 1), pytest.approx(fahrenheit,
                                                                                                         abs=0.01))]


def test_daily_highs_f_when_other_datatypes_present_then_only_tmax() -> None:
    payload = {"results": [raw("2025-03-01", 100), raw("2025-03-01", -50, "TMIN"), raw("2025-03-01", 3, "PRCP")]}
    assert daily_highs_f(payload) == [(date(2025, 3, 1), 50.0)]


def test_forecast_when_history_is_ten_celsius_then_compares_with_a_fahrenheit_threshold() -> None:
    """The whole chain in one unit: raw 100 (10.0 °C) every day is 50 °F, so 'above 49' is certain and
    'above 51' impossible; read as °C (10) both would be impossible."""
    spec = parse_ticker("KXHIGHNY-26MAR05-T49")
    assert spec is not None
    payload = {"results": [raw(f"{y}-03-0{d}", 100) for y in range(1996, 2026) for d in range(1, 10)]}
    fc = forecast(sorted(daily_highs_f(payload), reverse=True), spec.settlement_date, NOW.year)
    assert fc.mean == pytest.approx(50.03) and fc.std_dev == 0  # + climate adjustment of 0.03 for 1 year
    assert outcome_probability("above", fc.mean, fc.std_dev, spec.threshold) == 1.0
    assert outcome_probability("above", fc.mean, fc.std_dev, 51) == 0.0


def test_year_blocks_when_two_markets_share_a_station_then_one_block_per_complete_year() -> None:
    blocks = year_blocks(["GHCND:A", "GHCND:A", "GHCND:B"], date(2026, 3, 2), 30)
    assert len(blocks) == 60 and len(set(blocks)) == 60
    assert blocks[0] == YearBlock("GHCND:A", 2025) and blocks[29] == YearBlock("GHCND:A", 1996)
    assert all((b.end - b.start).days < 366 for b in blocks)  # CDO: at most a year per request


@pytest.mark.parametrize("target", [date(2026, 1, 2), date(2026, 3, 1), date(2026, 7, 15), date(2026, 12, 30)])
def test_year_blocks_when_target_anywhere_then_every_window_day_of_the_lookback_is_covered(target: date) -> None:
    covered = {b.year for b in year_blocks(["S"], target, 30)}
    first = date(target.year - 30, 1, 1)
    window = [first.fromordinal(o) for o in range(first.toordinal(), date(target.year - 1, 12, 31).toordinal() + 1)
              if in_window(target, first.fromordinal(o))]
    assert window and {d.year for d in window} <= covered


def test_reusable_since_when_year_settled_then_bodies_fetched_after_settling_count() -> None:
    block = YearBlock("S", 2025)
    assert block.is_final(date(2026, 3, 1)) and not block.is_final(date(2026, 2, 28))
    assert block.reusable_since(NOW) == datetime(2026, 3, 1, tzinfo=UTC)
    january = datetime(2026, 1, 20, tzinfo=UTC)
    assert block.reusable_since(january) == datetime(2026, 1, 19, tzinfo=UTC)
