"""gate_signoffs view: every phase-gate signoff with its gate result, for the GET endpoints and go-live."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from psycopg import Cursor
from psycopg.types.json import Jsonb

from paulp.domain.gate_signoffs import GateSignoffs


class GateSignoffsProjection:
    name = "gate_signoffs"
    tables = ("gate_signoffs",)

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events this view does not show."""

    @apply.register
    def _(self, e: GateSignoffs.SignedOff, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "INSERT INTO gate_signoffs (signoff_id, phase, target_phase, signed_off_by, signed_off_at, forced,"
            " passed, notes, gate_result, notification_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (signoff_id) DO NOTHING",
            (e.signoff_id, e.phase, e.target_phase, e.signed_off_by, e.signed_off_at, e.forced, e.passed, e.notes,
             Jsonb(e.gate_result), notification_id),
        )
