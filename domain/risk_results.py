"""Result types of the risk invariants (trading §3.3): ids, severities, results, violations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    CRITICAL = "critical"  # "block": the order is refused and the breaker counts it
    WARNING = "warning"  # "warn": recorded, never blocks


class InvariantId(StrEnum):
    I1_MAX_POSITION_SIZE = "I1_MAX_POSITION_SIZE"
    I2_MAX_PORTFOLIO_CONCENTRATION = "I2_MAX_PORTFOLIO_CONCENTRATION"
    I3_MAX_MARKET_EXPOSURE = "I3_MAX_MARKET_EXPOSURE"
    I4_MAX_CATEGORY_EXPOSURE = "I4_MAX_CATEGORY_EXPOSURE"
    I5_MAX_DAILY_LOSS = "I5_MAX_DAILY_LOSS"
    I6_MAX_DRAWDOWN = "I6_MAX_DRAWDOWN"
    I7_MAX_WEEKLY_LOSS = "I7_MAX_WEEKLY_LOSS"
    I8_MIN_MARKET_LIQUIDITY = "I8_MIN_MARKET_LIQUIDITY"
    I9_MAX_VPIN_TOXICITY = "I9_MAX_VPIN_TOXICITY"
    I10_MAX_SPREAD = "I10_MAX_SPREAD"
    I11_MIN_TIME_TO_SETTLEMENT = "I11_MIN_TIME_TO_SETTLEMENT"
    I12_MARKET_EQUIVALENCE_GRADE = "I12_MARKET_EQUIVALENCE_GRADE"
    I13_MAX_AMBIGUITY_SCORE = "I13_MAX_AMBIGUITY_SCORE"
    I14_PRICE_STALENESS = "I14_PRICE_STALENESS"
    I15_ORDER_SIZE_LIMITS = "I15_ORDER_SIZE_LIMITS"
    I16_CIRCUIT_BREAKER_STATE = "I16_CIRCUIT_BREAKER_STATE"
    I17_SYSTEM_HEALTH = "I17_SYSTEM_HEALTH"
    I18_MAX_SLIPPAGE_VS_EDGE = "I18_MAX_SLIPPAGE_VS_EDGE"


WARNING_INVARIANTS = frozenset(
    {
        InvariantId.I8_MIN_MARKET_LIQUIDITY,
        InvariantId.I9_MAX_VPIN_TOXICITY,
        InvariantId.I10_MAX_SPREAD,
        InvariantId.I13_MAX_AMBIGUITY_SCORE,
    }
)
SEVERITY: dict[InvariantId, Severity] = {
    i: Severity.WARNING if i in WARNING_INVARIANTS else Severity.CRITICAL for i in InvariantId
}
NAMES: dict[InvariantId, str] = {
    i: i.value.split("_", 1)[1].replace("_", " ").title().replace("Vpin", "VPIN").replace("Vs", "vs")
    for i in InvariantId
}

Actual = float | str | bool | None
Threshold = float | str | bool


@dataclass(frozen=True)
class Violation:
    """A failed check as the decision reports it: ``{id, name, message, actual, threshold}``."""

    invariant_id: str
    name: str
    severity: Severity
    message: str
    actual: Actual = None
    threshold: Threshold | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.invariant_id,
            "name": self.name,
            "severity": self.severity.value,
            "message": self.message,
            "actual": self.actual,
            "threshold": self.threshold,
        }


@dataclass(frozen=True)
class InvariantResult:
    invariant_id: InvariantId
    passed: bool
    actual_value: Actual
    threshold: Threshold
    message: str

    @property
    def name(self) -> str:
        return NAMES[self.invariant_id]

    @property
    def severity(self) -> Severity:
        return SEVERITY[self.invariant_id]

    @property
    def violation(self) -> Violation | None:
        if self.passed:
            return None
        return Violation(
            self.invariant_id.value, self.name, self.severity, self.message, self.actual_value, self.threshold
        )


@dataclass(frozen=True)
class Conditions:
    """Facts outside request and portfolio: the check's clock and the breaker state it runs under."""

    now: datetime
    breaker_state: str
