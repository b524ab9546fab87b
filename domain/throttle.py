"""Execution throttle (trading §5.1-5.2): order counts and daily notional, event-sourced so a restart cannot
reset the limits. One per venue and execution mode, shared by every strategy (ADR 0307): §5.2's rate-limit
state is the execution service's, so LIVE's 5 orders a minute and 500 USD a day bind all LIVE orders together.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.execution import RateLimitState, initial_rate_state, record_order, roll_windows
from paulp.domain.execution_policy import ExecutionMode
from paulp.domain.namespace import PAULP_NAMESPACE

VENUE = "kalshi"  # the only venue the pipeline executes on


def throttle_scope(mode: ExecutionMode, venue: str = VENUE) -> str:
    """The throttle an order in ``mode`` counts on: the venue's, for that mode, whatever its strategy."""
    return f"{venue}/{mode.value}"


def throttle_id(scope: str) -> UUID:
    return uuid5(PAULP_NAMESPACE, f"throttle/{scope}")


class ExecutionThrottle(Aggregate):
    class Opened(Aggregate.Created):
        """v2 renames ``strategy`` to ``scope``: v1 throttles were per strategy (before ADR 0307)."""

        class_version = 2
        scope: str
        at: datetime

        @staticmethod
        def upcast_v1_v2(state: dict[str, object]) -> None:
            state["scope"] = state.pop("strategy")

    class Checkpointed(Aggregate.Event):
        """The counters at this version, so a first load starts here: a throttle gains an event per counted order
        (ADR 0503). Chained like every other event."""

        scope: str
        created_on: datetime
        orders_this_minute: int
        orders_this_hour: int
        volume_today: int
        last_order_ms: int
        minute_window_start_ms: int
        hour_window_start_ms: int
        day_window_start_ms: int

    @staticmethod
    def create_id(scope: str, at: datetime) -> UUID:
        return throttle_id(scope)

    id_for = staticmethod(lambda scope: throttle_id(scope))

    @event(Opened)
    def __init__(self, scope: str, at: datetime) -> None:
        self.scope = scope
        self.state: RateLimitState = initial_rate_state(at)
        self.checkpointed_at = 0  # the version of the last Checkpointed event (0: none yet)

    def current(self, now: datetime) -> RateLimitState:
        """Windows rolled to ``now`` (pure: nothing recorded)."""
        return roll_windows(self.state, now)

    def count_order(self, notional_cents: int, now: datetime) -> None:
        self._order_counted(notional_cents, now)

    def checkpoint_if_due(self, every: int) -> bool:
        """Restate the counters once ``every`` events have followed the last checkpoint (or the throttle's start)."""
        if self.version - self.checkpointed_at < every:
            return False
        self._checkpointed(self.scope, self.created_on, **asdict(self.state))
        return True

    @event("OrderCounted")
    def _order_counted(self, notional_cents: int, at: datetime) -> None:
        self.state = record_order(self.state, notional_cents, at)

    @event(Checkpointed)
    def _checkpointed(self, scope: str, created_on: datetime, orders_this_minute: int, orders_this_hour: int,
                      volume_today: int, last_order_ms: int, minute_window_start_ms: int, hour_window_start_ms: int,
                      day_window_start_ms: int) -> None:
        """Sets the whole state (``resume`` starts a load here); ``+ 1``: the library moves ``version`` after."""
        self.scope = scope
        self.state = RateLimitState(orders_this_minute, orders_this_hour, volume_today, last_order_ms,
                                    minute_window_start_ms, hour_window_start_ms, day_window_start_ms)
        self.checkpointed_at = self.version + 1
