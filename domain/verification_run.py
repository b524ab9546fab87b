"""A verification run as an event: the gate input "test results (suite, name, status, duration, error,
run time)" of api-and-security Appendix A, recorded in the log instead of a mutable table.

One ``VerificationRun`` per suite per run, written once. Its id is a uuid5 of the caller's run id and the
suite (the CLI makes a random one at the edge, a schedule slot uses its slot run id), so storing the same run
twice is refused by the event store rather than counted twice by the gates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.errors import DomainError
from paulp.domain.namespace import PAULP_NAMESPACE
from paulp.domain.verification import SUITES, CaseResult, Status


class InvalidVerificationRun(DomainError):
    """Raised when a run has no results, an unknown suite, results of another suite or repeated case names."""

    code = "invalid_verification_run"


class VerificationRun(Aggregate):
    """Write-once record of one suite run."""

    class Recorded(Aggregate.Created):
        run_id: str
        suite: str
        run_at: datetime
        triggered_by: str
        code_version: str | None
        results: list[dict[str, Any]]  # {suite, name, status, duration_ms, error} per case, in run order

    @staticmethod
    def create_id(run_id: str, suite: str) -> UUID:
        return uuid5(PAULP_NAMESPACE, f"verification-run/{run_id}/{suite}")

    @classmethod
    def record(cls, run_id: str, suite: str, results: Sequence[CaseResult], triggered_by: str,
               code_version: str | None, run_at: datetime) -> VerificationRun:
        if not run_id or not triggered_by.strip():
            raise InvalidVerificationRun("a verification run needs a run id and an actor")
        if suite not in SUITES:
            raise InvalidVerificationRun(f"unknown suite {suite!r}")
        if not results:
            raise InvalidVerificationRun(f"a run of suite {suite} has no results")
        names = [r.name for r in results]
        if len(set(names)) != len(names) or any(r.suite != suite for r in results):
            raise InvalidVerificationRun(f"results of suite {suite} must be its own, each case once")
        run: VerificationRun = cls(run_id=run_id, suite=suite, run_at=run_at, triggered_by=triggered_by,
                                   code_version=code_version, results=[r.to_json() for r in results])
        return run

    @event(Recorded)
    def __init__(self, run_id: str, suite: str, run_at: datetime, triggered_by: str, code_version: str | None,
                 results: list[dict[str, Any]]) -> None:
        self.run_id, self.suite, self.run_at = run_id, suite, run_at
        self.triggered_by, self.code_version = triggered_by, code_version
        self.results = [dict(r) for r in results]

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r["status"] == status.value)
