"""job_runs view: every orchestrator run (trigger, webhook or schedule slot) and how it ended."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from psycopg import Cursor
from psycopg.types.json import Jsonb

from paulp.domain.orchestration import JobRun, JobRunState


class JobRunsProjection:
    name = "job_runs"
    tables = ("job_runs",)

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events this view does not show."""

    @apply.register
    def _(self, e: JobRun.Created, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "INSERT INTO job_runs (run_uuid, run_id, job, triggered_by, source, state, started_at, notification_id)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (run_uuid) DO NOTHING",
            (e.originator_id, e.run_id, e.job, e.triggered_by, e.source, JobRunState.RUNNING.value, e.started_at,
             notification_id),
        )

    @apply.register
    def _(self, e: JobRun.Completed, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "UPDATE job_runs SET state = %s, finished_at = %s, result = %s, notification_id = %s WHERE run_uuid = %s",
            (JobRunState.COMPLETED.value, e.at, Jsonb(e.result), notification_id, e.originator_id),
        )

    @apply.register
    def _(self, e: JobRun.Failed, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "UPDATE job_runs SET state = %s, finished_at = %s, error = %s, notification_id = %s WHERE run_uuid = %s",
            (JobRunState.FAILED.value, e.at, e.error, notification_id, e.originator_id),
        )
