"""breaker_state view: current breaker state, its transition history, alerts, and what portfolio valuations
concluded (latched alert levels, tail concentration)."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from psycopg import Cursor
from psycopg.types.json import Jsonb

from paulp.domain.breaker import BreakerState, CircuitBreaker


def _insert_scoped(cur: Cursor[Any], table: str, values: dict[str, Any], notification_id: int,
                   breaker_id: object) -> None:
    """One history row of the breaker's scope (read from its state row), keyed by the event's position."""
    columns = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    cur.execute(
        f"INSERT INTO {table} (notification_id, scope, {columns}) SELECT %s, scope, {marks}"
        " FROM breaker_state WHERE breaker_id = %s ON CONFLICT DO NOTHING",
        (notification_id, *values.values(), breaker_id),
    )


class BreakerStateProjection:
    name = "breaker_state"
    tables = ("breaker_state", "breaker_transitions", "breaker_alerts", "breaker_tail_snapshots",
              "breaker_portfolio_alerts")

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events this view does not show."""

    @apply.register
    def _(self, event: CircuitBreaker.Created, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "INSERT INTO breaker_state (scope, breaker_id, state, consecutive_failures, last_notification_id)"
            " VALUES (%s, %s, %s, 0, %s) ON CONFLICT (scope) DO NOTHING",
            (event.scope, event.originator_id, BreakerState.NORMAL.value, notification_id),
        )

    @apply.register
    def _(self, event: CircuitBreaker.Transitioned, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "UPDATE breaker_state SET state = %(to)s, last_state_change = %(at)s, last_reason = %(reason)s,"
            " last_actor = %(actor)s, halt_started_at = CASE %(to)s WHEN 'HALT' THEN %(at)s"
            " WHEN 'CAUTION' THEN halt_started_at ELSE NULL END,"
            " consecutive_failures = CASE WHEN %(reset)s THEN 0 ELSE consecutive_failures END,"
            " last_notification_id = %(nid)s WHERE breaker_id = %(id)s",
            {
                "to": event.to_state,
                "at": event.at,
                "reason": event.reason,
                "actor": event.actor,
                "reset": event.reset_counter,
                "nid": notification_id,
                "id": event.originator_id,
            },
        )
        _insert_scoped(cur, "breaker_transitions", {
            "from_state": event.from_state, "to_state": event.to_state, "reason": event.reason, "actor": event.actor,
            "trigger": event.trigger, "at": event.at}, notification_id, event.originator_id)

    @apply.register
    def _(self, event: CircuitBreaker.RiskCheckRecorded, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "UPDATE breaker_state SET consecutive_failures = CASE WHEN NOT %(blocked)s THEN 0"
            " WHEN %(counted)s THEN consecutive_failures + 1 ELSE consecutive_failures END,"
            " last_notification_id = %(nid)s WHERE breaker_id = %(id)s",
            {"blocked": event.blocked, "counted": event.counted, "nid": notification_id, "id": event.originator_id},
        )

    @apply.register
    def _(self, event: CircuitBreaker.Checkpointed, cur: Cursor[Any], notification_id: int) -> None:
        """The breaker's own count at its checkpoint (ADR 0503): the count this row has folded so far, restated."""
        cur.execute(
            "UPDATE breaker_state SET consecutive_failures = %s, last_notification_id = %s WHERE breaker_id = %s",
            (event.consecutive_failures, notification_id, event.originator_id),
        )

    @apply.register
    def _(self, event: CircuitBreaker.AlertRaised, cur: Cursor[Any], notification_id: int) -> None:
        _insert_scoped(cur, "breaker_alerts", {
            "code": event.code, "severity": event.severity, "message": event.message, "at": event.at},
            notification_id, event.originator_id)


    @apply.register
    def _(self, event: CircuitBreaker.TailEvaluated, cur: Cursor[Any], notification_id: int) -> None:
        _insert_scoped(cur, "breaker_tail_snapshots", {
            "herfindahl": event.hhi, "max_position_pct": event.max_pct, "position_count": event.count,
            "total_tail_value": event.total_tail_value, "compliant": event.compliant, "at": event.at},
            notification_id, event.originator_id)

    @apply.register
    def _(self, event: CircuitBreaker.PortfolioAlertsChanged, cur: Cursor[Any], notification_id: int) -> None:
        _insert_scoped(cur, "breaker_portfolio_alerts", {
            "levels": Jsonb(event.levels), "total_value": event.total_value, "daily_pnl": event.daily_pnl,
            "max_drawdown": event.max_drawdown, "at": event.at}, notification_id, event.originator_id)
