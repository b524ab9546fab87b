"""Breaker context: operator and automatic commands on the one global circuit breaker."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from eventsourcing.domain import Aggregate

from paulp.domain.breaker import BreakerState, CircuitBreaker
from paulp.domain.checkpoints import CHECKPOINT_EVERY, resume
from paulp.domain.clock import Clock
from paulp.domain.distinct_alerts import DistinctAlert
from paulp.domain.services.base import PaulpApplication
from paulp.domain.webhook_alerts import AlertOutcome, WebhookAlert

GLOBAL_SCOPE = "global"
RESUME = partial(resume, CircuitBreaker, CircuitBreaker.Checkpointed)


@dataclass(frozen=True)
class TransitionResult:
    previous_state: BreakerState
    new_state: BreakerState
    reason: str
    at: datetime
    notification_id: int


class BreakerService(PaulpApplication):
    """Every command first lets a stale HALT expire (§2.3), then saves all resulting events at once.

    The one breaker gains an event per risk check, so it grows with every order, and each order loads it at least
    twice: replayed from the log each time (26 µs an event here), the trade path was quadratic in orders, 0.77 s
    per load at 30,000 events (ADR 0502). The aggregate cache keeps it in memory and fast-forwards it from the log
    on every load (one query for the events since, then a copy), so other processes' changes are still seen.
    A process's first load starts from the breaker's last checkpoint, which every save adds once due (ADR 0503)."""

    def __init__(self, env: Mapping[str, str] | None, clock: Clock) -> None:
        super().__init__({"AGGREGATE_CACHE_MAXSIZE": "4", **(env or {})}, clock)

    def _load(self) -> CircuitBreaker:
        breaker: CircuitBreaker = (
            self.get_checkpointed(CircuitBreaker.create_id(GLOBAL_SCOPE), CircuitBreaker.Checkpointed, RESUME)
            or CircuitBreaker(scope=GLOBAL_SCOPE))
        return breaker

    def _save(self, breaker: CircuitBreaker, *others: Aggregate) -> int:
        """The breaker (checkpointed when due) and the aggregates keyed to its change, in one transaction."""
        breaker.checkpoint_if_due(CHECKPOINT_EVERY)
        return self.last_notification_id(self.save(breaker, *others))

    def get(self) -> CircuitBreaker:
        return self._load()

    def transition(self, target: str, reason: str, actor: str) -> TransitionResult:
        def command() -> TransitionResult:
            breaker, now = self._load(), self.clock.now()
            previous = breaker.transition(target, reason, actor, now)
            nid = self._save(breaker)
            return TransitionResult(previous, breaker.state, reason, now, nid)

        return self.retry_on_conflict(command)

    def reset(self, reason: str, force: bool, actor: str) -> TransitionResult:
        def command() -> TransitionResult:
            breaker, now = self._load(), self.clock.now()
            previous = breaker.reset(reason, force, actor, now)
            nid = self._save(breaker)
            return TransitionResult(previous, breaker.state, reason, now, nid)

        return self.retry_on_conflict(command)

    def record_risk_check(self, blocked: bool, counted: bool = True) -> BreakerState:
        def command() -> BreakerState:
            breaker = self._load()
            breaker.record_risk_check(blocked, self.clock.now(), counted)
            self._save(breaker)
            return breaker.state

        return self.retry_on_conflict(command)

    def raise_alert(self, code: str, severity: str, message: str = "") -> BreakerState:
        def command() -> BreakerState:
            breaker = self._load()
            breaker.raise_alert(code, severity, self.clock.now(), message)
            self._save(breaker)
            return breaker.state

        return self.retry_on_conflict(command)

    def raise_alert_once(self, code: str, severity: str, message: str) -> bool:
        """Raise the alert unless one with the same code and message was raised before (ADR 0526): whether it
        was raised now. The alert and its ``DistinctAlert`` are saved together, so two raising it at once
        conflict and the loser finds it raised."""

        def command() -> bool:
            if self.get_or_none(DistinctAlert.create_id(code, message)) is not None:
                return False
            breaker, now = self._load(), self.clock.now()
            breaker.raise_alert(code, severity, now, message)
            self._save(breaker, DistinctAlert(code, message, now))
            return True

        return self.retry_on_conflict(command)

    def webhook_alert(self, key: str, source: str, message: str) -> AlertOutcome:
        """A critical ``/webhooks/alert`` body (natural key ``key``): escalates once; the same body again within
        its window is answered with the first outcome and records nothing (ADR 0524). The alert and the breaker
        are saved together, so two deliveries at once conflict and the loser finds the winner's outcome."""

        def command() -> AlertOutcome:
            now = self.clock.now()
            alert: WebhookAlert = self.get_or_none(WebhookAlert.create_id(key)) or WebhookAlert(key, source, message)
            repeat = alert.repeat_of(now)
            if repeat is not None:
                return repeat
            breaker = self._load()
            before = breaker.state
            breaker.raise_alert("WEBHOOK_ALERT", "critical", now, f"{source}: {message}")
            outcome = alert.acted(before.value, breaker.state.value, now)
            self._save(breaker, alert)
            return outcome

        return self.retry_on_conflict(command)

    def portfolio_valued(self, total_value: float, daily_pnl: float, max_drawdown: float,
                         positions: Iterable[Mapping[str, Any]] = ()) -> tuple[bool, BreakerState]:
        """The scheduled valuation of the book (§2.3 portfolio update, latched; ADRs 0301, 0325): saved only
        when its alerts or its tail-concentration breach changed; returns whether they did and the state after."""
        held = tuple(positions)

        def command() -> tuple[bool, BreakerState]:
            breaker, now = self._load(), self.clock.now()
            expired = breaker.expire_halt(now)
            changed = breaker.portfolio_valued(total_value, daily_pnl, max_drawdown, now, held)
            if changed or expired:
                self._save(breaker)
            return changed, breaker.state

        return self.retry_on_conflict(command)

    def reconciliation_status(self, status: str) -> BreakerState:
        """A reconciliation run's status: alert and drift path of §2.3 item 5 (HALT at critical)."""

        def command() -> BreakerState:
            breaker = self._load()
            breaker.reconciliation_status(status, self.clock.now())
            self._save(breaker)
            return breaker.state

        return self.retry_on_conflict(command)

    def trip(self, reason: str, actor: str) -> bool:
        """Internal HALT on a failed hard control (e.g. a broken audit chain)."""

        def command() -> bool:
            breaker = self._load()
            tripped = breaker.trip(reason, actor, self.clock.now())
            if tripped:
                self._save(breaker)
            return tripped

        return self.retry_on_conflict(command)

    def tick(self) -> int:
        """Scheduled command: expire a HALT older than 60 minutes; returns the notification id or 0."""

        def command() -> int:
            breaker = self._load()
            if breaker.expire_halt(self.clock.now()):
                return self._save(breaker)
            return 0

        return self.retry_on_conflict(command)
