"""trading.json::weather against paulp.domain.strategies.weather / noaa (trading §6.2).

Two sections describe their inputs in prose (``signal_sizing.case``, ``weighted_stats.values``); they
are parsed with strict patterns, and text that does not match fails the case instead of passing it.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from typing import Any

from paulp.domain.strategies.noaa import metric_values, station_for
from paulp.domain.strategies.weather import (
    Forecast,
    ForecastConfig,
    WeatherEdge,
    forecast,
    in_window,
    month_day_distance,
    normal_cdf,
    outcome_probability,
    parse_ticker,
    size_weather_edge,
    weather_edge,
    weather_signal,
)
from tests.conformance.checkers.trading_reconciliation import close, sectioned
from tests.conformance.registry import Context, checker, vectors_dir

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
_MONTHS = {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())}
_SIZING = re.compile(
    r"^(?P<side>YES|NO): model (?P<model>[\d.]+), price (?P<price>[\d.]+), "
    r"capital (?P<capital>[\d.]+), CV (?P<cv>[\d.]+)$"
)
_LISTED = re.compile(r"^values \[(?P<values>[^\]]*)\] dated (?P<dates>.+)$")
_RUN = re.compile(
    r"^(?P<n>\d+) values of (?P<v>-?[\d.]+) dated (?P<y1>\d{4})\.\.(?P<y2>\d{4}) "
    r"\((?P<mon>[A-Za-z]{3}) (?P<day>\d{1,2})\)$"
)


def _normal_cdf(case: Any, _: Context) -> None:
    close(normal_cdf(float(case["z"])), case["expected"], f"Phi({case['z']})")


def _probabilities(case: Any, _: Context) -> None:
    got = outcome_probability(case["operator"], float(case["mean"]), float(case["stdDev"]), case["threshold"])
    close(got, case["expected"], f"P({case['operator']} {case['threshold']})")


def _fc(raw: dict[str, Any]) -> Forecast:
    mean, std = float(raw["mean"]), float(raw["stdDev"])
    return Forecast(mean, std, int(raw["sampleSize"]), mean - 1.96 * std, mean + 1.96 * std, "normal")


def _signals(case: Any, _: Context) -> None:
    market = case["market"]
    got = weather_edge(
        _fc(case["forecast"]), market["operator"], market["threshold"], float(market["marketPrice"]),
        float(case.get("minEdge", 0.05)),
    )
    exp = case["expected"]
    if exp is None:
        assert got is None, f"expected no signal, got {got}"
        return
    assert got is not None, f"expected {exp}, got no signal"
    assert got.side == exp["side"], f"side {got.side}, expected {exp['side']}"
    close(got.model_probability, exp["modelProbability"], "modelProbability")
    close(got.edge, exp["edge"], "edge")
    close(got.confidence, exp["confidence"], "confidence")


def _signal_sizing(case: Any, _: Context) -> None:
    m = _SIZING.match(str(case.get("case", "")))
    assert m, f"sizing case text not understood: {case.get('case')!r}"
    model, price = float(m["model"]), float(m["price"])
    edge = WeatherEdge(m["side"], model, price, abs(model - price), 1.0)
    got = size_weather_edge(edge, float(m["capital"]), assumed_cv=float(m["cv"]))
    exp = case["expected"]
    fields = {
        "hasEdge": got.has_edge,
        "kellyFraction": got.kelly_fraction,
        "adjustedFraction": got.adjusted_fraction,
        "positionSize": got.position_size,
        "confidenceAdjustment": got.confidence_adjustment,
    }
    for key, want in exp.items():
        if key == "signal_emitted":
            fc = Forecast(0.0, 0.0, 30, 0.0, 0.0, "normal")
            sig = weather_signal("M", fc, edge, float(m["capital"]), NOW)
            assert (sig is not None) == want, f"signal emitted {sig is not None}, expected {want}"
        elif key == "hasEdge":
            assert got.has_edge == want, f"hasEdge {got.has_edge}, expected {want}"
        else:
            assert key in fields, f"no interpreter for sizing field {key!r}"
            close(float(fields[key]), want, key)


def _ticker(case: Any, _: Context) -> None:
    got = parse_ticker(case["ticker"])
    exp = case["expected"]
    if exp is None:
        assert got is None, f"{case['ticker']} must not parse, got {got}"
        return
    assert got is not None, f"{case['ticker']} did not parse"
    actual = {
        "metric": got.metric,
        "location": got.location,
        "threshold": got.threshold,
        "operator": got.operator,
        "settlementDate": got.settlement_date.isoformat(),
    }
    for key, want in exp.items():
        assert key in actual, f"no interpreter for ticker field {key!r}"
        assert actual[key] == want, f"{key}: {actual[key]!r}, expected {want!r}"


def _stations(case: Any, _: Context) -> None:
    got = station_for(case["location"])
    assert got == case["expected"], f"station for {case['location']!r}: {got}, expected {case['expected']}"


def _noaa(case: Any, _: Context) -> None:
    wanted = {k.removeprefix("expected_"): v for k, v in case.items() if k.startswith("expected_")}
    assert wanted, f"noaa_parse without expected_<metric> keys: {list(case)}"
    for metric, values in wanted.items():
        got = [v for _, v in metric_values(case["response"], metric)]
        assert len(got) == len(values), f"{metric}: {got}, expected {values}"
        for g, w in zip(got, values, strict=True):
            close(g, w, metric)


def _points(text: str) -> list[tuple[date, float]]:
    listed = _LISTED.match(text)
    if listed:
        values = [float(v) for v in listed["values"].split(",")]
        dates = [date.fromisoformat(d.strip()) for d in listed["dates"].split(",")]
        assert len(values) == len(dates), f"values/dates mismatch in {text!r}"
        return list(zip(dates, values, strict=True))
    points: list[tuple[date, float]] = []
    for part in text.split(" then "):
        run = _RUN.match(part.strip())
        assert run, f"weighted_stats values not understood: {part!r}"
        years = range(int(run["y1"]), int(run["y2"]) + 1)
        assert len(years) == int(run["n"]), f"{part!r}: {len(years)} years for {run['n']} values"
        when = (_MONTHS[run["mon"].lower()], int(run["day"]))
        points += [(date(y, *when), float(run["v"])) for y in years]
    return points


def _meta_current_year(ctx: Context) -> int:
    """The harness strips ``meta`` from the groups, so read the convention from the file itself."""
    doc = json.loads((vectors_dir() / ctx.file).read_text())
    return int(doc["meta"]["conventions"]["current_year"])


def _weighted_stats(case: Any, ctx: Context) -> None:
    points = _points(str(case["values"]))
    if "first_year" in case:
        assert points[0][0].year == case["first_year"], f"parsed first year {points[0][0].year}"
    year_in_name = re.search(r"current year (\d{4})", str(case.get("name", "")))
    current_year = int(year_in_name[1]) if year_in_name else _meta_current_year(ctx)
    # Without an explicit target the points' own calendar day is the target (all vectors date them alike).
    target = date.fromisoformat(case["target"]) if "target" in case else points[0][0]
    cfg = case.get("config", {})
    config = ForecastConfig(
        lookback_years=int(cfg.get("lookbackYears", 30)),
        min_sample_size=int(cfg.get("minSampleSize", 20)),
        climate_adjustment=float(cfg.get("climateAdjustment", 0.03)),
        recent_weight_factor=float(cfg.get("recentWeightFactor", 1.5)),
    )
    got = forecast(points, target, current_year, config=config)
    exp = case["expected"]
    close(got.mean, exp["mean"], "mean")
    close(got.std_dev, exp["stdDev"], "stdDev")
    assert got.sample_size == exp["sampleSize"], f"sampleSize {got.sample_size}, expected {exp['sampleSize']}"


def _md(text: str) -> date:
    month, day = (int(x) for x in text.split("-"))
    return date(2024, month, day)  # a leap year, so 02-29 is a valid point


def _forecast_window(case: Any, _: Context) -> None:
    target, point = _md(case["target"]), _md(case["point"])
    if "month_day_distance" in case:
        got = month_day_distance(target, point)
        assert got == case["month_day_distance"], f"distance {got}, expected {case['month_day_distance']}"
    assert in_window(target, point) == case["included"], f"included {in_window(target, point)}"


SPLIT, CHECK = sectioned(
    {
        "normal_cdf": _normal_cdf,
        "probabilities": _probabilities,
        "signals": _signals,
        "signal_sizing": _signal_sizing,
        "ticker_parsing": _ticker,
        "stations": _stations,
        "noaa_parse": _noaa,
        "weighted_stats": _weighted_stats,
        "forecast_window": _forecast_window,
    }
)


@checker("trading.json", "weather", split=SPLIT)
def check(case: Any, ctx: Context) -> None:
    CHECK(case, ctx)
