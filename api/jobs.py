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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from eventsourcing.persistence import IntegrityError

from paulp.adapters.evidence_store import EvidenceStore, fetch_recorder
from paulp.adapters.kalshi.client import KalshiClient
from paulp.adapters.kalshi.client_errors import KalshiError
from paulp.adapters.kalshi.venue import KalshiVenue
from paulp.api import advisory_locks
from paulp.api.compliance_gate import admit
from paulp.api.compliance_outcomes import observe_run
from paulp.api.exit_jobs import monitor_exits
from paulp.api.market_jobs import marked_tickers, refresh_marks
from paulp.api.order_timers_job import run_order_timers
from paulp.api.portfolio_job import value_book
from paulp.api.reconcile_job import reconcile_now
from paulp.api.signal_jobs import execute_pending, scan_signals
from paulp.api.venue_session import JobFailed, kalshi_env, nothing_read
from paulp.api.verify_job import verify_job
from paulp.domain.orchestration import JOBS, SCHEDULED_ONLY_JOBS, UnknownJob, daily_report
from paulp.domain.order_states import OrderState
from paulp.domain.order_workflow import MetricsInput
from paulp.domain.schedule import Slot

log = logging.getLogger("paulp.jobs")
MARK_OUTCOMES = ("recorded", "resolved", "unchanged")
TRIGGER_LOCK_WAIT_S = 5.0  # a manual trigger waits this long for a run of the same job to finish
SCHEDULER = "scheduler"
DAY_ORDERS = (
    "SELECT o.state, o.created_at,"
    " (SELECT max(h.at) FROM views.order_history h WHERE h.order_uuid = o.order_uuid AND h.to_state = 'FILLED')"
    " , o.clv FROM views.orders o WHERE o.created_at >= %s AND o.created_at < %s"
)


def ingest_marks(container: Any) -> dict[str, Any]:
    """Market data for every market we hold or have orders in (public reads, bodies kept as evidence; ADR 0419):
    the marks job run now.
    The compliance gate is asked first (§7.2): blocked, nothing is fetched and the run completes with the
    decision (acknowledged, not retried). Fails when markets were asked for and none could be read."""
    started = time.monotonic()
    tickers = marked_tickers(container.pool)
    if not tickers:  # nothing to fetch, nothing to ask the gate
        return {"triggered": True, "markets": 0, **{name: 0 for name in MARK_OUTCOMES}, "failed": {},
                "durationMs": _elapsed_ms(started)}
    decision = admit(container, "kalshi", "fetch_markets", "ingest")
    if not decision.allowed:
        return {"triggered": True, "markets": len(tickers), **{name: 0 for name in MARK_OUTCOMES},
                "failed": {}, "compliance": decision.as_dict(), "durationMs": _elapsed_ms(started)}
    outcome = asyncio.run(_refresh(container, tickers))  # a worker thread: no loop of its own
    failed = {t: code for t, code in outcome.items() if code not in MARK_OUTCOMES}
    if len(failed) == len(tickers):
        raise nothing_read(failed.values())
    return {"triggered": True, "markets": len(tickers),
            **{name: sum(1 for c in outcome.values() if c == name) for name in MARK_OUTCOMES},
            "failed": failed, "compliance": decision.as_dict(), "durationMs": _elapsed_ms(started)}


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def gated_scan(container: Any) -> dict[str, Any]:
    """§7.1 scan behind the compliance gate: the scan reads Kalshi's market catalogue, so a blocked
    ``kalshi_trade_api`` means no scan at all (acknowledged, audited, not retried); the weather row asks the
    gate again for NOAA (``weather_scan``)."""
    decision = admit(container, "kalshi", "fetch_markets", "scan")
    if not decision.allowed:
        return {"scanned": False, "strategies": [], "totalSignals": 0, "ordersCreated": 0,
                "compliance": decision.as_dict(), "durationMs": 0}
    return {**scan_signals(container), "compliance": decision.as_dict()}


async def _refresh(container: Any, tickers: list[str]) -> dict[str, str]:
    try:
        client = KalshiClient.from_env(kalshi_env(container.settings), EvidenceStore(container.settings.evidence_dir()),
                                       record=fetch_recorder(container.pool.connection))
    except KalshiError as exc:
        raise JobFailed(exc.code, f"Kalshi client not usable: {exc.code}", 503) from None
    try:
        return await refresh_marks(container.markets, KalshiVenue(client), tickers)
    finally:
        await client.aclose()


def anchor_job(container: Any) -> dict[str, Any]:
    """The hourly anchor of §7.1 (with the chain and anchor verification that HALTs on a break)."""
    from paulp.api.audit_job import anchor_and_verify  # it imports the wiring, which imports this module

    outcome = anchor_and_verify(container)
    return {"anchored": True, "valid": outcome.valid, "verifiedAt": outcome.verified_at.isoformat(),
            "firstBadSequence": outcome.chain.first_bad_sequence, "anchorsFailed": outcome.anchors.failed,
            "mode": outcome.plan.mode, "fromSequence": outcome.plan.start}


def daily_report_job(container: Any, slot_minute: datetime | None) -> dict[str, Any]:
    """§7.1 ``daily-report`` for the UTC day of its slot (23:00 reports the day that is ending)."""
    day = (slot_minute or container.clock.now()).astimezone(UTC).date()
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    with container.pool.connection() as conn:
        rows = conn.execute(DAY_ORDERS, (start, start + timedelta(days=1))).fetchall()
    return daily_report(day, [MetricsInput(OrderState(state), created, filled, None if clv is None else float(clv))
                              for state, created, filled, clv in rows])


def exits_job(container: Any) -> dict[str, Any]:
    """§3.5 exits every 5 minutes, after the book is valued for the breaker (§2.3, ADR 0301): a failed
    valuation is in the report and never keeps a stop from firing."""
    portfolio = value_book(container)
    return {**monitor_exits(container), "portfolio": portfolio}


@dataclass(frozen=True)
class JobCall:
    """One run as the runner starts it: the ``JobRun``'s id, who and where from, the schedule slot if any."""

    run_id: str
    job: str
    triggered_by: str
    source: str
    slot: datetime | None


class JobBusy(JobFailed):
    """Raised when a run of the same job is still going (in this process or another one)."""

    def __init__(self, job: str) -> None:
        super().__init__("job_busy", f"A run of {job} is still in progress; this one did not start", 409)


class JobRunner:
    """Runs a job now; the container holds one (``container.jobs``).

    Runs of one job never overlap, whichever process starts them: each run holds a PostgreSQL advisory
    lock named after the job (two ``execute`` runs advancing the same orders would race each other)."""

    def __init__(self, container: Any) -> None:
        self.container = container
        self.jobs: dict[str, Callable[[str, datetime | None], dict[str, Any]]] = {
            "ingest": lambda _actor, _slot: ingest_marks(container),
            "scan": lambda _actor, _slot: gated_scan(container),
            "execute": lambda _actor, _slot: execute_pending(container),
            "anchor": lambda _actor, _slot: anchor_job(container),
            "daily-report": lambda _actor, slot: daily_report_job(container, slot),
            "exits": lambda _actor, _slot: exits_job(container),
            "verify": lambda _actor, slot: verify_job(container, slot),
            "order-timers": lambda _actor, _slot: run_order_timers(container),
        }
        self.run_jobs: dict[str, Callable[[JobCall], dict[str, Any]]] = {  # jobs that record under their run's id
            "reconcile": lambda call: reconcile_now(container, call.run_id, call.triggered_by, call.source, call.slot),
        }
        assert set(self.jobs) | set(self.run_jobs) == set(JOBS) | set(SCHEDULED_ONLY_JOBS)
        self.trigger_lock_wait_s = TRIGGER_LOCK_WAIT_S
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def trigger(self, job: str, triggered_by: str = "webhook", source: str = "webhook") -> dict[str, Any]:
        return self.run_now(job, triggered_by, source)[1]

    def run_now(self, job: str, triggered_by: str, source: str) -> tuple[str, dict[str, Any]]:
        """Run the job now as a ``JobRun``; (its run id, its report)."""
        run_id = self._start(job, triggered_by, source)
        return run_id, self._run(JobCall(run_id, job, triggered_by, source, None), self.trigger_lock_wait_s)

    def run_slot(self, slot: Slot) -> str | None:
        """Claim a schedule slot and start its run in the background; None when the slot was already
        claimed (a restart, a late tick or another replica got there first: the run id is the slot's)."""
        try:
            self.container.orchestrator.start_job(slot.run_id, slot.job, SCHEDULER, SCHEDULER)
        except IntegrityError:
            return None
        self._background(JobCall(slot.run_id, slot.job, SCHEDULER, SCHEDULER, slot.minute), lock_wait=0.0)
        return slot.run_id

    def trigger_in_background(self, job: str, triggered_by: str = "webhook", source: str = "webhook") -> str:
        """Start the job and return its run id at once (a webhook that only *triggers*, §1.6): the start is
        durable before this returns; the outcome is the run's Completed or Failed event."""
        run_id = self._start(job, triggered_by, source)
        self._background(JobCall(run_id, job, triggered_by, source, None), self.trigger_lock_wait_s)
        return run_id

    def _background(self, call: JobCall, lock_wait: float) -> None:
        def run() -> None:
            try:
                self._run(call, lock_wait)
            except Exception:  # noqa: S110 - already logged and recorded as JobRun.Failed by _run
                pass

        thread = threading.Thread(target=run, name=f"job-{call.job}-{call.run_id[-8:]}", daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def wait(self, timeout: float) -> bool:
        """Wait for background runs (closing the container, tests); True if none is still running."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in threads)

    def _start(self, job: str, triggered_by: str, source: str) -> str:
        if job not in JOBS:
            raise UnknownJob(f"Unknown trigger: {job}")
        run_id = uuid.uuid4().hex
        self.container.orchestrator.start_job(run_id, job, triggered_by, source)
        return run_id

    def _run(self, call: JobCall, lock_wait: float) -> dict[str, Any]:
        orchestrator = self.container.orchestrator
        run_id, job = call.run_id, call.job
        try:
            with self.exclusive(job, lock_wait), observe_run(self.container, job):  # ADR 0400
                with_run = self.run_jobs.get(job)
                result = with_run(call) if with_run else self.jobs[job](call.triggered_by, call.slot)
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

    @contextmanager
    def exclusive(self, job: str, wait_s: float) -> Iterator[None]:
        """Hold the job's advisory lock for the run (a session lock: it goes with the connection); also taken by
        work that must not interleave with a run of the job, e.g. a position rebuild with ``reconcile``."""
        key = self.container.names.lock_key(f"job/{job}")
        with advisory_locks.hold(self.container.database_url, key, wait_s, False, lambda: JobBusy(job)):
            yield

    def _fail(self, run_id: str, message: str) -> None:
        try:
            self.container.orchestrator.fail_job(run_id, message)
        except Exception:
            log.exception("could not record the failure of run %s", run_id)
