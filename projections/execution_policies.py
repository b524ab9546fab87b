"""execution_policies views: each strategy's policy per venue and mode as operators set it, and its changes
(trading §5.1, §9; ADR 0380). The policy column is the mode's §5.1 column with the stored values over it, the
same merge the execution step applies, so what the view shows is what orders are held to.
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from psycopg import Cursor
from psycopg.types.json import Jsonb

from paulp.domain.execution_policies import HOURS, StrategyExecutionPolicy, apply_overrides, policy_json
from paulp.domain.execution_policy import ExecutionMode, policy_for_mode

_STORED = "SELECT overrides FROM execution_policies WHERE strategy_id = %s AND venue = %s AND mode = %s"
_UPSERT = (
    "INSERT INTO execution_policies (strategy_id, venue, mode, version, policy, overrides, updated_by, reason,"
    " updated_at, notification_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (strategy_id, venue, mode) DO UPDATE SET version = EXCLUDED.version, policy = EXCLUDED.policy,"
    " overrides = EXCLUDED.overrides, updated_by = EXCLUDED.updated_by, reason = EXCLUDED.reason,"
    " updated_at = EXCLUDED.updated_at, notification_id = EXCLUDED.notification_id"
)
_VERSION = "UPDATE execution_policies SET version = %s WHERE strategy_id = %s AND venue = %s"
_CHANGE = ("INSERT INTO execution_policy_changes (notification_id, strategy_id, venue, mode, version, changes,"
           " previous, actor, reason, at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")


class ExecutionPoliciesProjection:
    name = "execution_policies"
    tables = ("execution_policies", "execution_policy_changes")

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events this view does not show."""

    @apply.register
    def _(self, e: StrategyExecutionPolicy.Updated, cur: Cursor[Any], notification_id: int) -> None:
        key = (e.strategy_id, e.venue, e.mode)
        row = cur.execute(_STORED, key).fetchone()
        stored = dict(row[0]) if row else {}
        stored.update({k: v for k, v in e.changes.items() if k != HOURS})
        if HOURS in e.changes:
            stored[HOURS] = {**stored.get(HOURS, {}), **e.changes[HOURS]}
        policy = policy_json(apply_overrides(policy_for_mode(ExecutionMode(e.mode)), stored))
        cur.execute(_VERSION, (e.version, e.strategy_id, e.venue))  # the version is the strategy's, every mode
        cur.execute(_UPSERT, (*key, e.version, Jsonb(policy), Jsonb(stored), e.actor, e.reason, e.updated_at,
                              notification_id))
        cur.execute(_CHANGE, (notification_id, *key, e.version, Jsonb(e.changes), Jsonb(e.previous), e.actor,
                              e.reason, e.updated_at))
