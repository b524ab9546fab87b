"""test_results view: every case result of every verification run, for the phase gates and the operator."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from psycopg import Cursor

from paulp.domain.verification import CaseResult
from paulp.domain.verification_run import VerificationRun

INSERT = (
    "INSERT INTO test_results (run_uuid, run_id, suite, name, status, duration_ms, error, run_at, triggered_by,"
    " code_version, notification_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (run_uuid, name) DO NOTHING"
)


class VerificationResultsProjection:
    name = "test_results"
    tables = ("test_results",)

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events this view does not show."""

    @apply.register
    def _(self, e: VerificationRun.Recorded, cur: Cursor[Any], notification_id: int) -> None:
        for doc in e.results:
            r = CaseResult.from_json(doc)
            cur.execute(INSERT, (e.originator_id, e.run_id, e.suite, r.name, r.status.value, r.duration_ms, r.error,
                                 e.run_at, e.triggered_by, e.code_version, notification_id))
