"""strategies view: each strategy's own status, the go-live it last saw, and its latest go-live terms.

The shown status is computed on read (``live`` when ``live_version > golive_seen``), the same rule the
registry's commands decide with (ADR 0255).
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any
from uuid import UUID

from psycopg import Cursor
from psycopg.types.json import Jsonb

from paulp.domain.golive import GoLiveApproval
from paulp.domain.strategy_registry import CATALOGUE, Strategy, StrategyInfo

_BY_STRATEGY_UUID: dict[UUID, StrategyInfo] = {Strategy.create_id(i.id): i for i in CATALOGUE}
_BY_GOLIVE_UUID: dict[UUID, StrategyInfo] = {GoLiveApproval.create_id(i.id): i for i in CATALOGUE}


def _strategy(table: dict[UUID, StrategyInfo], originator_id: UUID) -> StrategyInfo:
    info = table.get(originator_id)
    if info is None:  # no command creates either aggregate for a strategy outside the catalogue
        raise LookupError(f"event for unknown strategy aggregate {originator_id}")
    return info


class StrategiesProjection:
    name = "strategies"
    tables = ("strategies",)

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events this view does not show."""

    @apply.register
    def _(self, e: Strategy.Registered, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "INSERT INTO strategies (strategy_id, own_status, updated_at, last_notification_id)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (strategy_id) DO NOTHING",
            (e.strategy_id, e.initial_status, e.timestamp, notification_id),
        )

    @apply.register
    def _(self, e: Strategy.StatusChanged, cur: Cursor[Any], notification_id: int) -> None:
        info = _strategy(_BY_STRATEGY_UUID, e.originator_id)
        cur.execute(
            "UPDATE strategies SET own_status = %s, golive_seen = %s, status_changed_at = %s, status_changed_by = %s,"
            " status_reason = %s, updated_at = %s, last_notification_id = %s WHERE strategy_id = %s",
            (e.to_status, e.golive_seen, e.at, e.actor, e.reason, e.at, notification_id, info.id),
        )

    @apply.register
    def _(self, e: GoLiveApproval.WentLive, cur: Cursor[Any], notification_id: int) -> None:
        info = _strategy(_BY_GOLIVE_UUID, e.originator_id)
        cur.execute(
            "INSERT INTO strategies (strategy_id, own_status, live_version, max_capital_allocation_usd, approved_by,"
            " approved_at, live_actors, updated_at, last_notification_id)"
            " VALUES (%(id)s, %(initial)s, %(v)s, %(capital)s, %(by)s, %(at)s, %(actors)s, %(at)s, %(nid)s)"
            " ON CONFLICT (strategy_id) DO UPDATE SET live_version = EXCLUDED.live_version,"
            " max_capital_allocation_usd = EXCLUDED.max_capital_allocation_usd, approved_by = EXCLUDED.approved_by,"
            " approved_at = EXCLUDED.approved_at, live_actors = EXCLUDED.live_actors,"
            " updated_at = EXCLUDED.updated_at, last_notification_id = EXCLUDED.last_notification_id",
            {"id": info.id, "initial": info.initial_status.value, "v": e.originator_version,
             "capital": e.capital_cents / 100, "by": f"{e.approver},{e.second_approver}", "at": e.approved_at,
             "actors": Jsonb(list(e.actors)), "nid": notification_id},
        )
