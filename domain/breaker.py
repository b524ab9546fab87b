"""Circuit breaker (trading §2): the global trading gate, event-sourced so HALT survives restarts.

The aggregate and its events live here (stored events name ``paulp.domain.breaker:CircuitBreaker.*``); the
tables, thresholds and alert rules it decides with are in ``domain/breaker_rules.py`` and re-exported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.breaker_rules import (
    AUTO_RECOVERY_REASON,
    CONSECUTIVE_FAILURES_REASON,
    CONSECUTIVE_FAILURES_TO_HALT,
    ESCALATION,
    HALT_TIMEOUT,
    MANUAL_TRANSITIONS,
    BreakerState,
    InvalidBreakerState,
    InvalidBreakerTransition,
    ReasonRequired,
    ResetRefused,
    Trigger,
    alert_message,
    latched_level,
    parse_state,
    portfolio_alerts,
)
from paulp.domain.drift import DriftReport, check_drift
from paulp.domain.namespace import PAULP_NAMESPACE
from paulp.domain.tail import TailConcentration, tail_concentration

__all__ = [  # the rules callers have always imported from here
    "MANUAL_TRANSITIONS", "BreakerState", "CircuitBreaker", "InvalidBreakerState", "InvalidBreakerTransition",
    "ReasonRequired", "ResetRefused", "Trigger", "parse_state", "portfolio_alerts",
]


class CircuitBreaker(Aggregate):
    """One breaker per scope ("global"); found again after a restart through its uuid5 id."""

    class Created(Aggregate.Created):
        scope: str

    class Transitioned(Aggregate.Event):
        from_state: str
        to_state: str
        reason: str
        actor: str
        trigger: str
        at: datetime
        reset_counter: bool

    class RiskCheckRecorded(Aggregate.Event):
        blocked: bool
        counted: bool
        at: datetime

    class AlertRaised(Aggregate.Event):
        code: str
        severity: str
        message: str
        at: datetime

    class PortfolioAlertsChanged(Aggregate.Event):
        levels: dict[str, str]  # alert code -> highest severity since it last cleared
        total_value: float
        daily_pnl: float
        max_drawdown: float
        at: datetime

    class TailEvaluated(Aggregate.Event):
        hhi: float
        max_pct: float
        count: int
        total_tail_value: float
        compliant: bool
        at: datetime

    class Checkpointed(Aggregate.Event):
        """Everything the breaker knows at this version, so a first load starts here: it gains an event per risk
        check, and replaying 30,000 of them took 0.8 s (ADR 0503). Chained like every other event."""

        scope: str
        created_on: datetime
        state: str
        consecutive_failures: int
        halt_started_at: datetime | None
        last_state_change: datetime | None
        last_alert: str | None
        last_tail_hhi: float | None
        tail_breached: bool
        portfolio_alert_levels: dict[str, str]

    @staticmethod
    def create_id(scope: str) -> UUID:
        return uuid5(PAULP_NAMESPACE, f"breaker/{scope}")

    @event(Created)
    def __init__(self, scope: str) -> None:
        self.scope = scope
        self.state = BreakerState.NORMAL
        self.consecutive_failures = 0
        self.halt_started_at: datetime | None = None
        self.last_state_change: datetime | None = None
        self.last_alert: str | None = None
        self.last_tail_hhi: float | None = None
        self.tail_breached = False  # the last recorded tail evaluation was non-compliant (the latch, ADR 0325)
        self.portfolio_alert_levels: dict[str, str] = {}
        self.checkpointed_at = 0  # the version of the last Checkpointed event (0: none yet)

    # ----------------------------------------------------------------- commands (decide)

    def checkpoint_if_due(self, every: int) -> bool:
        """Restate the state once ``every`` events have followed the last checkpoint (or the breaker's start)."""
        if self.version - self.checkpointed_at < every:
            return False
        self._checkpointed(self.scope, self.created_on, self.state.value, self.consecutive_failures,
                           self.halt_started_at, self.last_state_change, self.last_alert, self.last_tail_hhi,
                           self.tail_breached, dict(self.portfolio_alert_levels))
        return True

    def expire_halt(self, now: datetime) -> bool:
        """Move HALT to RECOVERY once the halt is older than 60 minutes (strictly)."""
        if (
            self.state is BreakerState.HALT
            and self.halt_started_at is not None
            and now - self.halt_started_at > HALT_TIMEOUT
        ):
            self._move(BreakerState.RECOVERY, AUTO_RECOVERY_REASON, "system", Trigger.TIMEOUT, now)
            return True
        return False

    def transition(self, target: str, reason: str, actor: str, now: datetime) -> BreakerState:
        """Operator transition through the manual table; returns the previous state."""
        to = parse_state(target)
        if not reason or not reason.strip():
            raise ReasonRequired("Reason required for state transition")
        self.expire_halt(now)
        previous = self.state
        if to not in MANUAL_TRANSITIONS[previous]:
            raise InvalidBreakerTransition(f"Invalid transition from {previous} to {to}")
        self._move(to, reason, actor, Trigger.MANUAL, now)
        return previous

    def reset(self, reason: str, force: bool, actor: str, now: datetime) -> BreakerState:
        """Return to NORMAL from anywhere and clear the counter; HALT needs force."""
        if not reason or not reason.strip():
            raise ReasonRequired("Reason required for state transition")
        self.expire_halt(now)
        previous = self.state
        if previous is BreakerState.HALT and not force:
            raise ResetRefused("Cannot reset from HALT without force flag")
        self._transitioned(previous, BreakerState.NORMAL, reason, actor, Trigger.RESET, now, True)
        return previous

    def record_risk_check(self, blocked: bool, now: datetime, counted: bool = True) -> None:
        """Count blocked checks; three in a row halt (never re-entering HALT, item 1)."""
        self.expire_halt(now)
        self._risk_check_recorded(blocked, counted, now)
        if (
            blocked
            and counted
            and self.consecutive_failures >= CONSECUTIVE_FAILURES_TO_HALT
            and self.state is not BreakerState.HALT
        ):
            self._move(BreakerState.HALT, CONSECUTIVE_FAILURES_REASON, "risk-governor", Trigger.RISK_CHECKS, now)

    def raise_alert(self, code: str, severity: str, now: datetime, message: str = "") -> None:
        """Record an alert; a critical one escalates one step, a warning is only recorded."""
        self.expire_halt(now)
        self._alert_raised(code, severity, message, now)
        if severity == "critical":
            self._escalate(f"Critical alert: {code}", Trigger.ALERT, now)

    def portfolio_update(
        self,
        total_value: float,
        daily_pnl: float,
        max_drawdown: float,
        positions: Iterable[Mapping[str, Any]],
        now: datetime,
    ) -> TailConcentration:
        """Alerts, then tail concentration, each critical finding escalating one step (items 3-4)."""
        self.expire_halt(now)
        for alert in portfolio_alerts(total_value, daily_pnl, max_drawdown):
            self.raise_alert(alert.code, alert.severity, now)
        tail = tail_concentration(positions)
        if tail.count:
            self._tail_evaluated(tail.hhi, tail.max_pct, tail.count, tail.total_tail_value, tail.compliant, now)
            if not tail.compliant:
                self._escalate("Tail concentration breach", Trigger.TAIL, now)
        return tail

    def portfolio_valued(
        self,
        total_value: float,
        daily_pnl: float,
        max_drawdown: float,
        now: datetime,
        positions: Iterable[Mapping[str, Any]] = (),
    ) -> bool:
        """A scheduled valuation of the book as a portfolio update (§2.3; ADRs 0301, 0325), latched so it does
        not flap: an alert or a tail-concentration breach escalates when it appears (or an alert rises from
        warning to critical), not again on every valuation that finds it still there; an alert is re-armed once
        its figure is back below its warning threshold, a breach once the tail book is compliant (HHI < 0.3).
        Returns whether anything changed (and was recorded)."""
        self.expire_halt(now)
        alerts = self._latch_alerts(total_value, daily_pnl, max_drawdown, now)
        return self._latch_tail(tail_concentration(positions), now) or alerts

    def _latch_alerts(self, total_value: float, daily_pnl: float, max_drawdown: float, now: datetime) -> bool:
        found = {a.code: a.severity for a in portfolio_alerts(total_value, daily_pnl, max_drawdown)}
        before = self.portfolio_alert_levels
        levels = {code: latched_level(before.get(code), severity) for code, severity in found.items()}
        if levels == before:
            return False
        self._portfolio_alerts_changed(levels, total_value, daily_pnl, max_drawdown, now)
        for code, severity in levels.items():
            if before.get(code) != severity:
                self.raise_alert(code, severity, now, alert_message(code, total_value, daily_pnl, max_drawdown))
        return True

    def _latch_tail(self, tail: TailConcentration, now: datetime) -> bool:
        if tail.compliant != self.tail_breached:
            return False  # no change: a standing breach is not escalated again, a compliant book records nothing
        self._tail_evaluated(tail.hhi, tail.max_pct, tail.count, tail.total_tail_value, tail.compliant, now)
        if not tail.compliant:
            self._escalate("Tail concentration breach", Trigger.TAIL, now)
        return True

    def position_drift_check(
        self, expected: Iterable[Mapping[str, Any]], broker: Iterable[Mapping[str, Any]], now: datetime
    ) -> DriftReport:
        """Expected-vs-broker drift: >= 5 % (or an orphan) halts, >= 2 % cautions from NORMAL."""
        self.expire_halt(now)
        report = check_drift(expected, broker)
        if any(d.drift_pct > 0 for d in report.drifts):
            severity = "critical" if report.critical_count else "warning"
            self._alert_raised("POSITION_DRIFT", severity, f"max drift {report.max_drift_pct:.2f}%", now)
        self._apply_drift(report.critical_count > 0, report.warning_count > 0, now)
        return report

    def reconciliation_status(self, status: str, now: datetime) -> None:
        """A reconciliation run's status takes the same drift path as the governor's check (item 5)."""
        self.expire_halt(now)
        if status in ("critical_drift", "major_drift"):
            severity = "critical" if status == "critical_drift" else "warning"
            self._alert_raised("RECONCILIATION_DRIFT", severity, status, now)
        self._apply_drift(status == "critical_drift", status == "major_drift", now)

    def trip(self, reason: str, actor: str, now: datetime) -> bool:
        """Halt at once on a control failure (audit chain break, §5.5); internal, so the table is bypassed."""
        self.expire_halt(now)
        if self.state is BreakerState.HALT:
            return False
        self._move(BreakerState.HALT, reason, actor, Trigger.CONTROL, now)
        return True

    def _apply_drift(self, critical: bool, warning: bool, now: datetime) -> None:
        if critical and self.state is not BreakerState.HALT:
            self._move(BreakerState.HALT, "Critical position drift", "risk-governor", Trigger.DRIFT, now)
        elif warning and self.state is BreakerState.NORMAL:
            self._move(BreakerState.CAUTION, "Position drift warning", "risk-governor", Trigger.DRIFT, now)

    def _escalate(self, reason: str, trigger: Trigger, now: datetime) -> None:
        target = ESCALATION[self.state]
        if target is not None:
            self._move(target, reason, "risk-governor", trigger, now)

    def _move(self, to: BreakerState, reason: str, actor: str, trigger: Trigger, now: datetime) -> None:
        if to is self.state:
            return  # never a self-transition: it would restart the HALT timer (item 1)
        self._transitioned(self.state, to, reason, actor, trigger, now, False)

    # ----------------------------------------------------------------- events (apply)

    @event(Transitioned)
    def _transitioned(
        self,
        from_state: str,
        to_state: str,
        reason: str,
        actor: str,
        trigger: str,
        at: datetime,
        reset_counter: bool,
    ) -> None:
        self.state = BreakerState(to_state)
        self.last_state_change = at
        if self.state is BreakerState.HALT:
            self.halt_started_at = at
        elif self.state in (BreakerState.NORMAL, BreakerState.RECOVERY):
            self.halt_started_at = None
        if reset_counter:
            self.consecutive_failures = 0

    @event(RiskCheckRecorded)
    def _risk_check_recorded(self, blocked: bool, counted: bool, at: datetime) -> None:
        if not blocked:
            self.consecutive_failures = 0
        elif counted:
            self.consecutive_failures += 1

    @event(AlertRaised)
    def _alert_raised(self, code: str, severity: str, message: str, at: datetime) -> None:
        self.last_alert = code

    @event(PortfolioAlertsChanged)
    def _portfolio_alerts_changed(self, levels: dict[str, str], total_value: float, daily_pnl: float,
                                  max_drawdown: float, at: datetime) -> None:
        self.portfolio_alert_levels = dict(levels)

    @event(TailEvaluated)
    def _tail_evaluated(
        self, hhi: float, max_pct: float, count: int, total_tail_value: float, compliant: bool, at: datetime
    ) -> None:
        self.last_tail_hhi = hhi
        self.tail_breached = not compliant

    @event(Checkpointed)
    def _checkpointed(self, scope: str, created_on: datetime, state: str, consecutive_failures: int,
                      halt_started_at: datetime | None, last_state_change: datetime | None, last_alert: str | None,
                      last_tail_hhi: float | None, tail_breached: bool, portfolio_alert_levels: dict[str, str]) -> None:
        """Sets the whole state: live it restates it; on a load it is where the breaker starts (``resume``). Runs
        before the library moves ``version`` to this event's, hence the ``+ 1``."""
        self.scope, self.state, self.consecutive_failures = scope, BreakerState(state), consecutive_failures
        self.halt_started_at, self.last_state_change, self.last_alert = halt_started_at, last_state_change, last_alert
        self.last_tail_hhi, self.tail_breached = last_tail_hhi, tail_breached
        self.portfolio_alert_levels = dict(portfolio_alert_levels)
        self.checkpointed_at = self.version + 1
