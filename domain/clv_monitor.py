"""A strategy's CLV going bad (trading §8 stress expectation): "CLV degrading > 2 std below its history mean
-> auto-disable strategy", made exact in ADR 0420.

The history is the strategy's valid CLVs in the order their markets closed. The recent window is the last
``recent`` of them; the history it is judged against is every valid CLV before that window. Both must be
full (``recent`` recent, at least ``min_prior`` before them): below that nothing is judged, so a new strategy is
never disabled on a handful of markets. Degraded means the recent mean is strictly more than ``stds``
population standard deviations (of the single prior CLVs) below the prior mean.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from paulp.domain.clv import population_std
from paulp.domain.exact import as_written

DEGRADATION_ALERT = "CLV_DEGRADED"


@dataclass(frozen=True)
class DegradationRule:
    recent: int = 20
    min_prior: int = 30
    stds: float = 2.0

    def __post_init__(self) -> None:
        if self.recent < 1 or self.min_prior < 2 or not self.stds > 0:
            raise ValueError("recent >= 1, min_prior >= 2 and stds > 0 are required")

    @property
    def min_count(self) -> int:
        """Valid CLVs needed before the rule judges at all."""
        return self.recent + self.min_prior


DEFAULT_RULE = DegradationRule()


@dataclass(frozen=True)
class ClvTrend:
    """What the rule compared; ``degraded`` is its verdict."""

    recent_mean: float
    prior_mean: float
    prior_std: float
    recent_count: int
    prior_count: int
    threshold: float
    degraded: bool

    def reason(self) -> str:
        return (f"CLV degraded: mean of the last {self.recent_count} valid CLVs {self.recent_mean:+.4f} is below"
                f" {self.threshold:+.4f} (prior mean {self.prior_mean:+.4f} - {self.prior_std:.4f} x stds over"
                f" {self.prior_count} earlier CLVs)")


def clv_trend(clvs: Sequence[float], rule: DegradationRule = DEFAULT_RULE) -> ClvTrend | None:
    """The rule applied to valid CLVs oldest first; None (no verdict) below ``rule.min_count``."""
    if len(clvs) < rule.min_count:
        return None
    prior, recent = list(clvs[:-rule.recent]), list(clvs[-rule.recent:])
    prior_mean = sum(prior) / len(prior)
    prior_std = population_std(prior)
    recent_mean = sum(recent) / len(recent)
    threshold = prior_mean - rule.stds * prior_std
    finite = all(math.isfinite(v) for v in clvs)  # a non-finite CLV keeps the float comparison (no exact value)
    degraded = _degraded(prior, recent, rule.stds) if finite else recent_mean < threshold
    return ClvTrend(recent_mean, prior_mean, prior_std, len(recent), len(prior), threshold, degraded)


def _degraded(prior: Sequence[float], recent: Sequence[float], stds: float) -> bool:
    """prior mean - recent mean > stds x std, judged exactly on the CLVs as written and squared, so no square root
    (ADR 0460): exactly 2 std below is not degraded. Binary put 0.0/0.02 (std 0.01) and -0.01 over the edge."""
    exact_prior, exact_recent = [as_written(v) for v in prior], [as_written(v) for v in recent]
    mean = sum(exact_prior, Fraction(0)) / len(exact_prior)
    variance = sum(((v - mean) ** 2 for v in exact_prior), Fraction(0)) / len(exact_prior)
    drop = mean - sum(exact_recent, Fraction(0)) / len(exact_recent)
    return drop > 0 and drop * drop > as_written(stds) ** 2 * variance
