"""Capital allocation per strategy (trading §5.7): how much each strategy may risk, and when it may go live.

USD amounts are floats because position sizes come from the Kelly float formula (§4.1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from paulp.domain.errors import DomainError
from paulp.domain.exact import as_written_decimal as _dec

NOT_ENABLED_REASON = "Strategy not enabled for live trading"
ENABLE_AFTER_DAYS = 14


class UnknownStrategy(DomainError):
    """Raised when a strategy has no capital allocation row."""

    code = "unknown_strategy"


@dataclass(frozen=True)
class StrategyAllocation:
    strategy: str
    capital: float
    max_position_pct: float
    enabled: bool
    enable_after_days: int | None = None


DEFAULT_ALLOCATIONS: tuple[StrategyAllocation, ...] = (
    StrategyAllocation("bonding", 500.0, 5.0, True),
    StrategyAllocation("weather", 300.0, 5.0, True),
    StrategyAllocation("xv_signal", 200.0, 5.0, False, ENABLE_AFTER_DAYS),
    StrategyAllocation("smart_money", 200.0, 5.0, False, ENABLE_AFTER_DAYS),
    StrategyAllocation("resolution", 100.0, 3.0, False, ENABLE_AFTER_DAYS),
)


def allocation_for(strategy: str, table: Sequence[StrategyAllocation] = DEFAULT_ALLOCATIONS) -> StrategyAllocation:
    for row in table:
        if row.strategy == strategy:
            return row
    raise UnknownStrategy(f"No capital allocation for strategy {strategy!r}")


def total_enabled_capital(table: Sequence[StrategyAllocation] = DEFAULT_ALLOCATIONS) -> float:
    return sum(row.capital for row in table if row.enabled)


@dataclass(frozen=True)
class CapitalBreakdown:
    total: float
    by_strategy: Mapping[str, float]  # disabled strategies show 0: they hold no live capital
    enabled_strategies: tuple[str, ...]
    pending_strategies: tuple[str, ...]


def capital_breakdown(table: Sequence[StrategyAllocation] = DEFAULT_ALLOCATIONS) -> CapitalBreakdown:
    return CapitalBreakdown(
        total=total_enabled_capital(table),
        by_strategy={row.strategy: row.capital if row.enabled else 0.0 for row in table},
        enabled_strategies=tuple(row.strategy for row in table if row.enabled),
        pending_strategies=tuple(row.strategy for row in table if not row.enabled),
    )


def position_size(allocation: StrategyAllocation, kelly_fraction: float, current_capital: float | None = None) -> float:
    """min(capital * Kelly fraction, capital * max position %); ``current_capital`` overrides the table."""
    capital = _dec(allocation.capital if current_capital is None else current_capital)
    return float(min(capital * _dec(kelly_fraction), capital * _dec(allocation.max_position_pct) / 100))


@dataclass(frozen=True)
class SizeValidation:
    valid: bool
    reason: str | None = None


def validate_size(
    allocation: StrategyAllocation, proposed_size: float, current_capital: float | None = None
) -> SizeValidation:
    """A live order must come from an enabled strategy and fit its per-position and total capital."""
    if not allocation.enabled:
        return SizeValidation(False, NOT_ENABLED_REASON)
    capital = allocation.capital if current_capital is None else current_capital
    # Decimal (ADR 0444): 3 % of 100.1 is 3.003, which a proposed 3.003 does not exceed (binary: 3.0029999999999997).
    max_exact = _dec(capital) * _dec(allocation.max_position_pct) / 100
    max_position = float(max_exact)
    if _dec(proposed_size) > max_exact:
        return SizeValidation(False, f"Size {proposed_size:g} exceeds max position {max_position:g}")
    if proposed_size > capital:
        return SizeValidation(False, f"Size {proposed_size:g} exceeds available capital {capital:g}")
    return SizeValidation(True)


def can_enable(allocation: StrategyAllocation, days_since_first_live_trade: float | None, successful_days: int) -> bool:
    """An enabled strategy stays enabled; a disabled one needs 14 days live and 14 successful days."""
    if allocation.enabled:
        return True
    required = ENABLE_AFTER_DAYS if allocation.enable_after_days is None else allocation.enable_after_days
    if days_since_first_live_trade is None:
        return False
    return days_since_first_live_trade >= required and successful_days >= required
