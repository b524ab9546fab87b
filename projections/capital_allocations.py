"""capital_allocations view: each strategy's allocation as its go-lives and status changes leave it (ADR 0389).

Each event is folded into the strategy's row by ``domain.capital_allocations`` (the row read back from this
view, so the fold is the same live and in a replay); a strategy's first event starts from §5.7's static row.
"""

from __future__ import annotations

from dataclasses import astuple
from decimal import Decimal
from functools import singledispatchmethod
from typing import Any
from uuid import UUID

from psycopg import Cursor

from paulp.domain.capital_allocations import (
    AllocationRecord,
    after_go_live,
    after_status_change,
    initial_record,
)
from paulp.domain.golive import GoLiveApproval
from paulp.domain.strategy_registry import CATALOGUE, Strategy

_BY_AGGREGATE: dict[UUID, str] = {Strategy.create_id(i.id): i.id for i in CATALOGUE}
_BY_AGGREGATE.update({GoLiveApproval.create_id(i.id): i.id for i in CATALOGUE})

_COLUMNS = ("strategy_id, capital, max_position_pct, enabled, enabled_at, disabled_at, disable_reason, approved_by,"
            " approved_at, allocated_at, own_status, golive_seen, live_version")
_UPDATES = ", ".join(f"{c.strip()} = EXCLUDED.{c.strip()}" for c in _COLUMNS.split(",")[1:])


def _strategy(originator_id: UUID) -> str:
    strategy = _BY_AGGREGATE.get(originator_id)
    if strategy is None:  # no command creates either aggregate for a strategy outside the catalogue
        raise LookupError(f"allocation event for unknown strategy aggregate {originator_id}")
    return strategy


def _load(cur: Cursor[Any], strategy: str) -> AllocationRecord:
    row = cur.execute(f"SELECT {_COLUMNS} FROM capital_allocations WHERE strategy_id = %s", (strategy,)).fetchone()
    if row is None:
        return initial_record(strategy)
    return AllocationRecord(row[0], float(row[1]), float(row[2]), *row[3:])


def _store(cur: Cursor[Any], record: AllocationRecord, at: Any, notification_id: int) -> None:
    values = list(astuple(record))
    values[1], values[2] = Decimal(repr(record.capital)), Decimal(repr(record.max_position_pct))
    cur.execute(
        f"INSERT INTO capital_allocations ({_COLUMNS}, updated_at, last_notification_id)"
        f" VALUES ({', '.join(['%s'] * (len(values) + 2))})"
        f" ON CONFLICT (strategy_id) DO UPDATE SET {_UPDATES}, updated_at = EXCLUDED.updated_at,"
        " last_notification_id = EXCLUDED.last_notification_id",
        (*values, at, notification_id),
    )


class CapitalAllocationsProjection:
    name = "capital_allocations"
    tables = ("capital_allocations",)

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events that decide no allocation."""

    @apply.register
    def _(self, e: GoLiveApproval.WentLive, cur: Cursor[Any], notification_id: int) -> None:
        strategy = _strategy(e.originator_id)
        record = after_go_live(_load(cur, strategy), e.capital_cents, e.originator_version, e.approver,
                               e.second_approver, e.approved_at)
        _store(cur, record, e.approved_at, notification_id)

    @apply.register
    def _(self, e: Strategy.StatusChanged, cur: Cursor[Any], notification_id: int) -> None:
        strategy = _strategy(e.originator_id)
        record = after_status_change(_load(cur, strategy), e.to_status, e.golive_seen, e.reason, e.at)
        _store(cur, record, e.at, notification_id)
