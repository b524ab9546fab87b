"""Scoring entry point (trading spec §4.2-4.7): CLV, closing lines, skill scores and price semantics.

The rules live in ``clv``, ``skill``, ``skill_aggregated`` and ``prices``; this module names the
public surface so callers need one import.
"""

from __future__ import annotations

from paulp.domain.clv import (
    ClosingLineEstimate,
    ClvResult,
    ClvStatistics,
    MarketClass,
    Observation,
    clv_consistency_points,
    clv_statistics,
    compute_clv,
    estimate_closing_line,
    infer_market_class,
    lifecycle_clv,
    resample,
)
from paulp.domain.prices import (
    Mechanics,
    NormalizedPrice,
    RawPrice,
    cents_to_prob,
    detect_mechanics,
    normalize_price,
    prob_to_cents,
)
from paulp.domain.skill import (
    AccountMetrics,
    AccountSkillScore,
    BlowupFlag,
    ScoredPosition,
    SkillTier,
    account_skill_score,
    detect_blowup_signatures,
    rank_stability,
)
from paulp.domain.skill_aggregated import AggregatedSkillInput, AggregatedSkillScore, aggregated_skill_score

__all__ = [
    "AccountMetrics", "AccountSkillScore", "AggregatedSkillInput", "AggregatedSkillScore", "BlowupFlag",
    "ClosingLineEstimate", "ClvResult", "ClvStatistics", "MarketClass", "Mechanics", "NormalizedPrice",
    "Observation", "RawPrice", "ScoredPosition", "SkillTier", "account_skill_score", "aggregated_skill_score",
    "cents_to_prob", "clv_consistency_points", "clv_statistics", "compute_clv", "detect_blowup_signatures",
    "detect_mechanics", "estimate_closing_line", "infer_market_class", "lifecycle_clv", "normalize_price",
    "prob_to_cents", "rank_stability", "resample",
]
