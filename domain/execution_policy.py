"""Execution modes and policies (trading spec §1.6, §5.1): how much the execution service may do.

DISABLED is a policy, not an absence of one: its limits are all zero, so every request is
refused with a reason instead of silently skipped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from paulp.domain.errors import DomainError

DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


class ExecutionMode(StrEnum):
    PAPER = "PAPER"
    LIVE = "LIVE"
    DISABLED = "DISABLED"


# Seed of the strategy-mode table (§9): bonding and weather paper-trade, the rest are off.
INITIAL_STRATEGY_MODES: dict[str, ExecutionMode] = {
    "bonding": ExecutionMode.PAPER,
    "weather": ExecutionMode.PAPER,
    "xv_signal": ExecutionMode.DISABLED,
    "smart_money": ExecutionMode.DISABLED,
    "resolution": ExecutionMode.DISABLED,
}
FAIL_SAFE_MODE = ExecutionMode.PAPER


def mode_for_strategy(strategy: str, modes: Mapping[str, ExecutionMode] | None = None) -> ExecutionMode:
    """Mode of the order's own strategy (ADR 0140); unknown strategies fall back to PAPER (§1.6)."""
    table = INITIAL_STRATEGY_MODES if modes is None else modes
    return table.get(strategy, FAIL_SAFE_MODE)


@dataclass(frozen=True)
class BlackoutPeriod:
    name: str
    start: datetime
    end: datetime
    reason: str


@dataclass(frozen=True)
class TradingHours:
    """UTC trading window; ``trading_days`` uses 0 = Sunday … 6 = Saturday."""

    enabled: bool
    start_hour_utc: int = 0
    end_hour_utc: int = 24
    trading_days: frozenset[int] = frozenset(range(7))
    blackout_periods: tuple[BlackoutPeriod, ...] = ()


@dataclass(frozen=True)
class TradingHoursCheck:
    allowed: bool
    reason: str


def js_weekday(moment: datetime) -> int:
    """Weekday with Sunday = 0, the convention of the policy tables."""
    return (moment.weekday() + 1) % 7


def check_trading_hours(hours: TradingHours, now: datetime) -> TradingHoursCheck:
    """Day, hour window and blackouts (inclusive) at ``now``; ignores ``enabled`` (the caller decides)."""
    now = now.astimezone(UTC)
    day = js_weekday(now)
    if day not in hours.trading_days:
        return TradingHoursCheck(False, f"{DAY_NAMES[day]} is not a trading day")
    if now.hour < hours.start_hour_utc or now.hour >= hours.end_hour_utc:
        return TradingHoursCheck(
            False, f"Current hour {now.hour} UTC outside {hours.start_hour_utc}-{hours.end_hour_utc}"
        )
    for blackout in hours.blackout_periods:
        if blackout.start <= now <= blackout.end:
            return TradingHoursCheck(False, f"Blackout period: {blackout.name} - {blackout.reason}")
    return TradingHoursCheck(True, "")


@dataclass(frozen=True)
class ExecutionPolicy:
    mode: ExecutionMode
    max_orders_per_minute: int
    max_orders_per_hour: int
    max_daily_volume_cents: int
    max_single_order_size: int
    min_order_spacing_ms: float  # DISABLED uses infinity
    trading_hours: TradingHours
    paper_trade_slippage_cents: int
    require_risk_approval: bool = True
    allowed_market_categories: tuple[str, ...] = ()
    blocked_tickers: tuple[str, ...] = field(default=())
    # §1.5 lifecycle timers of the strategy's policy (§9 execution_policies row), the spec's defaults (ADR 0402)
    stale_order_timeout_sec: float = 300.0
    cancel_on_price_move: float = 0.03  # probability units: 0.03 = 3 cents
    min_fill_pct: float = 0.5
    allow_resubmit: bool = True
    max_resubmits: int = 2
    # §1.4 step 1 pre-trade thresholds and §5.6 VPIN bands of the strategy's policy (§9 row; ADR 0433)
    max_spread_to_trade: float = 0.08  # probability units
    min_depth_to_trade: float = 100.0  # USD within reach of the limit
    max_vpin_to_trade: float = 0.6  # at or above: toxic, no trade
    vpin_normal_threshold: float = 0.3  # at or above (and below toxic): elevated flow
    vpin_elevated_edge_multiplier: float = 1.5  # elevated flow needs this many times the edge for a size
    # the taker fee rate PAPER fills are charged (Kalshi's general fee, ADR 0437); LIVE fills carry the venue's
    paper_fee_rate: float = 0.07


POLICIES: dict[ExecutionMode, ExecutionPolicy] = {
    ExecutionMode.PAPER: ExecutionPolicy(
        ExecutionMode.PAPER, 10, 100, 100_000, 100, 1000, TradingHours(enabled=False), 1
    ),
    ExecutionMode.LIVE: ExecutionPolicy(
        ExecutionMode.LIVE, 5, 50, 50_000, 50, 5000,
        TradingHours(enabled=True, start_hour_utc=13, end_hour_utc=21, trading_days=frozenset({1, 2, 3, 4, 5})),
        0,
    ),
    ExecutionMode.DISABLED: ExecutionPolicy(
        ExecutionMode.DISABLED, 0, 0, 0, 0, math.inf,
        TradingHours(enabled=True, start_hour_utc=0, end_hour_utc=0, trading_days=frozenset()),
        0,
    ),
}


def policy_for_mode(mode: ExecutionMode) -> ExecutionPolicy:
    return POLICIES[mode]


class UnknownPolicyField(DomainError):
    """Raised when an operator policy update names a field the policy does not have."""

    code = "UNKNOWN_POLICY_FIELD"


_POLICY_FIELDS = frozenset(f.name for f in fields(ExecutionPolicy)) - {"mode", "trading_hours"}
_HOURS_FIELDS = frozenset(f.name for f in fields(TradingHours))


def customize_policy(
    base: ExecutionPolicy, changes: Mapping[str, Any], hours_changes: Mapping[str, Any] | None = None
) -> ExecutionPolicy:
    """Operator update: shallow merge, with the trading-hours sub-object merged field by field."""
    unknown = (set(changes) - _POLICY_FIELDS) | (set(hours_changes or {}) - _HOURS_FIELDS)
    if unknown:
        raise UnknownPolicyField(f"unknown policy field(s): {', '.join(sorted(unknown))}")
    hours = replace(base.trading_hours, **dict(hours_changes or {}))
    return replace(base, trading_hours=hours, **dict(changes))
