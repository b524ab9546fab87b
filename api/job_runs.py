"""GET /admin/orchestrator/runs query side: the job_runs view, filters validated like the order list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from paulp.api.errors import ApiError
from paulp.api.trades import parse_limit
from paulp.domain.clock import iso_utc
from paulp.domain.orchestration import JOBS, SCHEDULED_ONLY_JOBS, JobRunState

DEFAULT_LIMIT, MAX_LIMIT = 50, 200
RUN_JOBS = JOBS + SCHEDULED_ONLY_JOBS
RUN_STATES = tuple(s.value for s in JobRunState)
SOURCES = ("admin", "webhook", "scheduler")


@dataclass(frozen=True)
class RunFilters:
    job: str | None
    state: str | None
    source: str | None
    limit: int

    def as_json(self) -> dict[str, Any]:
        return {"job": self.job, "state": self.state, "source": self.source, "limit": self.limit}


def _choice(params: dict[str, str], name: str, allowed: tuple[str, ...], upper: bool = False) -> str | None:
    raw = params.get(name) or None
    if raw is None:
        return None
    value = raw.upper() if upper else raw.lower()
    if value not in allowed:
        raise ApiError(400, f"Invalid {name}. Must be one of " + ", ".join(allowed) + ".", f"invalid_{name}")
    return value


def parse_run_filters(params: dict[str, str]) -> RunFilters:
    """Validate job -> state -> source -> limit (first failure wins); empty values mean absent."""
    job = _choice(params, "job", RUN_JOBS)
    state = _choice(params, "state", RUN_STATES, upper=True)
    source = _choice(params, "source", SOURCES)
    return RunFilters(job, state, source, parse_limit(params.get("limit"), DEFAULT_LIMIT, MAX_LIMIT))


RUNS = (
    "SELECT run_id, job, triggered_by, source, state, started_at, finished_at, result, error FROM views.job_runs"
    " WHERE (%(job)s::text IS NULL OR job = %(job)s) AND (%(state)s::text IS NULL OR state = %(state)s)"
    " AND (%(source)s::text IS NULL OR source = %(source)s)"
    " ORDER BY started_at DESC, run_id DESC LIMIT %(limit)s"
)


def _run(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "runId": row["run_id"], "job": row["job"], "triggeredBy": row["triggered_by"], "source": row["source"],
        "state": row["state"], "startedAt": iso_utc(row["started_at"]),
        "finishedAt": iso_utc(row["finished_at"]) if row["finished_at"] else None,
        "result": row["result"], "error": row["error"],
    }


def list_runs(pool: ConnectionPool[Any], f: RunFilters) -> list[dict[str, Any]]:
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(RUNS, {"job": f.job, "state": f.state, "source": f.source, "limit": f.limit}).fetchall()
    return [_run(r) for r in rows]
