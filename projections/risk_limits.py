"""risk_limits views: the limits row operators set and every change to it (ADR 0379).

The row is the baseline the aggregate started from with each change merged over it, so a rebuild from the log
gives the limits the risk check applied, version for version.
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from psycopg import Cursor
from psycopg.types.json import Jsonb

from paulp.domain.risk_limit_settings import RiskLimitSettings

_START = ("INSERT INTO risk_limits (id, limits, version, notification_id) VALUES ('global', %s, 0, %s)")
_UPDATE = ("UPDATE risk_limits SET limits = limits || %s, version = %s, updated_by = %s, proposed_by = %s,"
           " reason = %s, updated_at = %s, notification_id = %s WHERE id = 'global' RETURNING version")
_CHANGE = ("INSERT INTO risk_limit_changes (notification_id, kind, proposal_id, version, changes, previous, actor,"
           " proposed_by, reason, at, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")


class RiskLimitsProjection:
    name = "risk_limits"
    tables = ("risk_limits", "risk_limit_changes")

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events this view does not show."""

    @apply.register
    def _(self, e: RiskLimitSettings.Started, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(_START, (Jsonb(e.baseline), notification_id))

    @apply.register
    def _(self, e: RiskLimitSettings.Updated, cur: Cursor[Any], notification_id: int) -> None:
        if cur.execute(_UPDATE, (Jsonb(e.changes), e.version, e.actor, e.proposed_by, e.reason, e.updated_at,
                                 notification_id)).fetchone() is None:
            raise LookupError("risk limits updated before the row was started")  # the aggregate starts it first
        cur.execute(_CHANGE, (notification_id, "updated", e.proposal_id, e.version, Jsonb(e.changes),
                              Jsonb(e.previous), e.actor, e.proposed_by, e.reason, e.updated_at, None))

    @apply.register
    def _(self, e: RiskLimitSettings.LooseningProposed, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(_CHANGE, (notification_id, "proposed", e.proposal_id, e.base_version, Jsonb(e.changes),
                              Jsonb(e.previous), e.actor, e.actor, e.reason, e.proposed_at, e.expires_at))
