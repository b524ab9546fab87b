"""fair_values view: the latest operator-supplied fair probability of each ticker, for operators (ADR 0277).

Expiry is not projected (a projection has no clock): readers compare ``valid_until`` with their own now.
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from psycopg import Cursor

from paulp.domain.fair_values import FairValue


class FairValuesProjection:
    name = "fair_values"
    tables = ("fair_values",)

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events this view does not show."""

    @apply.register
    def _(self, e: FairValue.Set, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "INSERT INTO fair_values (ticker, probability, source, reason, actor, set_at, valid_until, version,"
            " notification_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (ticker) DO UPDATE SET probability = EXCLUDED.probability, source = EXCLUDED.source,"
            " reason = EXCLUDED.reason, actor = EXCLUDED.actor, set_at = EXCLUDED.set_at,"
            " valid_until = EXCLUDED.valid_until, withdrawn_at = NULL, withdrawn_by = NULL, withdraw_reason = NULL,"
            " version = EXCLUDED.version, notification_id = EXCLUDED.notification_id",
            (e.ticker, e.probability, e.source, e.reason, e.actor, e.set_at, e.valid_until, e.originator_version,
             notification_id),
        )

    @apply.register
    def _(self, e: FairValue.Withdrawn, cur: Cursor[Any], notification_id: int) -> None:
        row = cur.execute(
            "UPDATE fair_values SET withdrawn_at = %s, withdrawn_by = %s, withdraw_reason = %s, version = %s,"
            " notification_id = %s WHERE ticker = %s RETURNING ticker",
            (e.withdrawn_at, e.actor, e.reason, e.originator_version, notification_id, e.ticker),
        ).fetchone()
        if row is None:  # the aggregate only withdraws a value it set, so the row must exist
            raise LookupError(f"withdrawal of unknown fair value {e.ticker}")
