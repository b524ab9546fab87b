"""Account skill score from positions (trading spec §4.5): eight factors, 100 points, one tier.

This is the normative per-account rubric; ``skill_aggregated`` covers the variant used only when
aggregated inputs are all that is available.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from paulp.domain.clv import ExactSharpe, decimal_mean, exact_sharpe
from paulp.domain.errors import DomainError
from paulp.domain.exact import as_written, herfindahl
from paulp.domain.exact import as_written_decimal as _dec

MIN_STD = 1e-12
ONE_DAY = timedelta(days=1)
ONE_HOUR = timedelta(hours=1)


class SkillTier(StrEnum):
    ELITE = "elite"
    SKILLED = "skilled"
    COMPETENT = "competent"
    NOISE = "noise"
    LOSING = "losing"


def skill_tier(score: float) -> SkillTier:
    for floor_score, tier in ((80, SkillTier.ELITE), (60, SkillTier.SKILLED), (40, SkillTier.COMPETENT),
                              (20, SkillTier.NOISE)):
        if score >= floor_score:
            return tier
    return SkillTier.LOSING


class BlowupFlag(StrEnum):
    MARTINGALE = "MARTINGALE"
    REVENGE_TRADING = "REVENGE_TRADING"
    BLOWUP = "BLOWUP"
    CONCENTRATION_RISK = "CONCENTRATION_RISK"


@dataclass(frozen=True)
class ScoredPosition:
    market_id: str
    category: str | None
    entry_price: float
    closing_line_price: float
    clv: float
    clv_valid: bool
    pnl: float
    size: float
    fees: float
    ambiguity_score: float
    entry_at: datetime
    exit_at: datetime


@dataclass(frozen=True)
class AccountMetrics:
    positions: tuple[ScoredPosition, ...]
    total_fees: float
    portfolio_value: float
    account_created_at: datetime
    last_activity_at: datetime
    blowup_flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Factor:
    """One rubric line: its points, its maximum, and the figure the points were read from."""

    score: float
    max_score: int
    details: dict[str, float]


@dataclass(frozen=True)
class AccountSkillScore:
    total_score: float
    tier: SkillTier
    factors: dict[str, Factor]
    included_clv: bool


def _band(
    value: float | Decimal | ExactSharpe, bands: Sequence[tuple[float, int]], otherwise: int, strict_first: bool
) -> int:
    """Points of the first band whose floor ``value`` reaches (first band strict when asked)."""
    for i, (floor_value, points) in enumerate(bands):
        if value > floor_value if (strict_first and i == 0) else value >= floor_value:
            return points
    return otherwise


def _clv_factor(positions: Sequence[ScoredPosition]) -> Factor:
    valid = [p.clv for p in positions if p.clv_valid]
    if len(valid) < 10:
        return Factor(0, 25, {"mean_clv": 0.0, "valid_positions": len(valid)})
    mean = decimal_mean(valid)  # 10 x 0.02 is 2 cents, not binary's 1.9999999999999998 (ADR 0342)
    cents = float(Decimal(repr(mean)) * 100)
    score = _band(cents, ((3, 25), (2, 20), (1, 15), (0, 10)), 0, strict_first=True)
    return Factor(score, 25, {"mean_clv": mean, "valid_positions": len(valid)})


def _returns_factor(positions: Sequence[ScoredPosition], pv: float) -> Factor:
    if len(positions) < 5 or pv <= 0:
        return Factor(0, 20, {"sharpe": 0.0})
    # Exact, so a Sharpe of exactly 1.5 (ADR 0444) or 0.5 (ADR 0456) is in that band; std < 1e-12 -> 0 is the
    # spec's rule. The returns pnl/pv are exact quotients of the figures as written.
    pv_exact = as_written(pv)
    returns = [as_written(p.pnl) / pv_exact for p in positions]
    sharpe = exact_sharpe(returns, Fraction(252, len(positions)), min_std=MIN_STD)
    score = _band(sharpe, ((2.0, 20), (1.5, 16), (1.0, 12), (0.5, 8)), 0, strict_first=True)
    return Factor(score, 20, {"sharpe": float(sharpe)})


def _sizing_factor(positions: Sequence[ScoredPosition], pv: float) -> Factor:
    if not positions or pv <= 0:
        return Factor(15, 15, {"max_position_pct": 0.0})
    pct = max(abs(_dec(p.size)) for p in positions) / _dec(pv) * 100
    score = 15 if pct < 10 else 12 if pct <= 20 else 8 if pct <= 30 else 4
    return Factor(score, 15, {"max_position_pct": float(pct)})


def _ambiguity_factor(positions: Sequence[ScoredPosition]) -> Factor:
    if not positions:
        return Factor(10, 10, {"low_ambiguity_pct": 100.0})
    pct = sum(1 for p in positions if p.ambiguity_score < 0.3) / len(positions) * 100
    score = 10 if pct > 80 else 7 if pct >= 60 else 3
    return Factor(score, 10, {"low_ambiguity_pct": pct})


def _fee_factor(total_fees: float, gross_profit: float) -> Factor:
    if gross_profit <= 0:
        return Factor(3, 5, {"fee_drag_pct": 100.0 if total_fees > 0 else 0.0})
    pct = _dec(total_fees) / _dec(gross_profit) * 100
    score = 5 if pct < 5 else 3 if pct <= 15 else 1
    return Factor(score, 5, {"fee_drag_pct": float(pct)})


def _diversification_factor(positions: Sequence[ScoredPosition]) -> Factor:
    by_category: dict[str, Fraction] = {}
    for p in positions:
        key = p.category or "unknown"
        by_category[key] = by_category.get(key, Fraction(0)) + abs(as_written(p.pnl))
    total = sum(by_category.values(), Fraction(0))
    if total == 0:
        return Factor(10, 10, {"herfindahl": 0.0})
    # Exact shares (ADR 0456): |pnl| 1, 1, 4 are an HHI of exactly 0.5, where 28-digit sixths summed to 0.5000…1.
    hhi = herfindahl(by_category.values()) or Fraction(0)
    score = 10 if hhi < Fraction(1, 4) else 7 if hhi <= Fraction(1, 2) else 3
    return Factor(score, 10, {"herfindahl": float(hhi)})


def _blowup_factor(flags: Sequence[str]) -> Factor:
    score = 10 if not flags else 5 if len(flags) == 1 else 0
    return Factor(score, 10, {"flag_count": len(flags)})


def _longevity_factor(created: datetime, last_activity: datetime) -> Factor:
    days = math.floor((last_activity - created) / ONE_DAY)
    score = 5 if days >= 180 else 3 if days >= 90 else 1
    return Factor(score, 5, {"active_days": days})


def account_skill_score(metrics: AccountMetrics, include_clv: bool = True) -> AccountSkillScore:
    """Score an account; without CLV the returns factor absorbs the weight (x1.75, max 35)."""
    positions = metrics.positions
    pv = metrics.portfolio_value
    gross_profit = float(sum((_dec(p.pnl) for p in positions if p.pnl > 0), Decimal(0)))
    clv = _clv_factor(positions)
    returns = _returns_factor(positions, pv)
    if not include_clv:
        clv = Factor(0, 0, clv.details)
        returns = Factor(min(35, returns.score * 1.75), 35, returns.details)
    factors = {
        "clv_consistency": clv,
        "risk_adjusted_returns": returns,
        "sizing_discipline": _sizing_factor(positions, pv),
        "ambiguity_avoidance": _ambiguity_factor(positions),
        "low_fee_drag": _fee_factor(metrics.total_fees, gross_profit),
        "diversification": _diversification_factor(positions),
        "no_blowup_signatures": _blowup_factor(metrics.blowup_flags),
        "longevity": _longevity_factor(metrics.account_created_at, metrics.last_activity_at),
    }
    total = sum(f.score for f in factors.values())
    return AccountSkillScore(total, skill_tier(total), factors, include_clv)


@dataclass(frozen=True)
class BlowupPosition:
    pnl: float
    size: float
    category: str | None
    entry_at: datetime
    exit_at: datetime


def detect_blowup_signatures(positions: Sequence[BlowupPosition]) -> tuple[BlowupFlag, ...]:
    """Behavioural red flags, unique and in rubric order; fewer than three positions say nothing."""
    if len(positions) < 3:
        return ()
    ordered = sorted(positions, key=lambda p: p.entry_at)
    flags: list[BlowupFlag] = []
    # Sizes and losses in decimal (ADR 0444): 150.15 after 100.1 is exactly 1.5x (not martingale), a loss of 30.03
    # against an average size of 100.1 exactly 0.3x (not a blowup), as the figures are written.
    losses, previous_size = 0, Decimal(0)
    for p in ordered:
        losses = losses + 1 if p.pnl < 0 else 0
        if losses >= 2 and _dec(p.size) > previous_size * Decimal("1.5"):
            flags.append(BlowupFlag.MARTINGALE)
            break
        previous_size = _dec(p.size)
    for i, loss in enumerate(ordered[:-3]):
        if loss.pnl < 0 and all(n.entry_at - loss.exit_at < ONE_HOUR for n in ordered[i + 1:i + 4]):
            flags.append(BlowupFlag.REVENGE_TRADING)
            break
    max_loss = max(-_dec(p.pnl) if p.pnl < 0 else Decimal(0) for p in positions)
    total_size = sum((_dec(p.size) for p in positions), Decimal(0))
    if max_loss * len(positions) > total_size * Decimal("0.3"):  # x n, not / n: 0.3 x 1000/3 is exactly 100 (ADR 0456)
        flags.append(BlowupFlag.BLOWUP)
    by_category: dict[str, Decimal] = {}
    for p in positions:
        by_category[p.category or "unknown"] = by_category.get(p.category or "unknown", Decimal(0)) + _dec(p.size)
    if any(v > total_size * Decimal("0.5") for v in by_category.values()):
        flags.append(BlowupFlag.CONCENTRATION_RISK)
    return tuple(flags)


class RankListsMismatch(DomainError):
    """Raised when rank stability is asked of two account lists of different lengths."""

    code = "RANK_LISTS_MISMATCH"


@dataclass(frozen=True)
class RankStability:
    is_stable: bool
    unstable_account_pct: float
    max_rank_change: int


def _ranks(scores: Sequence[tuple[str, float]]) -> dict[str, int]:
    ordered = sorted(scores, key=lambda s: -s[1])
    return {account: i + 1 for i, (account, _) in enumerate(ordered)}


def rank_stability(
    with_clv: Sequence[tuple[str, float]], without_clv: Sequence[tuple[str, float]]
) -> RankStability:
    """Do rankings survive dropping CLV? Unstable account: rank moves > 5; stable if < 20 % are."""
    if len(with_clv) != len(without_clv):
        raise RankListsMismatch("account lists must have the same length")
    if not with_clv:
        return RankStability(True, 0.0, 0)
    ranks_with, ranks_without = _ranks(with_clv), _ranks(without_clv)
    changes = [abs(ranks_with[a] - ranks_without.get(a, 0)) for a, _ in with_clv]
    unstable_pct = sum(1 for c in changes if c > 5) / len(changes) * 100
    return RankStability(unstable_pct < 20, unstable_pct, max(changes))
