"""trading.json::weather against paulp.domain.strategies.weather / noaa (trading §6.2).

Two sections describe their inputs in prose (``signal_sizing.case``, ``weighted_stats.values``); they
are parsed with strict patterns, and text that does not match fails the case instead of passing it.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from paulp.domain.strategies.noaa import metric_values, station_for
from paulp.domain.strategies.weather import (
    ASSUMED_CV,
    MIN_EDGE,
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
from tests.conformance.checkers import _conventions as conventions
from tests.conformance.checkers._sides import trading_expected
from tests.conformance.checkers.trading_reconciliation import close, sectioned
from tests.conformance.registry import Context, checker

_MONTHS = {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())}
_NUM = r"\$?([+-]?(?:\d+(?:\.\d*)?|\.\d+))"
# "YES: model 0.977, price 0.70, capital 300, CV 0.25" — any order, ":"/"=", long or camelCase names.
_SIZING_FACTS = {
    "side": re.compile(r"\b(?:side\s*[:=]?\s*)?(YES|NO)\b", re.IGNORECASE),
    "model": re.compile(rf"\bmodel(?:[\s_-]*prob(?:ability)?)?\s*(?:[:=]|of|is)?\s*{_NUM}", re.IGNORECASE),
    "price": re.compile(rf"\b(?:market[\s_-]*)?price\s*(?:[:=]|of|is)?\s*{_NUM}", re.IGNORECASE),
    "capital": re.compile(rf"\b(?:available[\s_-]*)?(?:capital|bankroll)\s*(?:[:=]|of|is)?\s*{_NUM}",
                          re.IGNORECASE),
    "cv": re.compile(rf"\b(?:assumed[\s_-]*)?(?:cv|coefficient of variation)\s*(?:[:=]|of|is)?\s*{_NUM}",
                     re.IGNORECASE),
}
_SIZING_KEYS = {"side": ("side",), "model": ("model", "modelProbability", "model_probability"),
                "price": ("price", "marketPrice", "market_price"),
                "capital": ("capital", "availableCapital", "bankroll"), "cv": ("cv", "CV", "assumedCV", "assumed_cv")}
_RETURNS_KEYS = ("returns", "historicalReturns", "historical_returns")
_MIN_EDGE_KEYS = ("minEdge", "min_edge")
_SIZING_FILLER = re.compile(r"[\s,;:()\-]*(?:(?:and|with|at|side)[\s,;:()\-]*)*", re.IGNORECASE)
_MONTH = r"(?P<mon>[A-Za-z]{3,9})\.?"
_YEARS = r"(?P<y1>\d{4})\s*(?:\.{2,3}|\u2026|-|\u2013|to|through)\s*(?P<y2>\d{4})"
_DAY_FORMS = (rf"\(?\s*(?:on\s+)?{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s*\)?",
              rf"\(?\s*(?:on\s+)?(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH}\s*\)?",
              r"\(?\s*(?:on\s+)?(?P<mnum>\d{1,2})-(?P<day>\d{1,2})\s*\)?")
_RUNS = tuple(re.compile(
    rf"^(?:(?P<n>\d+)\s+)?values?\s+(?:of\s+|=\s*|:\s*)?(?P<v>-?[\d.]+)\s+(?:dated|on|for|in|over|across)\s+"
    rf"(?:years?\s+)?{_YEARS},?\s*{day}$", re.IGNORECASE) for day in _DAY_FORMS)
_LISTED = re.compile(r"^values?\s*:?\s*\[?(?P<values>[-\d.,\s]+?)\]?\s+(?:dated|on|at)\s+(?P<dates>.+)$",
                     re.IGNORECASE)
_RUN_SEPARATOR = re.compile(r"\s*(?:,?\s*(?:and\s+)?then\s+|;\s*|\s\+\s)", re.IGNORECASE)


def _month(name: str) -> int:
    month = _MONTHS.get(name[:3].lower())
    assert month is not None, f"cannot read month {name!r}"
    return month


_PROSE = frozenset({"name", "note", "source_behaviour"})


def _refuse_unknown(case: Any, known: frozenset[str], what: str) -> None:
    stray = set(case) - known - _PROSE
    assert not stray, f"{what} fields this checker cannot interpret: {sorted(stray)}"


def _normal_cdf(case: Any, _: Context) -> None:
    _refuse_unknown(case, frozenset({"z", "expected"}), "normal_cdf")
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
    exp = trading_expected(exp)
    unknown = set(exp) - {"side", "modelProbability", "edge", "confidence", "marketPrice"}
    assert not unknown, f"no interpreter for expected signal fields {sorted(unknown)}"
    if "side" in exp:
        assert got.side == str(exp["side"]).upper(), f"side {got.side}, expected {exp['side']}"
    for key, actual in (("modelProbability", got.model_probability), ("edge", got.edge),
                        ("confidence", got.confidence), ("marketPrice", got.market_price)):
        if key in exp:
            close(actual, exp[key], key)


def _sizing_facts(case: Any) -> dict[str, Any]:
    """Side, model, price, capital and CV: from structured fields if the case has them, else from its text."""
    source = case.get("input") if isinstance(case.get("input"), dict) else case
    structured = {fact: next((source[k] for k in keys if k in source), None) for fact, keys in _SIZING_KEYS.items()}
    # §6.2 "CV 0.25 or history": historical returns stand in for a stated CV.
    returns = next((source[k] for k in _RETURNS_KEYS if k in source), None)
    if returns is not None and structured["cv"] is None:
        structured["cv"] = ASSUMED_CV
    if all(v is not None for v in structured.values()):
        return {**structured, "side": str(structured["side"]).upper(), "returns": returns,
                "minEdge": next((source[k] for k in _MIN_EDGE_KEYS if k in source), None)}
    text = str(case.get("case") or case.get("name") or "")
    facts: dict[str, Any] = {}
    rest = text
    for fact, pattern in _SIZING_FACTS.items():
        m = pattern.search(rest)
        assert m, f"sizing case text not understood: no {fact} in {text!r}"
        facts[fact] = m.group(1).upper() if fact == "side" else float(m.group(1))
        rest = rest[:m.start()] + " " + rest[m.end():]
    assert _SIZING_FILLER.fullmatch(rest), f"sizing case text not understood: {rest.strip()!r} in {text!r}"
    return facts | {"returns": None, "minEdge": case.get("minEdge")}


def _signal_sizing(case: Any, ctx: Context) -> None:
    f = _sizing_facts(case)
    m = {"side": f["side"], "capital": f["capital"], "cv": f["cv"]}
    model, price = float(f["model"]), float(f["price"])
    edge = WeatherEdge(m["side"], model, price, abs(model - price), 1.0)
    returns = [float(r) for r in f["returns"]] if f["returns"] is not None else None
    got = size_weather_edge(edge, float(m["capital"]), returns, assumed_cv=float(m["cv"]))
    min_edge = MIN_EDGE if f["minEdge"] is None else float(f["minEdge"])
    exp = trading_expected(case["expected"])
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
            sig = weather_signal("M", fc, edge, float(m["capital"]), conventions.now(ctx), min_edge, returns)
            assert (sig is not None) == want, f"signal emitted {sig is not None}, expected {want}"
        elif key == "hasEdge":
            assert got.has_edge == want, f"hasEdge {got.has_edge}, expected {want}"
        else:
            assert key in fields, f"no interpreter for sizing field {key!r}"
            close(float(fields[key]), want, key)


def _ticker(case: Any, _: Context) -> None:
    _refuse_unknown(case, frozenset({"ticker", "expected", "name", "note"}), "ticker_parsing")
    got = parse_ticker(case["ticker"])
    exp = trading_expected(case["expected"])
    assert exp is None or (isinstance(exp, dict) and exp), f"ticker_parsing: expected null or facts, got {exp!r}"
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
    _refuse_unknown({k for k in case if not k.startswith("expected_")}, frozenset({"response"}), "noaa_parse")
    wanted = {k.removeprefix("expected_"): v for k, v in case.items() if k.startswith("expected_")}
    assert wanted, f"noaa_parse without expected_<metric> keys: {list(case)}"
    for metric, values in wanted.items():
        got = [v for _, v in metric_values(case["response"], metric)]
        assert len(got) == len(values), f"{metric}: {got}, expected {values}"
        for g, w in zip(got, values, strict=True):
            close(g, w, metric)


def _date(value: Any) -> date:
    return date.fromisoformat(str(value).strip()[:10])


def _points(raw: Any, case: Any = None) -> list[tuple[date, float]]:
    """Dated values: structured ([{date, value}], [[date, value]], values + dates lists) or the sample's prose
    ("values [70, 72] dated 2020-03-15, 2021-03-15"; "15 values of 60 dated 2000..2014 (Mar 15) then ...")."""
    if isinstance(raw, list):
        if not raw and not (case or {}).get("dates"):
            return []  # no history at all: the forecast's degenerate input
        if raw and all(isinstance(p, dict) for p in raw):
            return [(_date(p["date"]), float(p["value"])) for p in raw]
        if raw and all(isinstance(p, list | tuple) and len(p) == 2 for p in raw):
            return [(_date(d), float(v)) for d, v in raw]
        dates = (case or {}).get("dates")
        assert isinstance(dates, list) and len(dates) == len(raw), f"values {raw!r} without matching dates"
        return [(_date(d), float(v)) for d, v in zip(dates, raw, strict=True)]
    text = str(raw).strip()
    listed = _LISTED.match(text)
    if listed and not _RUN_SEPARATOR.search(text) and not any(r.match(text) for r in _RUNS):
        values = [float(v) for v in re.split(r"[\s,]+", listed["values"].strip()) if v]
        dates = [_date(d) for d in re.split(r"\s*(?:,|\band\b|;)\s*", listed["dates"].strip()) if d]
        assert len(values) == len(dates), f"values/dates mismatch in {text!r}"
        return list(zip(dates, values, strict=True))
    points: list[tuple[date, float]] = []
    for part in _RUN_SEPARATOR.split(text):
        run = next((m for r in _RUNS if (m := r.match(part.strip()))), None)
        assert run, f"weighted_stats values not understood: {part!r}"
        years = range(int(run["y1"]), int(run["y2"]) + 1)
        assert run["n"] is None or len(years) == int(run["n"]), f"{part!r}: {len(years)} years for {run['n']} values"
        groups = run.groupdict()
        month = int(groups["mnum"]) if groups.get("mnum") else _month(groups["mon"])
        points += [(date(y, month, int(run["day"])), float(run["v"])) for y in years]
    return points


_CONFIG_KEYS = {"lookbackYears", "minSampleSize", "climateAdjustment", "recentWeightFactor", "currentYear"}
_CURRENT_YEAR_KEYS = ("currentYear", "current_year")


def _current_year(case: Any, ctx: Context) -> int:
    """The case's own current year (a key of the case or its config, or "current year NNNN" in its name), else the
    file's convention."""
    for source in (case, case.get("config") or {}):
        for key in _CURRENT_YEAR_KEYS:
            if key in source:
                return int(source[key])
    year_in_name = re.search(r"current year (\d{4})", str(case.get("name", "")))
    return int(year_in_name[1]) if year_in_name else conventions.current_year(ctx)


def _interval(exp: dict[str, Any]) -> tuple[float | None, float | None] | None:
    """The 95 % interval if the case states one: ``confidenceInterval`` as {lower, upper} or a pair, or
    ``lower95``/``upper95``."""
    raw = exp.get("confidenceInterval")
    if isinstance(raw, dict):  # either bound may be stated alone (ADR 0486)
        assert raw and not set(raw) - {"lower", "upper"}, f"confidenceInterval not interpretable: {raw!r}"
        return _bound(raw.get("lower")), _bound(raw.get("upper"))
    if isinstance(raw, list | tuple):
        low, high = raw
        return float(low), float(high)
    if "lower95" in exp or "upper95" in exp:
        return _bound(exp.get("lower95")), _bound(exp.get("upper95"))
    return None


def _bound(value: Any) -> float | None:
    return None if value is None else float(value)


_WEIGHTED_STATS_KEYS = frozenset({"values", "dates", "first_year", "target", "config", "metric", "expected",
                                   *_CURRENT_YEAR_KEYS})


def _weighted_stats(case: Any, ctx: Context) -> None:
    _refuse_unknown(case, _WEIGHTED_STATS_KEYS, "weighted_stats")
    points = _points(case["values"], case)
    if "first_year" in case:
        assert points[0][0].year == case["first_year"], f"parsed first year {points[0][0].year}"
    current_year = _current_year(case, ctx)
    # Without an explicit target the points' own calendar day is the target (all vectors date them alike).
    target = date.fromisoformat(case["target"]) if "target" in case else points[0][0]
    cfg = case.get("config") or {}
    unknown = set(cfg) - _CONFIG_KEYS - set(_CURRENT_YEAR_KEYS)
    assert not unknown, f"no interpreter for forecast config keys {sorted(unknown)}"
    config = ForecastConfig(
        lookback_years=int(cfg.get("lookbackYears", 30)),
        min_sample_size=int(cfg.get("minSampleSize", 20)),
        climate_adjustment=float(cfg.get("climateAdjustment", 0.03)),
        recent_weight_factor=float(cfg.get("recentWeightFactor", 1.5)),
    )
    got = forecast(points, target, current_year, str(case.get("metric", "temperature")), config)
    exp = case["expected"]
    unknown = set(exp) - {"mean", "stdDev", "sampleSize", "distribution", "confidenceInterval", "lower95", "upper95"}
    assert not unknown, f"no interpreter for expected forecast fields {sorted(unknown)}"
    assert exp, "weighted_stats: the case expects nothing"
    # each stated fact is checked; a case may state fewer (ADR 0486)
    if "mean" in exp:
        close(got.mean, exp["mean"], "mean")
    if "stdDev" in exp:
        close(got.std_dev, exp["stdDev"], "stdDev")
    if "sampleSize" in exp:
        assert got.sample_size == exp["sampleSize"], f"sampleSize {got.sample_size}, expected {exp['sampleSize']}"
    if "distribution" in exp:
        want = exp["distribution"]
        assert got.distribution == want, f"distribution {got.distribution}, expected {want}"
    interval = _interval(exp)
    if interval is not None:
        if interval[0] is not None:
            close(got.lower_95, interval[0], "lower 95 %")
        if interval[1] is not None:
            close(got.upper_95, interval[1], "upper 95 %")


def _md(text: str) -> date:
    """A calendar day written MM-DD, or a full ISO date whose month and day are used."""
    parts = [int(x) for x in str(text).strip()[:10].split("-")]
    assert len(parts) in (2, 3), f"calendar day not understood: {text!r}"
    month, day = parts[-2:]
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
