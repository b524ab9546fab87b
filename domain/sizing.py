"""Kelly sizing (trading §4.1): fractional Kelly shrunk by return variability, capped per position.

Float formulas (the spec's vectors state a 1e-6 tolerance); prices and probabilities are 0..1 and
the market price P is always the YES price, also when sizing the NO side.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from paulp.domain.errors import DomainError
from paulp.domain.exact import as_written
from paulp.domain.exact import as_written_decimal as _dec

DEFAULT_CV = 0.3
MIN_RETURNS_FOR_CV = 5
MIN_ABS_MEAN = 1e-4
DEFAULT_MAX_POSITION_PCT = 5.0
DEFAULT_MAX_TOTAL_ALLOCATION_PCT = 50.0


class InvalidSide(DomainError):
    """Raised when a side is neither YES nor NO."""

    code = "invalid_side"


def _side(side: str) -> str:
    if side not in ("YES", "NO"):
        raise InvalidSide(f"Invalid side {side!r}: expected YES or NO")
    return side


def raw_kelly(fair_probability: float, market_price: float, side: str) -> float:
    """Full-Kelly fraction k = (b*p - (1-p))/b; 0 when either input is outside (0, 1)."""
    _side(side)
    if not (0 < fair_probability < 1 and 0 < market_price < 1):
        return 0.0
    # The closed form in decimal (ADR 0452): f = P is exactly no edge. Binary b·p - (1-p) left +1e-16 for
    # f = P = 0.3, so a fair-priced market "had an edge" and was sized.
    f, p_yes = _dec(fair_probability), _dec(market_price)
    k = (f - p_yes) / (1 - p_yes) if side == "YES" else (p_yes - f) / p_yes
    return float(k)


def coefficient_of_variation(returns: Sequence[float]) -> float:
    """Population std / |mean| of historical returns; too little or too flat a history → 0.3."""
    if len(returns) < MIN_RETURNS_FOR_CV:
        return DEFAULT_CV
    mean = math.fsum(returns) / len(returns)
    if _too_flat(returns, mean):
        return DEFAULT_CV
    variance = math.fsum((r - mean) ** 2 for r in returns) / len(returns)
    return math.sqrt(variance) / abs(mean)


def _too_flat(returns: Sequence[float], mean: float) -> bool:
    """|mean| < 1e-4 on the returns as written, multiplied out so no quotient is rounded (ADR 0460): -0.0003, -0.0001
    and three 0.0003 average exactly 1e-4, which binary put at 9.999999999999999e-05 (so CV 0.3). Non-finite
    returns keep the float comparison."""
    if not all(math.isfinite(r) for r in returns):
        return abs(mean) < MIN_ABS_MEAN
    total = sum((as_written(r) for r in returns), Fraction(0))
    return abs(total) < as_written(MIN_ABS_MEAN) * len(returns)


def sizing_cv(returns: Sequence[float] | None, assumed_cv: float = DEFAULT_CV) -> float:
    """The CV a sizing shrinks by: from the history when one is given (even a short one, which reads as 0.3),
    the configured assumption only when there is none (§4.1; weather configures 0.25)."""
    return assumed_cv if returns is None else coefficient_of_variation(returns)


def confidence_adjustment(cv: float) -> float:
    return 1 / (1 + cv * cv)


@dataclass(frozen=True)
class KellySizing:
    kelly_fraction: float  # raw k, reported even when negative
    adjusted_fraction: float
    position_size: float  # USD
    expected_edge: float  # cents
    has_edge: bool
    confidence_adjustment: float


def kelly_size(
    fair_probability: float,
    market_price: float,
    side: str,
    bankroll: float,
    max_position_pct: float = DEFAULT_MAX_POSITION_PCT,
    returns: Sequence[float] | None = None,
    assumed_cv: float = DEFAULT_CV,
) -> KellySizing:
    """Size one bet; ``returns`` None (no history) uses ``assumed_cv`` (weather configures 0.25)."""
    k = raw_kelly(fair_probability, market_price, side)
    if k <= 0:
        return KellySizing(k, 0.0, 0.0, 0.0, False, 0.0)
    conf = confidence_adjustment(sizing_cv(returns, assumed_cv))
    adjusted = min(k * conf, max_position_pct / 100)
    f, p_yes = _dec(fair_probability), _dec(market_price)
    edge = float((f - p_yes) * 100 if side == "YES" else (p_yes - f) * 100)
    return KellySizing(k, adjusted, adjusted * bankroll, edge, True, conf)


@dataclass(frozen=True)
class Opportunity:
    opportunity_id: str
    fair_probability: float
    market_price: float
    side: str


@dataclass(frozen=True)
class BatchSizing:
    opportunity_id: str
    sizing: KellySizing


def kelly_batch(
    opportunities: Sequence[Opportunity],
    bankroll: float,
    max_single_position_pct: float = DEFAULT_MAX_POSITION_PCT,
    max_total_allocation_pct: float = DEFAULT_MAX_TOTAL_ALLOCATION_PCT,
    assumed_cv: float = DEFAULT_CV,
) -> list[BatchSizing]:
    """Size each bet, drop those without edge, scale all down pro rata if the total is over budget."""
    sized = [
        BatchSizing(
            o.opportunity_id,
            kelly_size(o.fair_probability, o.market_price, o.side, bankroll, max_single_position_pct, None, assumed_cv),
        )
        for o in opportunities
    ]
    with_edge = [s for s in sized if s.sizing.has_edge]
    total = math.fsum(s.sizing.adjusted_fraction for s in with_edge)
    cap = max_total_allocation_pct / 100
    if total <= cap:
        return with_edge
    scale = cap / total
    return [
        BatchSizing(
            s.opportunity_id,
            KellySizing(
                s.sizing.kelly_fraction,
                s.sizing.adjusted_fraction * scale,
                s.sizing.position_size * scale,
                s.sizing.expected_edge,
                True,
                s.sizing.confidence_adjustment,
            ),
        )
        for s in with_edge
    ]
