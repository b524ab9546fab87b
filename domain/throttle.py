"""Execution throttle per strategy (trading §5.1-5.2): order counts and daily notional, event-sourced so a
restart cannot reset the limits."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.execution import RateLimitState, initial_rate_state, record_order, roll_windows
from paulp.domain.namespace import PAULP_NAMESPACE


def throttle_id(strategy: str) -> UUID:
    return uuid5(PAULP_NAMESPACE, f"throttle/{strategy}")


class ExecutionThrottle(Aggregate):
    class Opened(Aggregate.Created):
        strategy: str
        at: datetime

    @staticmethod
    def create_id(strategy: str, at: datetime) -> UUID:
        return throttle_id(strategy)

    id_for = staticmethod(lambda strategy: throttle_id(strategy))

    @event(Opened)
    def __init__(self, strategy: str, at: datetime) -> None:
        self.strategy = strategy
        self.state: RateLimitState = initial_rate_state(at)

    def current(self, now: datetime) -> RateLimitState:
        """Windows rolled to ``now`` (pure: nothing recorded)."""
        return roll_windows(self.state, now)

    def count_order(self, notional_cents: int, now: datetime) -> None:
        self._order_counted(notional_cents, now)

    @event("OrderCounted")
    def _order_counted(self, notional_cents: int, at: datetime) -> None:
        self.state = record_order(self.state, notional_cents, at)
