"""Run the built-in verification suites and record the run: one code path for ``paulp verify run`` and the
daily ``verify`` schedule slot (ADR 0264)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from paulp.adapters.code_version import code_version
from paulp.api.venue_session import JobFailed
from paulp.domain.schedule import slot_run_id
from paulp.domain.services.verification import VerificationService
from paulp.domain.verification import Status, SuiteRun, suite_names

log = logging.getLogger("paulp.verify")
VERIFY_JOB = "verify"
LISTED_FAILURES = 5  # failed case names a failed job run's message lists


@dataclass(frozen=True)
class VerifyOutcome:
    run_id: str
    runs: tuple[SuiteRun, ...]
    notification_id: int | None  # None when the run could not be stored
    store_error: str | None = None

    @property
    def failed(self) -> int:
        return sum(r.count(Status.FAILED) for r in self.runs)

    def summary(self) -> dict[str, Any]:
        return {"runId": self.run_id, "stored": self.store_error is None, "notificationId": self.notification_id,
                "suites": {r.suite: {s.value: r.count(s) for s in Status} for r in self.runs},
                "failed": [{"suite": f.suite, "name": f.name, "error": f.error} for r in self.runs for f in r.failures]}


def run_verification(service: VerificationService, suites: Sequence[str], run_id: str,
                     triggered_by: str) -> VerifyOutcome:
    """Run the suites (never raises for a case) and store them in one save; a storage failure is reported."""
    runs = service.run(suites)
    try:
        nid = service.record(run_id, runs, triggered_by, code_version())
    except Exception as exc:  # reported to the caller, which exits or fails the job with it
        log.exception("verification run %s could not be stored", run_id)
        return VerifyOutcome(run_id, runs, None, f"{type(exc).__name__}: {exc}")
    return VerifyOutcome(run_id, runs, nid)


def verify_job(container: Any, slot_minute: datetime | None) -> dict[str, Any]:
    """The daily slot: every suite, keyed by the slot's run id (a slot's run is stored once); the job run
    fails when the run could not be stored or a case failed, so the operator's job list shows it."""
    run_id = slot_run_id(VERIFY_JOB, slot_minute) if slot_minute is not None else uuid.uuid4().hex
    outcome = run_verification(container.verification, suite_names("all"), run_id, "scheduler")
    if outcome.store_error is not None:
        raise JobFailed("verification_not_stored", "The verification run could not be stored")
    if outcome.failed:
        names = [f"{f.suite}/{f.name}" for r in outcome.runs for f in r.failures]
        more = f" and {len(names) - LISTED_FAILURES} more" if len(names) > LISTED_FAILURES else ""
        raise JobFailed("verification_failed",
                        f"{len(names)} verification case(s) failed: " + "; ".join(names[:LISTED_FAILURES]) + more)
    return outcome.summary()
