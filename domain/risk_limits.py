"""Risk limits (trading §3.2) and their circuit-breaker scaling (§2.1)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from typing import Any

from paulp.domain.errors import DomainError
from paulp.domain.exact import as_decimal

BREAKER_STATES = frozenset({"NORMAL", "CAUTION", "HALT", "RECOVERY"})

# Spec (camelCase) name of every limit field; the spec's names are the wire and audit names.
WIRE_NAMES: Mapping[str, str] = {
    "max_position_pct": "maxPositionPct",
    "max_concentration_pct": "maxConcentrationPct",
    "max_market_exposure_pct": "maxMarketExposurePct",
    "max_category_exposure_pct": "maxCategoryExposurePct",
    "max_daily_loss_pct": "maxDailyLossPct",
    "max_drawdown_pct": "maxDrawdownPct",
    "max_weekly_loss_pct": "maxWeeklyLossPct",
    "min_liquidity": "minLiquidity",
    "max_vpin": "maxVpin",
    "max_spread": "maxSpread",
    "min_time_to_settlement_hours": "minTimeToSettlementHours",
    "allowed_equivalence_grades": "allowedEquivalenceGrades",
    "max_ambiguity_score": "maxAmbiguityScore",
    "max_price_staleness_seconds": "maxPriceStalenessSeconds",
    "max_order_size": "maxOrderSize",
    "min_order_size": "minOrderSize",
    "slippage_kill_threshold_pct": "slippageKillThresholdPct",
}
FIELD_OF_WIRE: Mapping[str, str] = {wire: field for field, wire in WIRE_NAMES.items()}


class UnknownRiskLimit(DomainError):
    """Raised when a limits update names a limit that does not exist."""

    code = "unknown_risk_limit"


class UnknownBreakerState(DomainError):
    """Raised when a breaker state is not one of NORMAL, CAUTION, HALT, RECOVERY."""

    code = "unknown_breaker_state"


@dataclass(frozen=True)
class RiskLimits:
    """Pass thresholds of the 18 invariants; percentages are percent numbers (5 = 5 %)."""

    max_position_pct: float = 5.0
    max_concentration_pct: float = 10.0
    max_market_exposure_pct: float = 15.0
    max_category_exposure_pct: float = 30.0
    max_daily_loss_pct: float = 3.0
    max_drawdown_pct: float = 10.0
    max_weekly_loss_pct: float = 7.0
    min_liquidity: float = 500.0
    max_vpin: float = 0.5
    max_spread: float = 0.005
    min_time_to_settlement_hours: float = 24.0
    allowed_equivalence_grades: tuple[str, ...] = ("identical", "near_equivalent")
    max_ambiguity_score: float = 0.4
    max_price_staleness_seconds: float = 60.0
    max_order_size: float = 10000.0
    min_order_size: float = 10.0
    slippage_kill_threshold_pct: float = 50.0  # I18; lives in the limits row (§3.2)

    def merged(self, overrides: Mapping[str, Any]) -> RiskLimits:
        """Apply an operator's partial update (spec names); unknown names are refused, not ignored."""
        changes: dict[str, Any] = {}
        for wire, value in overrides.items():
            name = FIELD_OF_WIRE.get(wire)
            if name is None:
                raise UnknownRiskLimit(f"Unknown risk limit {wire!r}")
            if name == "allowed_equivalence_grades":
                changes[name] = tuple(str(g) for g in value)
            else:
                changes[name] = float(value)
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[WIRE_NAMES[f.name]] = list(value) if isinstance(value, tuple) else value
        return out


DEFAULT_LIMITS = RiskLimits()

CAUTION_SCALE = Decimal("0.5")
RECOVERY_SCALE = Decimal("0.75")


def _scaled(limit: float, scale: Decimal) -> float:
    """``limit x scale`` taken in decimal (ADR 0452): 4.1 x 0.75 is 3.075, not binary's 3.0749999999999997."""
    if isinstance(limit, float) and not math.isfinite(limit):
        return limit
    return float(as_decimal(limit) * scale)


def check_breaker_state(state: str) -> str:
    """Refuse an unknown state: an unknown gate must never be read as an open one."""
    if state not in BREAKER_STATES:
        raise UnknownBreakerState(f"Unknown circuit breaker state {state!r}")
    return str(state)


def adjusted_limits(base: RiskLimits, breaker_state: str) -> RiskLimits:
    """Limits every risk check uses in ``breaker_state`` (§2.1); HALT zeros the size limits."""
    state = check_breaker_state(breaker_state)
    if state == "CAUTION":
        return replace(
            base,
            max_position_pct=_scaled(base.max_position_pct, CAUTION_SCALE),
            max_concentration_pct=_scaled(base.max_concentration_pct, CAUTION_SCALE),
            max_order_size=_scaled(base.max_order_size, CAUTION_SCALE),
            max_daily_loss_pct=_scaled(base.max_daily_loss_pct, CAUTION_SCALE),
        )
    if state == "RECOVERY":
        return replace(
            base,
            max_position_pct=_scaled(base.max_position_pct, RECOVERY_SCALE),
            max_concentration_pct=_scaled(base.max_concentration_pct, RECOVERY_SCALE),
            max_order_size=_scaled(base.max_order_size, RECOVERY_SCALE),
        )
    if state == "HALT":
        return replace(base, max_position_pct=0.0, max_concentration_pct=0.0, max_order_size=0.0)
    return base
