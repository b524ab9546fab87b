"""The LLM regression runner (llm-routing §8.6-§8.7): every case a real governed scoring call, each suite one event.

A case goes through ``RoutingService.govern`` with its own run type, so its route class, budget category
(research_scoring for the corpus's two run types), budget hold, decision and §8.2 scoring run are those of
any scoring call. It is judged by the pure rules of ``llm_regression_suite``. A call that fails or raises
is that case's execution_error: nothing one case does stops the suite. The suite is stored once under its
run id (a retried save cannot double it); the gate read model is projected from that event.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from paulp.domain.clock import iso_utc
from paulp.domain.errors import DomainError
from paulp.domain.governance import parse_scoring_output
from paulp.domain.llm_records import RegressionSuiteRecord
from paulp.domain.llm_regression import SuiteSummary, summarize
from paulp.domain.llm_regression_suite import (
    TARGET_TYPE,
    CaseOutcome,
    CaseRun,
    Suite,
    SuiteCase,
    by_category_json,
    judge,
    prompt_version,
    scoring_variables,
    suite_cases,
)
from paulp.domain.services.routing import RoutingService

log = logging.getLogger("paulp.llm.regression")
DEFAULT_WORKERS = 4  # concurrent governed calls: a premium call takes seconds, 91 of them in turn take minutes
SAVE_BACKOFF_S = (0.5, 2.0)


class RegressionNotRunnable(DomainError):
    """Raised before any call when the suite's calls would all be refused (keys, overrides, budget)."""

    code = "regression_not_runnable"


class SuiteNotStored(DomainError):
    """Raised when a completed suite could not be saved after retries (its calls are stored regardless)."""

    code = "regression_suite_not_stored"


@dataclass(frozen=True)
class SuiteRun:
    suite: Suite
    summary: SuiteSummary
    runs: tuple[CaseRun, ...]
    notification_id: int | None  # None: an earlier save of the same run id had already stored it


class RegressionRunner:
    def __init__(self, routing: RoutingService, workers: int = DEFAULT_WORKERS) -> None:
        self.routing = routing
        self.workers = max(1, workers)

    def preflight(self, cases: Sequence[SuiteCase]) -> None:
        """Fail closed before spending anything when routing would refuse every call of a run type."""
        first = {c.case.input.run_type: c for c in reversed(cases)}
        for run_type, case in sorted(first.items()):
            preview = self.routing.dry_run(run_type, scoring_variables(case.case.input))
            if preview.failure is not None:
                raise RegressionNotRunnable(f"{preview.failure.code}: {preview.failure.message}")
            if not preview.budget_allowed:
                raise RegressionNotRunnable(f"BUDGET_EXCEEDED: {preview.budget_reason}")

    def run(self, suite: Suite, run_id: str, cases: Sequence[SuiteCase] | None = None,
            on_case: Callable[[CaseRun], None] | None = None) -> SuiteRun:
        """Run every case (the full corpus unless ``cases`` is given), then store the suite once."""
        chosen = tuple(cases) if cases is not None else suite_cases(suite)
        self.preflight(chosen)
        clock = self.routing.clock
        started, began = clock.now(), time.monotonic()  # execution time: never the wall's difference (ADR 0526)

        def one(case: SuiteCase) -> CaseRun:
            done = self._case(case, run_id, suite)
            if on_case is not None:
                on_case(done)
            return done

        with ThreadPoolExecutor(self.workers, thread_name_prefix="regression") as pool:
            runs = tuple(pool.map(one, chosen))
        try:
            self.routing.flush()  # the calls' decisions and scoring runs are stored before the suite
        except Exception as err:  # the suite is still worth storing; the gap is logged
            log.warning("regression %s: some call outcomes are not stored yet (%s)", run_id, err)
        completed = clock.now()
        version, hashes = prompt_version(chosen)
        elapsed = int((time.monotonic() - began) * 1000)
        summary = summarize([r.result for r in runs], run_id, version, iso_utc(started), elapsed)

        def record() -> RegressionSuiteRecord:
            return RegressionSuiteRecord(
                run_id=run_id, suite=str(suite), prompt_version=version, prompt_hashes=hashes, started_at=started,
                completed_at=completed, total_tests=summary.total_tests, passed=summary.passed,
                failed=summary.failed, pass_rate=summary.pass_rate, by_category=by_category_json(summary),
                execution_time_ms=elapsed, results=[r.as_json() for r in runs])

        return SuiteRun(suite, summary, runs, self._store(run_id, record))

    def _case(self, case: SuiteCase, run_id: str, suite: Suite) -> CaseRun:
        metadata = {"targetEntityType": TARGET_TYPE, "targetEntityId": case.case.id, "regressionRunId": run_id,
                    "regressionSuite": str(suite)}
        try:
            out = self.routing.govern(case.case.input.run_type, scoring_variables(case.case.input),
                                      metadata=metadata, scoring_input=case.case.input)
        except Exception as err:  # one case's failure never stops the suite (§8.6)
            log.warning("regression %s case %s raised %s", run_id, case.case.id, type(err).__name__)
            return judge(case, CaseOutcome(None, None, f"{type(err).__name__}: {err}"))
        if not out.success or out.content is None:
            reason = out.error.message if out.error is not None else "no content"
            return judge(case, CaseOutcome(out.decision_id, None, f"{out.error_code}: {reason}"))
        output, _ = parse_scoring_output(out.content)  # strict, as the call's own scoring run parses it
        return judge(case, CaseOutcome(out.decision_id, output))

    def _store(self, run_id: str, record: Callable[[], RegressionSuiteRecord]) -> int | None:
        """A failed save has collected the record's event, so each try builds it afresh (same id)."""
        for wait in (*SAVE_BACKOFF_S, None):
            try:
                return self.routing.record_regression_suite(record())
            except Exception as err:  # retried; the last failure is reported
                if wait is None:
                    raise SuiteNotStored(f"regression suite {run_id} not stored: {type(err).__name__}: {err}") \
                        from err
                log.warning("regression %s: suite not stored (%s); retrying in %s s", run_id, err, wait)
                time.sleep(wait)
        raise AssertionError("unreachable")
