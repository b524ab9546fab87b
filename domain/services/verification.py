"""Verification context: run the built-in suites against the deployed domain code and record each run."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from paulp.domain.clock import Clock
from paulp.domain.services.base import PaulpApplication
from paulp.domain.verification import SuiteRun, Timer, run_suite
from paulp.domain.verification_run import VerificationRun


class VerificationService(PaulpApplication):
    def __init__(self, env: Mapping[str, str] | None, clock: Clock, timer: Timer = time.perf_counter) -> None:
        super().__init__(env, clock)
        self.timer = timer  # case durations only; run times come from the clock

    def run(self, suites: Sequence[str]) -> tuple[SuiteRun, ...]:
        """Run the suites now; a failing or raising case is a result, never an exception."""
        return tuple(run_suite(suite, self.timer, self.clock.now()) for suite in suites)

    def record(self, run_id: str, runs: Sequence[SuiteRun], triggered_by: str, code_version: str | None) -> int:
        """Store one ``VerificationRun`` per suite in one save (all or none); the last notification id."""
        records = [VerificationRun.record(run_id, r.suite, r.results, triggered_by, code_version, r.run_at)
                   for r in runs]
        return self.last_notification_id(self.save(*records))

    def verification_run(self, run_id: str, suite: str) -> VerificationRun | None:
        found: VerificationRun | None = self.get_or_none(VerificationRun.create_id(run_id, suite))
        return found
