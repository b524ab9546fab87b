"""Circuit breaker rules (trading §2): states, the manual and escalation tables, thresholds and portfolio alerts.

Pure values and functions the ``CircuitBreaker`` aggregate (``domain/breaker.py``) decides with; no events live
here, so no stored topic names this module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum

from paulp.domain.errors import DomainError
from paulp.domain.exact import as_written_decimal as _dec

HALT_TIMEOUT = timedelta(minutes=60)
CONSECUTIVE_FAILURES_TO_HALT = 3
AUTO_RECOVERY_REASON = "Auto-recovery: HALT timeout"
CONSECUTIVE_FAILURES_REASON = "Consecutive risk check failures"


class BreakerState(StrEnum):
    NORMAL = "NORMAL"
    CAUTION = "CAUTION"
    HALT = "HALT"
    RECOVERY = "RECOVERY"


class Trigger(StrEnum):
    """Why a transition happened; manual ones obey the table, the rest bypass it (§2.3)."""

    MANUAL = "manual"
    RESET = "reset"
    RISK_CHECKS = "risk_checks"
    ALERT = "alert"
    TAIL = "tail_concentration"
    DRIFT = "position_drift"
    TIMEOUT = "halt_timeout"
    CONTROL = "control_failure"


MANUAL_TRANSITIONS: Mapping[BreakerState, frozenset[BreakerState]] = {
    BreakerState.NORMAL: frozenset({BreakerState.CAUTION, BreakerState.HALT}),
    BreakerState.CAUTION: frozenset({BreakerState.NORMAL, BreakerState.HALT, BreakerState.RECOVERY}),
    BreakerState.HALT: frozenset({BreakerState.RECOVERY}),
    BreakerState.RECOVERY: frozenset({BreakerState.NORMAL, BreakerState.CAUTION, BreakerState.HALT}),
}

# One escalation step for a critical alert or a tail breach (§2.3, resolution item 3).
ESCALATION: Mapping[BreakerState, BreakerState | None] = {
    BreakerState.NORMAL: BreakerState.CAUTION,
    BreakerState.CAUTION: BreakerState.HALT,
    BreakerState.RECOVERY: BreakerState.CAUTION,
    BreakerState.HALT: None,
}

DAILY_LOSS_ALERT_PCT = 2.0
DAILY_LOSS_CRITICAL_PCT = 3.0  # base maxDailyLossPct
DRAWDOWN_ALERT_PCT = 7.0
DRAWDOWN_CRITICAL_PCT = 10.0  # base maxDrawdownPct


class InvalidBreakerState(DomainError):
    """Raised when a target is not one of the four breaker states."""

    code = "invalid_target_state"


class ReasonRequired(DomainError):
    """Raised when an operator transition or reset has no reason."""

    code = "reason_required"


class InvalidBreakerTransition(DomainError):
    """Raised when the manual transition table does not allow the move."""

    code = "invalid_transition"


class ResetRefused(DomainError):
    """Raised when a reset from HALT is attempted without the force flag."""

    code = "reset_requires_force"


@dataclass(frozen=True)
class Alert:
    code: str
    severity: str  # "critical" | "warning"


def parse_state(value: str) -> BreakerState:
    """The state an operator named, or InvalidBreakerState."""
    try:
        return BreakerState(value)
    except ValueError:
        raise InvalidBreakerState("Invalid target state") from None


def portfolio_alerts(total_value: float, daily_pnl: float, max_drawdown: float) -> list[Alert]:
    """Daily-loss and drawdown alerts of a portfolio update (§2.3)."""
    alerts: list[Alert] = []
    loss = max(0.0, -daily_pnl)
    # A loss against no positive portfolio value is unbounded (the spec's formula gives +inf), never 0 %: the alert
    # fails closed, as I5 does (ADRs 0121, 0340).
    # The bands are judged in decimal (ADR 0452): 2.997 lost of 99.9 is exactly 3 %, critical (binary: 2.9999…6).
    # A NaN figure makes the share unknown: read as unbounded (critical), never as no alert.
    if math.isnan(daily_pnl) or math.isnan(total_value) or math.isinf(loss):
        daily_loss_pct = Decimal("Infinity")
    elif total_value > 0:
        daily_loss_pct = _dec(loss) / _dec(total_value) * 100
    else:
        daily_loss_pct = Decimal("Infinity") if loss > 0 else Decimal(0)
    if daily_loss_pct >= _dec(DAILY_LOSS_ALERT_PCT):
        sev = "critical" if daily_loss_pct >= _dec(DAILY_LOSS_CRITICAL_PCT) else "warning"
        alerts.append(Alert("DAILY_LOSS_ALERT", sev))
    drawdown_pct = Decimal("Infinity") if math.isnan(max_drawdown) else _dec(max_drawdown) * 100
    if drawdown_pct >= _dec(DRAWDOWN_ALERT_PCT):
        sev = "critical" if drawdown_pct >= _dec(DRAWDOWN_CRITICAL_PCT) else "warning"
        alerts.append(Alert("DRAWDOWN_ALERT", sev))
    return alerts


def latched_level(latched: str | None, severity: str) -> str:
    """The higher of a latched severity and a new one: a latch only rises until it clears (ADR 0301)."""
    return "critical" if "critical" in (latched, severity) else severity


def alert_message(code: str, total_value: float, daily_pnl: float, max_drawdown: float) -> str:
    """The figure behind a portfolio alert, for its AlertRaised message."""
    if code == "DAILY_LOSS_ALERT":
        return f"daily PnL {daily_pnl:.2f} USD of {total_value:.2f} USD"
    return f"drawdown {max_drawdown * 100:.2f}%"
