"""Reads of ``views.test_results``: each suite's latest run, for the phase gates and ``paulp verify results``.

"Latest" is the run recorded last in the log (highest notification id), so repeating a run cannot add to
a gate's count and a later failing run replaces an earlier passing one (ADR 0264).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from paulp.domain.gate_facts import Unavailable

LATEST_RUN = ("SELECT run_uuid, run_id, run_at, triggered_by, code_version FROM views.test_results"
              " WHERE suite = %s ORDER BY notification_id DESC LIMIT 1")
RUN_CASES = ("SELECT name, status, duration_ms, error FROM views.test_results WHERE run_uuid = %s"
             " ORDER BY name")


@dataclass(frozen=True)
class CaseRow:
    name: str
    status: str
    duration_ms: float
    error: str | None


@dataclass(frozen=True)
class LatestRun:
    suite: str
    run_id: str
    run_at: datetime
    triggered_by: str
    code_version: str | None
    cases: tuple[CaseRow, ...]

    def count(self, status: str) -> int:
        return sum(1 for c in self.cases if c.status == status)


def latest_run(conn: psycopg.Connection[Any], suite: str) -> LatestRun | None:
    head = conn.execute(LATEST_RUN, (suite,)).fetchone()
    if head is None:
        return None
    run_uuid, run_id, run_at, by, version = head
    cases = tuple(CaseRow(str(n), str(s), float(d), e) for n, s, d, e in conn.execute(RUN_CASES, (run_uuid,)))
    return LatestRun(suite, str(run_id), run_at, str(by), version, cases)


def latest_suite_passed(database_url: str, suite: str) -> int | Unavailable:
    """Passed cases of the suite's latest run; a suite never run is not verifiable (the gate fails closed)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        run = latest_run(conn, suite)
    if run is None:
        return Unavailable(f"suite {suite} has never been run (paulp verify run --suite {suite})")
    return run.count("passed")
