"""The job runner behind ``POST /admin/orchestrator/trigger/{job}`` and ``/webhooks/trigger/{job}``
(api-and-security §1.3, §1.6, §7.1): one code path per job whatever triggered it.

Every trigger is a ``JobRun``: started (with the actor and where the trigger came from) before the job
runs, then completed with the job's own report or failed with a safe message. A job whose inputs are
unavailable raises ``JobFailed``; anything unexpected is logged here and reported as a plain failure.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from paulp.adapters.evidence_store import EvidenceStore
from paulp.adapters.kalshi.client import KalshiClient
from paulp.adapters.kalshi.client_errors import KalshiError
from paulp.adapters.kalshi.venue import KalshiVenue
from paulp.api.market_jobs import open_position_tickers, refresh_marks
from paulp.api.reconcile_job import reconcile_now
from paulp.api.signal_jobs import execute_pending, scan_signals
from paulp.api.venue_session import JobFailed, kalshi_env
from paulp.domain.orchestration import JOBS, UnknownJob

log = logging.getLogger("paulp.jobs")
MARK_OUTCOMES = ("recorded", "resolved", "unchanged")


def ingest_marks(container: Any) -> dict[str, Any]:
    """Market data for every market we hold (public reads, bodies kept as evidence): the marks job run now.
    Fails when markets were asked for and none could be read."""
    started = time.monotonic()
    tickers = open_position_tickers(container.pool)
    outcome: dict[str, str] = {}
    if tickers:
        outcome = asyncio.run(_refresh(container, tickers))  # a worker thread: no loop of its own
    failed = {t: code for t, code in outcome.items() if code not in MARK_OUTCOMES}
    if tickers and len(failed) == len(tickers):
        raise JobFailed("venue_unavailable", "No market could be read from Kalshi: " + ", ".join(
            sorted(set(failed.values()))))
    return {"triggered": True, "markets": len(tickers),
            **{name: sum(1 for c in outcome.values() if c == name) for name in MARK_OUTCOMES},
            "failed": failed, "durationMs": round((time.monotonic() - started) * 1000)}


async def _refresh(container: Any, tickers: list[str]) -> dict[str, str]:
    try:
        client = KalshiClient.from_env(kalshi_env(container.settings), EvidenceStore(container.settings.evidence_dir()))
    except KalshiError as exc:
        raise JobFailed(exc.code, f"Kalshi client not usable: {exc.code}", 503) from None
    try:
        return await refresh_marks(container.markets, KalshiVenue(client), tickers)
    finally:
        await client.aclose()


class JobRunner:
    """Runs a job now; the container holds one (``container.jobs``)."""

    def __init__(self, container: Any) -> None:
        self.container = container
        self.jobs: dict[str, Callable[[str], dict[str, Any]]] = {
            "ingest": lambda _: ingest_marks(container),
            "scan": lambda _: scan_signals(container),
            "execute": lambda _: execute_pending(container),
            "reconcile": lambda actor: reconcile_now(container, actor),
        }
        assert set(self.jobs) == set(JOBS)
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def trigger(self, job: str, triggered_by: str = "webhook", source: str = "webhook") -> dict[str, Any]:
        run_id = self._start(job, triggered_by, source)
        return self._run(run_id, job, triggered_by)

    def trigger_in_background(self, job: str, triggered_by: str = "webhook", source: str = "webhook") -> str:
        """Start the job and return its run id at once (a webhook that only *triggers*, §1.6): the start is
        durable before this returns; the outcome is the run's Completed or Failed event."""
        run_id = self._start(job, triggered_by, source)

        def run() -> None:
            try:
                self._run(run_id, job, triggered_by)
            except Exception:  # noqa: S110 - already logged and recorded as JobRun.Failed by _run
                pass

        thread = threading.Thread(target=run, name=f"job-{job}-{run_id[:8]}", daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return run_id

    def wait(self, timeout: float) -> bool:
        """Wait for background runs (closing the container, tests); True if none is still running."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in threads)

    def _start(self, job: str, triggered_by: str, source: str) -> str:
        if job not in self.jobs:
            raise UnknownJob(f"Unknown trigger: {job}")
        run_id = uuid.uuid4().hex
        self.container.orchestrator.start_job(run_id, job, triggered_by, source)
        return run_id

    def _run(self, run_id: str, job: str, triggered_by: str) -> dict[str, Any]:
        orchestrator = self.container.orchestrator
        try:
            result = self.jobs[job](triggered_by)
        except JobFailed as exc:
            log.warning("job %s (run %s) failed: %s", job, run_id, exc.code)
            self._fail(run_id, exc.message)
            raise
        except Exception:
            log.exception("job %s (run %s) crashed", job, run_id)
            self._fail(run_id, "Job failed (internal error; see the log for run " + run_id + ")")
            raise
        orchestrator.complete_job(run_id, result)
        return result

    def _fail(self, run_id: str, message: str) -> None:
        try:
            self.container.orchestrator.fail_job(run_id, message)
        except Exception:
            log.exception("could not record the failure of run %s", run_id)
