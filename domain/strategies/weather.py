"""Weather strategy (trading §6.2): climatology forecast → outcome probability → edge → signal."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from paulp.domain.errors import DomainError
from paulp.domain.exact import as_written, as_written_decimal
from paulp.domain.ids import helper_signal_id
from paulp.domain.sizing import KellySizing, kelly_size

STRATEGY = "weather"  # the key of execution modes and capital (§5.7), as in the vectors
VENUE = "kalshi"
MIN_EDGE = 0.05
ASSUMED_CV = 0.25
MAX_POSITION_PCT = 5.0
SIGNAL_TTL = timedelta(hours=12)
Z_95 = 1.96
WINDOW_DAYS = 7
WINDOW_WRAP = 358  # a month·31+day gap this large means the dates are neighbours across new year

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
# Normative reading (§6.2): optional KX prefix, date token YYMONDD (26MAR25 → 2026-03-25).
_TICKER = re.compile(
    r"^(?:KX)?(?:TEMP-(?P<loc1>[A-Z]+)|HIGH(?P<loc2>[A-Z]+))"
    r"-(?P<yy>\d{2})(?P<mon>[A-Z]{3})(?P<dd>\d{2})-T(?P<threshold>-?\d+)$",
    re.ASCII,  # ASCII digits only: Python's str \d also takes Arabic-Indic and full-width digits (ADR 0482)
)


class UnknownOperator(DomainError):
    """Raised when an outcome operator is not above, below or between (with a two-sided threshold)."""

    code = "UNKNOWN_WEATHER_OPERATOR"


@dataclass(frozen=True)
class WeatherMarketSpec:
    metric: str
    location: str
    threshold: float
    operator: str
    settlement_date: date


@dataclass(frozen=True)
class ForecastConfig:
    lookback_years: int = 30
    min_sample_size: int = 20
    climate_adjustment: float = 0.03
    recent_weight_factor: float = 1.5


@dataclass(frozen=True)
class Forecast:
    mean: float
    std_dev: float
    sample_size: int
    lower_95: float
    upper_95: float
    distribution: str


@dataclass(frozen=True)
class WeatherEdge:
    """An actionable edge; ``model_probability`` is always P(YES) and ``edge`` its magnitude."""

    side: str
    model_probability: float
    market_price: float
    edge: float
    confidence: float


def parse_ticker(ticker: str) -> WeatherMarketSpec | None:
    """Read a temperature ticker; anything unparseable (including impossible dates) is None."""
    text = ticker.strip()
    # a venue ticker is ASCII; upper() would also fold a non-ASCII letter (the long s, U+017F) onto an ASCII one
    m = _TICKER.match(text.upper()) if text.isascii() else None
    if m is None or m["mon"] not in _MONTHS:
        return None
    try:
        settles = date(2000 + int(m["yy"]), _MONTHS.index(m["mon"]) + 1, int(m["dd"]))
        # a threshold no float holds (310+ digits overflow, 4300+ exceed int()'s limit) is unparseable and
        # skipped (§6.2), instead of raising out of the scan (ADR 0482)
        threshold = float(int(m["threshold"]))
    except (ValueError, OverflowError):
        return None
    location = m["loc1"] or m["loc2"]
    return WeatherMarketSpec("temperature", location, threshold, "above", settles)


def normal_cdf(z: float) -> float:
    """Φ via Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7), as the source computes it, z = 0 included."""
    sign = -1.0 if z < 0 else 1.0
    x = abs(z) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t
    return 0.5 * (1.0 + sign * (1.0 - poly * math.exp(-x * x)))


def outcome_probability(operator: str, mean: float, std_dev: float, threshold: float | Sequence[float]) -> float:
    """P(outcome) under N(mean, sigma); a degenerate sigma ≤ 0 is an indicator with strict inequalities."""
    if operator == "between":
        if isinstance(threshold, int | float) or len(threshold) != 2:
            raise UnknownOperator("between needs a (low, high) threshold")
        low, high = float(threshold[0]), float(threshold[1])
        if std_dev <= 0:
            return 1.0 if low < mean < high else 0.0
        return normal_cdf((high - mean) / std_dev) - normal_cdf((low - mean) / std_dev)
    if not isinstance(threshold, int | float):
        raise UnknownOperator(f"{operator} needs a single threshold")
    t = float(threshold)
    if operator == "above":
        return (1.0 if mean > t else 0.0) if std_dev <= 0 else 1.0 - normal_cdf((t - mean) / std_dev)
    if operator == "below":
        return (1.0 if mean < t else 0.0) if std_dev <= 0 else normal_cdf((t - mean) / std_dev)
    raise UnknownOperator(f"unknown operator {operator!r}")


def month_day_distance(target: date, point: date) -> int:
    return abs((target.month * 31 + target.day) - (point.month * 31 + point.day))


def in_window(target: date, point: date) -> bool:
    distance = month_day_distance(target, point)
    return distance <= WINDOW_DAYS or distance >= WINDOW_WRAP


def forecast(
    points: Sequence[tuple[date, float]],
    target: date,
    current_year: int,
    metric: str = "temperature",
    config: ForecastConfig = ForecastConfig(),
) -> Forecast:
    """Recency-weighted climatology of the points near the target's calendar day."""
    window = [(d, v) for d, v in points if in_window(target, d)]
    label = "gamma" if metric in ("precipitation", "snowfall") else "normal"
    # No point at all is the degenerate forecast whatever the minimum (a minimum of 0 would divide by no weight).
    if not window or len(window) < config.min_sample_size:
        return Forecast(0.0, 0.0, len(window), 0.0, 0.0, label)
    recent = current_year - 10
    weights = [config.recent_weight_factor if d.year >= recent else 1.0 for d, _ in window]
    # Source rule, kept: the trend uses the first point as supplied (≈ 0 for newest-first input).
    trend = (config.climate_adjustment, current_year - window[0][0].year)
    mean, std = _climatology([v for _, v in window], weights, trend)
    return Forecast(mean, std, len(window), mean - Z_95 * std, mean + Z_95 * std, label)


def _climatology(values: Sequence[float], weights: Sequence[float], trend: tuple[float, int]) -> tuple[float, float]:
    """Weighted mean (plus the trend) and weighted population sigma of the figures as written, in exact rationals.

    Binary left a crumb of variance for identical values (sigma 4e-14 for twenty 70.1s, also for a single point),
    so §6.2's "sigma <= 0 -> indicator" never applied and P(above 70.1) came out 0.84 or 0.16 instead of 0 (ADR 0473).
    Non-finite figures have no exact value and keep the float arithmetic."""
    adjustment, years = trend
    if not all(math.isfinite(x) for x in (*values, *weights, adjustment)):
        total = sum(weights)
        mean = sum(w * v for w, v in zip(weights, values, strict=True)) / total
        variance = sum(w * (v - mean) ** 2 for w, v in zip(weights, values, strict=True)) / total
        return mean + adjustment * years, math.sqrt(variance)
    xs, ws = [as_written(v) for v in values], [as_written(w) for w in weights]
    weight = sum(ws, Fraction(0))
    exact_mean = sum((w * x for w, x in zip(ws, xs, strict=True)), Fraction(0)) / weight
    exact_variance = sum((w * (x - exact_mean) ** 2 for w, x in zip(ws, xs, strict=True)), Fraction(0)) / weight
    return float(exact_mean + as_written(adjustment) * years), math.sqrt(exact_variance)


def confidence(sample_size: int, edge: float) -> float:
    return (min(sample_size / 30, 1.0) + min(abs(edge) / 0.20, 1.0)) / 2


def decimal_edge(model: float, market_price: float) -> Decimal:
    """|model - price| on the decimal figures (ADR 0444, as ADRs 0161/0342): model 1 at price 0.93 is exactly 0.07."""
    return abs(as_written_decimal(model) - as_written_decimal(market_price))


def edge_below(model: float, market_price: float, min_edge: float) -> bool:
    """|model - price| < minEdge in decimal: binary's 0.06999999999999995 would fail a 0.07 minimum it meets."""
    return decimal_edge(model, market_price) < as_written_decimal(min_edge)


def weather_edge(
    fc: Forecast,
    operator: str,
    threshold: float | Sequence[float],
    market_price: float,
    min_edge: float = MIN_EDGE,
) -> WeatherEdge | None:
    model = outcome_probability(operator, fc.mean, fc.std_dev, threshold)
    edge = model - market_price
    if edge_below(model, market_price, min_edge):
        return None
    side = "YES" if edge > 0 else "NO"
    return WeatherEdge(side, model, market_price, abs(edge), confidence(fc.sample_size, edge))


def size_weather_edge(
    edge: WeatherEdge,
    capital: float,
    historical_returns: Sequence[float] | None = None,
    assumed_cv: float = ASSUMED_CV,
) -> KellySizing:
    """Normative Kelly(f = model P(YES), P = YES price, side): the source's double complement is gone."""
    return kelly_size(
        edge.model_probability, edge.market_price, edge.side, capital, MAX_POSITION_PCT, historical_returns, assumed_cv
    )


@dataclass(frozen=True)
class WeatherSignal:
    signal_id: str
    market_id: str
    edge: WeatherEdge
    sizing: KellySizing
    target_size: float
    forecast: Forecast
    created_at: datetime
    expires_at: datetime


def weather_signal(
    market_id: str,
    fc: Forecast,
    edge: WeatherEdge,
    capital: float,
    now: datetime,
    min_edge: float = MIN_EDGE,
    historical_returns: Sequence[float] | None = None,
) -> WeatherSignal | None:
    """Emit iff Kelly finds an edge and the edge reaches the configured minimum."""
    sizing = size_weather_edge(edge, capital, historical_returns)
    if not sizing.has_edge or edge_below(edge.model_probability, edge.market_price, min_edge):
        return None
    sid = helper_signal_id(STRATEGY, market_id, VENUE, edge.side, "BUY", now.isoformat())
    return WeatherSignal(sid, market_id, edge, sizing, sizing.position_size, fc, now, now + SIGNAL_TTL)


def _edge_key(edge: WeatherEdge) -> Decimal:
    return decimal_edge(edge.model_probability, edge.market_price)


def rank_edges(edges: Sequence[WeatherEdge]) -> list[WeatherEdge]:
    """Largest edge first (§6.2), judged in decimal like the minimum; equal edges keep their given order (ADR 0455):
    1 - 0.93 and 0.07 - 0 are the same 0.07, although binary makes the first 0.06999999999999995."""
    return sorted(edges, key=_edge_key, reverse=True)


def rank_signals(signals: Sequence[WeatherSignal]) -> list[WeatherSignal]:
    """Signals in `rank_edges` order."""
    return sorted(signals, key=lambda s: _edge_key(s.edge), reverse=True)
