"""Closing line value (trading spec §4.2-4.4): did an entry beat the market's closing consensus?

Prices are in the held side's own price space (a NO buyer passes NO prices), so one formula
serves both sides: ``CLV = closing - entry``; positive is a favourable entry.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from paulp.domain.exact import as_written, as_written_decimal

CLV_VALID_QUALITY = 0.5
MIN_CLOSING_DEPTH_USD = 50.0
MAX_CLOSING_SPREAD = 0.15
RESAMPLE_STEP = timedelta(seconds=15)


class MarketClass(StrEnum):
    POLITICAL = "political"
    SPORTS = "sports"
    WEATHER = "weather"
    MENTIONS = "mentions"
    CRYPTO = "crypto"


@dataclass(frozen=True)
class ClosingLineWindow:
    window: timedelta
    method: str


CLOSING_LINE_WINDOWS: dict[MarketClass, ClosingLineWindow] = {
    MarketClass.POLITICAL: ClosingLineWindow(timedelta(minutes=60), "T-60min"),
    MarketClass.SPORTS: ClosingLineWindow(timedelta(0), "last-trade"),
    MarketClass.WEATHER: ClosingLineWindow(timedelta(minutes=5), "T-5min"),
    MarketClass.MENTIONS: ClosingLineWindow(timedelta(seconds=30), "T-30sec"),
    MarketClass.CRYPTO: ClosingLineWindow(timedelta(seconds=60), "T-60sec"),
}

# (class, category needles, tag needles) in first-match order; unmatched markets are political.
_CLASS_RULES: tuple[tuple[MarketClass, tuple[str, ...], tuple[str, ...]], ...] = (
    (MarketClass.POLITICAL, ("politic", "election"), ()),
    (MarketClass.SPORTS, ("sport",), ("sport", "game")),
    (MarketClass.WEATHER, ("weather",), ("weather", "temperature")),
    (MarketClass.MENTIONS, ("mention",), ("speech", "say")),
    (MarketClass.CRYPTO, ("crypto",), ("btc", "eth", "bitcoin")),
)


def infer_market_class(category: str | None, tags: Iterable[str] | None = None) -> MarketClass:
    """Class from category/tags (case-insensitive, first match); default political, the longest window.
    A single tag given as a string is one tag, not a sequence of letters (ADR 0456)."""
    cat = (category or "").lower()
    lowered = [tags.lower()] if isinstance(tags, str) else [t.lower() for t in tags or ()]
    for market_class, cat_needles, tag_needles in _CLASS_RULES:
        if any(n in cat for n in cat_needles) or any(n in t for t in lowered for n in tag_needles):
            return market_class
    return MarketClass.POLITICAL


@dataclass(frozen=True)
class ClvResult:
    clv: float
    clv_cents: float
    closing_line_price: float
    entry_price: float
    side: str
    closing_line_method: str
    is_valid: bool
    quality_score: float


def compute_clv(
    entry_price: float,
    closing_line_price: float,
    side: str,
    market_class: MarketClass,
    quality_score: float = 1.0,
) -> ClvResult:
    """CLV of one position; valid only when the closing line's quality is at least 0.5."""
    clv = closing_line_price - entry_price
    return ClvResult(
        clv=clv,
        clv_cents=clv * 100,
        closing_line_price=closing_line_price,
        entry_price=entry_price,
        side=side,
        closing_line_method=CLOSING_LINE_WINDOWS[market_class].method,
        is_valid=quality_score >= CLV_VALID_QUALITY,
        quality_score=quality_score,
    )


def lifecycle_clv(entry_price: float, closing_line_price: float) -> float:
    """The order lifecycle's CLV: the same difference in whatever unit both prices use."""
    return closing_line_price - entry_price


@dataclass(frozen=True)
class ClvStatistics:
    mean_clv: float
    mean_clv_cents: float
    std_dev_clv: float
    positive_clv_count: int
    negative_clv_count: int
    valid_clv_count: int
    invalid_clv_count: int
    clv_consistency_score: float


def population_std(values: Sequence[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def _decimals(values: Sequence[float]) -> list[Decimal]:
    return [as_written_decimal(v) for v in values]


def decimal_mean(values: Sequence[float]) -> float:
    """Mean taken in decimal on each value's shortest repr, for comparison with a band edge (ADR 0342):
    ten spreads of 0.08 average to exactly 0.08, not to binary's 0.07999999999999999."""
    exact = _decimals(values)
    return float(sum(exact, Decimal(0)) / len(exact))


def decimal_population_std(values: Sequence[float]) -> float:
    """Population std in decimal on the values' shortest repr (ADR 0342): 0.48/0.52 give exactly 0.02."""
    exact = _decimals(values)
    mean = sum(exact, Decimal(0)) / len(exact)
    return float((sum(((v - mean) ** 2 for v in exact), Decimal(0)) / len(exact)).sqrt())


@dataclass(frozen=True)
class ExactSharpe:
    """mean / population std x sqrt(periods), known exactly by its sign and square (ADR 0456), so a band edge is
    judged exactly: 4 pnls of 50 and 14 of -10 are a Sharpe of exactly 0.5, which 28-digit decimals gave as
    0.4999…9 (no points). Compares with a number as written; ``float()`` gives the reported figure."""

    sign: int
    square: Fraction

    def _versus(self, edge: float) -> int:
        """Sign of (Sharpe - edge)."""
        bound = as_written(edge)
        bound_sign = (bound > 0) - (bound < 0)
        if self.sign != bound_sign or self.sign == 0:
            return (self.sign > bound_sign) - (self.sign < bound_sign)
        gap = self.square - bound * bound  # same sign: the larger square is further from 0
        return self.sign * ((gap > 0) - (gap < 0))

    def __gt__(self, edge: float) -> bool:
        return self._versus(edge) > 0

    def __ge__(self, edge: float) -> bool:
        return self._versus(edge) >= 0

    def __float__(self) -> float:
        return self.sign * math.sqrt(self.square)


def exact_sharpe(
    values: Sequence[float | Decimal | Fraction], periods: float | Decimal | Fraction, min_std: float = 0.0
) -> ExactSharpe:
    """mean / population std x sqrt(periods) on the figures as written (floats by their shortest repr), kept exact
    for banding (ADR 0456; ADR 0444 took it in decimal): returns 0.03 / -0.01 over 28 positions are exactly 1.5 and
    identical values have a std of exactly 0. A std of 0 or under ``min_std`` is a Sharpe of 0."""
    if periods < 0:
        raise ValueError(f"Sharpe periods must not be negative: {periods}")
    exact = [as_written(v) for v in values]
    mean = sum(exact, Fraction(0)) / len(exact)
    variance = sum(((v - mean) ** 2 for v in exact), Fraction(0)) / len(exact)
    floor, scale = as_written(min_std), as_written(periods)
    if variance == 0 or variance < floor * floor or mean == 0 or scale == 0:
        return ExactSharpe(0, Fraction(0))
    return ExactSharpe(1 if mean > 0 else -1, mean * mean * scale / variance)


def clv_statistics(results: Iterable[tuple[float, bool]]) -> ClvStatistics:
    """Statistics over valid ``(clv, is_valid)`` results; invalid ones are only counted."""
    items = list(results)
    valid = [clv for clv, ok in items if ok]
    invalid = len(items) - len(valid)
    if not valid:
        return ClvStatistics(0.0, 0.0, 0.0, 0, 0, 0, invalid, 0.0)
    mean = sum(valid) / len(valid)
    positive = sum(1 for c in valid if c > 0)
    return ClvStatistics(
        mean_clv=mean,
        mean_clv_cents=mean * 100,
        std_dev_clv=population_std(valid),
        positive_clv_count=positive,
        negative_clv_count=sum(1 for c in valid if c < 0),
        valid_clv_count=len(valid),
        invalid_clv_count=invalid,
        clv_consistency_score=positive / len(valid),
    )


def clv_consistency_points(mean_clv_cents: float, valid_count: int) -> int:
    """Aggregate-variant CLV points (§4.4, strict bands); fewer than 10 valid CLVs earn nothing."""
    if valid_count < 10:
        return 0
    for threshold, points in ((3, 25), (2, 20), (1, 15), (0, 10)):
        if mean_clv_cents > threshold:
            return points
    return 0


@dataclass(frozen=True)
class Observation:
    timestamp: datetime
    mid_price: float
    depth_yes: float
    depth_no: float
    spread: float

    @property
    def min_depth(self) -> float:
        return min(self.depth_yes, self.depth_no)


@dataclass(frozen=True)
class ClosingLineEstimate:
    closing_line_price: float
    quality_score: float
    is_valid: bool
    method: str
    depth_score: float
    spread_score: float
    sample_score: float
    stability_score: float
    observation_count: int
    valid_observation_count: int


def depth_score(avg_min_depth: float) -> float:
    return 1.0 if avg_min_depth > 500 else 0.7 if avg_min_depth > 100 else 0.4 if avg_min_depth > 50 else 0.0


def spread_score(avg_spread: float) -> float:
    return 1.0 if avg_spread < 0.03 else 0.7 if avg_spread < 0.08 else 0.3 if avg_spread < 0.15 else 0.0


def sample_score(count: int) -> float:
    return 1.0 if count > 10 else 0.6 if count >= 5 else 0.2


def stability_score(mid_std: float) -> float:
    return 1.0 if mid_std < 0.02 else 0.5 if mid_std < 0.05 else 0.2


def _estimate(
    price: float, method: str, scores: tuple[float, float, float, float], total: int, used: int
) -> ClosingLineEstimate:
    d, s, n, st = scores
    quality = 0.4 * d + 0.3 * s + 0.2 * n + 0.1 * st
    return ClosingLineEstimate(price, quality, quality >= CLV_VALID_QUALITY, method, d, s, n, st, total, used)


def estimate_closing_line(
    observations: Sequence[Observation], market_class: MarketClass, resolution_time: datetime
) -> ClosingLineEstimate:
    """Depth-weighted closing price over the class's window, with a quality score gating CLV validity."""
    method = CLOSING_LINE_WINDOWS[market_class].method
    invalid = ClosingLineEstimate(0.5, 0.0, False, method, 0.0, 0.0, 0.0, 0.0, len(observations), 0)
    if market_class is MarketClass.SPORTS:
        if not observations:
            return invalid
        last = max(observations, key=lambda o: o.timestamp)
        scores = (depth_score(last.min_depth), spread_score(last.spread), 0.6, 1.0)
        return _estimate(last.mid_price, method, scores, len(observations), 1)
    start = resolution_time - CLOSING_LINE_WINDOWS[market_class].window
    kept = [
        o for o in observations
        if start <= o.timestamp <= resolution_time
        and o.min_depth >= MIN_CLOSING_DEPTH_USD and o.spread <= MAX_CLOSING_SPREAD
    ]
    if not kept:
        return invalid
    weights = [o.min_depth for o in kept]
    price = sum(o.mid_price * w for o, w in zip(kept, weights, strict=True)) / sum(weights)
    scores = (  # band inputs in decimal, so a value exactly at an edge gets the spec's band (ADR 0342)
        depth_score(decimal_mean(weights)),
        spread_score(decimal_mean([o.spread for o in kept])),
        sample_score(len(kept)),
        stability_score(decimal_population_std([o.mid_price for o in kept])),
    )
    return _estimate(price, method, scores, len(observations), len(kept))


def resample(observations: Sequence[Observation], start: datetime, end: datetime) -> list[Observation]:
    """One observation per 15 s tick in [start, end], carrying forward the latest at or before each tick."""
    ordered = sorted(observations, key=lambda o: o.timestamp)
    out: list[Observation] = []
    tick, i, latest = start, 0, None
    while tick <= end:
        while i < len(ordered) and ordered[i].timestamp <= tick:
            latest = ordered[i]
            i += 1
        if latest is not None:
            out.append(replace(latest, timestamp=tick))
        tick += RESAMPLE_STEP
    return out
