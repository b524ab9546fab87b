"""Skill score from aggregated inputs (trading spec §4.6), for strategy and leaderboard inputs.

Bands and units differ from the per-position rubric (§4.5) on purpose: this variant is used only
where aggregates are all that is available.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from paulp.domain.clv import ClvStatistics, ExactSharpe, clv_consistency_points, exact_sharpe
from paulp.domain.exact import as_written, herfindahl
from paulp.domain.exact import as_written_decimal as _dec
from paulp.domain.skill import skill_tier

MIN_POSITIONS = 20
MIN_AGE_DAYS = 60


@dataclass(frozen=True)
class AggregatedSkillInput:
    clv_stats: ClvStatistics
    total_pnl: float
    total_positions: int
    position_pnls: tuple[float, ...]
    positions_per_month: float
    max_position_pct: float  # a fraction: 0.05 = 5 %
    total_ambiguity_assessed: int
    low_ambiguity_count: int
    gross_profit: float
    total_fees: float
    category_pnls: Mapping[str, float]
    has_blowup: bool
    has_martingale: bool
    has_revenge: bool
    account_age_days: float
    has_consistent_activity: bool


@dataclass(frozen=True)
class AggregatedSkillScore:
    total_score: int
    tier: str
    clv_score: int
    returns_score: int
    sizing_score: int
    ambiguity_score: int
    fee_score: int
    diversification_score: int
    blowup_score: int
    longevity_score: int
    clv_stability_warning: bool


_ZERO = AggregatedSkillScore(0, "Losing", 0, 0, 0, 0, 0, 0, 0, 0, False)


def aggregated_sharpe(pnls: Sequence[float], positions_per_month: float) -> ExactSharpe:
    if len(pnls) < 5:
        return ExactSharpe(0, Fraction(0))
    # Exact, so pnls 0.1 / 0.3 give a Sharpe of exactly 2 (not > 2) and identical pnls a std of exactly 0
    # (ADR 0444), whatever square root the positions per month need (ADR 0456).
    return exact_sharpe(pnls, positions_per_month)


def _returns(sharpe: ExactSharpe) -> int:
    return 20 if sharpe > 2.0 else 16 if sharpe > 1.5 else 12 if sharpe > 1.0 else 8 if sharpe > 0.5 else 0


def _sizing(fraction: float) -> int:
    return 15 if fraction < 0.10 else 12 if fraction < 0.20 else 8 if fraction < 0.30 else 4


def _ambiguity(assessed: int, low: int) -> int:
    if assessed == 0:
        return 5
    share = low / assessed
    return 10 if share > 0.8 else 7 if share > 0.6 else 3


def _fees(gross_profit: float, fees: float) -> int:
    if gross_profit <= 0:
        return 1
    share = _dec(fees) / _dec(gross_profit)  # decimal: fees 0.15 on 3 is 5 %, not binary's 4.9999... (ADR 0444)
    return 5 if share < Decimal("0.05") else 3 if share < Decimal("0.15") else 1


def positive_category_hhi(category_pnls: Mapping[str, float]) -> float:
    """Herfindahl over profitable categories only; none profitable counts as fully concentrated."""
    return float(_positive_category_hhi(category_pnls))


def _positive_category_hhi(category_pnls: Mapping[str, float]) -> Fraction:
    hhi = herfindahl(as_written(v) for v in category_pnls.values() if v > 0)
    return Fraction(1) if hhi is None else hhi


def _diversification(category_pnls: Mapping[str, float]) -> int:
    # Exact shares: four equal ones are 0.25 (ADR 0444), and 1, 11, 11, 12, 17 too, where 28-digit shares gave
    # 0.2499…9 (ADR 0456).
    hhi = _positive_category_hhi(category_pnls)
    return 10 if hhi < Fraction(1, 4) else 7 if hhi < Fraction(1, 2) else 3


def _blowup(*flags: bool) -> int:
    count = sum(flags)
    return 10 if count == 0 else 5 if count == 1 else 0


def _longevity(age_days: float, consistent: bool) -> int:
    return 5 if age_days > 180 and consistent else 3 if age_days > 90 else 1


def _scores(data: AggregatedSkillInput) -> tuple[int, list[int]]:
    clv = clv_consistency_points(data.clv_stats.mean_clv_cents, data.clv_stats.valid_clv_count)
    rest = [
        _returns(aggregated_sharpe(data.position_pnls, data.positions_per_month)),
        _sizing(data.max_position_pct),
        _ambiguity(data.total_ambiguity_assessed, data.low_ambiguity_count),
        _fees(data.gross_profit, data.total_fees),
        _diversification(data.category_pnls),
        _blowup(data.has_blowup, data.has_martingale, data.has_revenge),
        _longevity(data.account_age_days, data.has_consistent_activity),
    ]
    return clv, rest


def _eligible(data: AggregatedSkillInput) -> bool:
    return data.total_positions >= MIN_POSITIONS and data.account_age_days >= MIN_AGE_DAYS


def without_clv_total(total: int, clv: int) -> int:
    """The non-CLV score rescaled to 100: ``round((total - clv) x 100/75)``, half up."""
    return math.floor((total - clv) * (100 / 75) + 0.5)


def aggregated_skill_score(data: AggregatedSkillInput, include_clv: bool = True) -> AggregatedSkillScore:
    """Score from aggregates; the warning flags a CLV-driven score that moves > 10 points without CLV."""
    if not _eligible(data):
        return _ZERO
    clv, rest = _scores(data)
    with_clv = clv + sum(rest)
    # §4.6's one formula, on the account's with-CLV figures in both modes (ADR 0444): the unrounded rescale, so
    # 69 with 25 CLV points (|69 - 58.67| > 10) warns without CLV too, where the rounded 59 would not.
    warning = abs(with_clv - (with_clv - clv) * (100 / 75)) > 10
    if include_clv:
        total, clv_points = with_clv, clv
    else:
        total, clv_points = without_clv_total(with_clv, clv), 0
    tier = skill_tier(total).value.capitalize()
    returns, sizing, ambiguity, fees, diversification, blowup, longevity = rest
    return AggregatedSkillScore(total, tier, clv_points, returns, sizing, ambiguity, fees, diversification,
                                blowup, longevity, warning)
