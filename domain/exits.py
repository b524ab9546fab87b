"""Position exit rules (trading §3.5): stop-loss, take-profit and the 168 h holding limit.

Prices are side-native (the held contract's own price, cents), so one rule serves YES and NO and
``pnl = (exit - entry) * size`` for both sides (normative; the source monitor flipped NO's sign).
Thresholds are compared in decimal arithmetic on the prices' shortest decimal form, so a price of
exactly entry * 0.97 (48.5 for 50) is a stop whatever binary rounding would say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import TypeVar

from paulp.domain.errors import DomainError
from paulp.domain.exact import as_written
from paulp.domain.exact import as_written_decimal as _dec

STOP_LOSS_FACTOR = Decimal("0.97")
TAKE_PROFIT_FACTOR = Decimal("1.5")
MAX_HOLDING_HOURS = 168.0
_Exact = TypeVar("_Exact", Decimal, Fraction)


class InvalidExitInput(DomainError):
    """Raised when an exit is evaluated with a non-positive entry price or a negative size."""

    code = "INVALID_EXIT_INPUT"


class PositionNotOpen(DomainError):
    """Raised when an operator closes a position that holds no contracts (or was never held)."""

    code = "POSITION_NOT_OPEN"


class CloseRefused(DomainError):
    """Raised when an operator's close cannot be carried out safely now (resolved market, no fresh two-sided
    mark, nothing held at the venue, an earlier sell still resting); nothing is recorded."""

    code = "CLOSE_REFUSED"


class ExitReason(StrEnum):
    STOP_LOSS_HIT = "STOP_LOSS_HIT"
    TAKE_PROFIT_HIT = "TAKE_PROFIT_HIT"
    TIME_LIMIT_EXCEEDED = "TIME_LIMIT_EXCEEDED"
    OPERATOR_CLOSE = "OPERATOR_CLOSE"  # an operator closed the position by hand (ADR 0440): no rule fired


class ExitPricing(StrEnum):
    """Where an exit is booked: the monitor books the observed price, the harness the trigger level."""

    OBSERVED = "observed"
    TRIGGER = "trigger"


@dataclass(frozen=True)
class ExitLevels:
    stop_loss: float
    take_profit: float


@dataclass(frozen=True)
class ExitDecision:
    reason: ExitReason
    exit_price: float
    realized_pnl: float


def exit_levels(entry_price: float) -> ExitLevels:
    entry = _dec(entry_price)
    return ExitLevels(float(entry * STOP_LOSS_FACTOR), float(entry * TAKE_PROFIT_FACTOR))


def holding_hours(entered_at: datetime, now: datetime) -> float:
    return (now - entered_at).total_seconds() / 3600.0


def realized_pnl(entry_price: float, exit_price: float, size: float) -> float:
    """Same formula for both sides because both prices are the held side's own."""
    return float((_dec(exit_price) - _dec(entry_price)) * _dec(size))


def operator_close(entry_price: float, current_price: float, size: float) -> ExitDecision:
    """An operator's close, booked at the observed price like the monitor's exits (ADR 0440)."""
    if entry_price <= 0 or size < 0:
        raise InvalidExitInput(f"entry {entry_price}, size {size}")
    return ExitDecision(ExitReason.OPERATOR_CLOSE, float(current_price),
                        realized_pnl(entry_price, current_price, size))


def evaluate_exit(
    entry_price: float | Fraction,
    current_price: float,
    held_hours: float,
    size: float,
    pricing: ExitPricing = ExitPricing.OBSERVED,
) -> ExitDecision | None:
    """Stop first, then take-profit, then time (exactly 168 h does not exit); None means hold. An average entry may
    be given exactly, as a ``Fraction`` (cost / contracts): 3 contracts costing 100 cents have a take-profit of
    exactly 50, which the float 33.333333333333336 put at 50.000000000000004 (ADR 0460)."""
    if entry_price <= 0 or size < 0:
        raise InvalidExitInput(f"entry {entry_price}, size {size}")
    if isinstance(entry_price, Fraction):  # the exact entry keeps every figure exact: rationals throughout
        entry_x, price_x, size_x = entry_price, as_written(current_price), as_written(size)
        return _decide(entry_x, price_x, size_x, entry_x * Fraction(STOP_LOSS_FACTOR),
                       entry_x * Fraction(TAKE_PROFIT_FACTOR), held_hours, pricing)
    entry = _dec(entry_price)
    return _decide(entry, _dec(current_price), _dec(size), entry * STOP_LOSS_FACTOR, entry * TAKE_PROFIT_FACTOR,
                   held_hours, pricing)


def _decide(entry: _Exact, price: _Exact, size: _Exact, stop: _Exact, target: _Exact, held_hours: float,
            pricing: ExitPricing) -> ExitDecision | None:
    """The §3.5 rules, one body for decimal figures and for an exact entry's rationals so the two cannot drift."""
    if price <= stop:
        reason, trigger = ExitReason.STOP_LOSS_HIT, stop
    elif price >= target:
        reason, trigger = ExitReason.TAKE_PROFIT_HIT, target
    elif held_hours > MAX_HOLDING_HOURS:
        reason, trigger = ExitReason.TIME_LIMIT_EXCEEDED, price
    else:
        return None
    booked = trigger if pricing is ExitPricing.TRIGGER else price
    return ExitDecision(reason, float(booked), float((booked - entry) * size))
