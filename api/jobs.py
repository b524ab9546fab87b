"""The job runner behind ``POST /admin/orchestrator/trigger/{job}`` and ``/webhooks/trigger/{job}``
(api-and-security §1.3, §1.6, §7.1): one code path per job whatever triggered it.

Every trigger is a ``JobRun``: started (with the actor and where the trigger came from) before the job
runs, then completed with the job's own report or failed with a safe message. A job whose inputs are
unavailable raises ``JobFailed``; anything unexpected is logged here and reported as a plain failure.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from eventsourcing.persistence import IntegrityError

from paulp.adapters.book_history import prune_changes
from paulp.adapters.evidence_store import EvidenceStore, fetch_recorder
from paulp.adapters.files import TempFiles, sweep_temp_files
from paulp.adapters.kalshi.client import KalshiClient
from paulp.adapters.kalshi.client_errors import KalshiError
from paulp.adapters.kalshi.venue import KalshiVenue
from paulp.api import advisory_locks, shutdown
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
FINISHING_WAIT_S = 2.0  # a run recording its own outcome when the process gives up on the others: let it end
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
            "mode": outcome.plan.mode, "fromSequence": outcome.plan.start,
            "tempFilesSwept": {name: found.removed for name, found in sweep_temp_folders(container.settings).items()}}


def sweep_temp_folders(settings: Any, remove: bool = True) -> dict[str, TempFiles]:
    """The temp files a crash mid-write left in the evidence store and the audit mirror, those older than an hour
    deleted (with ``remove``): by the hourly anchor job, and counted by ``paulp doctor`` (ADR 0524)."""
    folders = {"evidence": settings.evidence_dir(), "mirror": settings.PAULP_AUDIT_MIRROR_DIR}
    found = {name: sweep_temp_files(root, time.time(), remove=remove) for name, root in folders.items()
             if root is not None}
    for name, files in found.items():
        if files.removed:
            log.warning("removed %d temp file(s) left by a crash mid-write from the %s folder", files.removed, name)
    return found


def daily_report_job(container: Any, slot_minute: datetime | None) -> dict[str, Any]:
    """§7.1 ``daily-report`` for the UTC day of its slot (23:00 reports the day that is ending); then the risk
    book's change journal is pruned of what no kept prefix can still need (``bookChangesPruned``, ADR 0526)."""
    day = (slot_minute or container.clock.now()).astimezone(UTC).date()
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    with container.pool.connection() as conn:
        rows = conn.execute(DAY_ORDERS, (start, start + timedelta(days=1))).fetchall()
    report = daily_report(day, [MetricsInput(OrderState(state), created, filled, None if clv is None else float(clv))
                                for state, created, filled, clv in rows])
    with container.pool.connection() as conn, conn.transaction():
        pruned = prune_changes(conn, container.clock.now())
    return {**report, "bookChangesPruned": pruned}


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


@dataclass
class _Running:
    """A run going on in this process: ``running``, ``finishing`` (recording its own outcome) or ``given_up``
    (recorded as interrupted or stopped by a process that stopped waiting for it)."""

    call: JobCall
    thread: threading.Thread
    state: str = "running"


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
        self._runs: dict[str, _Running] = {}

    def trigger(self, job: str, triggered_by: str = "webhook", source: str = "webhook") -> dict[str, Any]:
        return self.run_now(job, triggered_by, source)[1]

    def run_now(self, job: str, triggered_by: str, source: str) -> tuple[str, dict[str, Any]]:
        """Run the job now as a ``JobRun`` and wait for it; (its run id, its report)."""
        run_id, done = self.start_now(job, triggered_by, source)
        return run_id, self.result(run_id, done)

    def start_now(self, job: str, triggered_by: str, source: str) -> tuple[str, Future[dict[str, Any]]]:
        """Start the job now as a ``JobRun``; (its run id, its report to come). Every run goes on a thread of
        the runner's (ADR 0515), also one a caller waits for: a process stopping can then give up on it when its
        grace ends, and an HTTP request awaiting it holds no worker thread that the interpreter's exit would
        have to wait for."""
        run_id = self._start(job, triggered_by, source)
        return run_id, self._spawn(JobCall(run_id, job, triggered_by, source, None), self.trigger_lock_wait_s)

    def result(self, run_id: str, done: Future[dict[str, Any]]) -> dict[str, Any]:
        """Wait for a run ``start_now`` started. A wait that Ctrl-C or SIGTERM ends (a one-shot command) records
        the run as interrupted: it used to stay RUNNING until a scheduler reaped it 15 minutes later."""
        try:
            return done.result()
        except (KeyboardInterrupt, SystemExit):
            by = shutdown.received()
            self.give_up(run_id, f"Interrupted: the command running it was stopped ({by.name if by else 'exit'})"
                                 " before the run finished; what it recorded until then stands")
            raise

    def run_slot(self, slot: Slot) -> str | None:
        """Claim a schedule slot and start its run in the background; None when the slot was already
        claimed (a restart, a late tick or another replica got there first: the run id is the slot's)."""
        try:
            self.container.orchestrator.start_job(slot.run_id, slot.job, SCHEDULER, SCHEDULER)
        except IntegrityError:
            return None
        self._spawn(JobCall(slot.run_id, slot.job, SCHEDULER, SCHEDULER, slot.minute), lock_wait=0.0)
        return slot.run_id

    def trigger_in_background(self, job: str, triggered_by: str = "webhook", source: str = "webhook") -> str:
        """Start the job and return its run id at once (a webhook that only *triggers*, §1.6): the start is
        durable before this returns; the outcome is the run's Completed or Failed event."""
        return self.start_now(job, triggered_by, source)[0]

    def _spawn(self, call: JobCall, lock_wait: float) -> Future[dict[str, Any]]:
        done: Future[dict[str, Any]] = Future()
        done.set_running_or_notify_cancel()  # a waiter that gives up (a cancelled request) cannot cancel the run
        context = contextvars.copy_context()

        def run() -> None:
            try:
                done.set_result(context.run(self._run, call, lock_wait))
            except BaseException as exc:  # already logged and recorded as JobRun.Failed by _run
                done.set_exception(exc)
            finally:
                with self._lock:
                    self._runs.pop(call.run_id, None)

        thread = threading.Thread(target=run, name=f"job-{call.job}-{call.run_id[-8:]}", daemon=True)
        with self._lock:
            self._runs[call.run_id] = _Running(call, thread)
        thread.start()
        return done

    def wait(self, timeout: float) -> bool:
        """Wait for the runs going on in this process (closing the container, tests); True if none is still
        running (a run given up on is not waited for)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = [r.thread for r in self._runs.values() if r.state != "given_up"]
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in threads)

    def stop(self, wait_s: float) -> list[str]:
        """A stopping process's last word on its runs: wait up to ``wait_s`` for them, then record each one
        still running as stopped (the run list tells the truth at once, not when a scheduler reaps it 15 minutes
        later); the ids given up on. A run's own thread dies with the process: what it had sent to the venue is
        already recorded as in flight (SUBMITTING, or an exit DECIDED) and is settled by client order id."""
        if self.wait(wait_s):
            return []
        with self._lock:
            running = [r.call.run_id for r in self._runs.values() if r.state == "running"]
        message = (f"Stopped: the process running it was told to stop and the run had not finished {wait_s:.0f} s"
                   " later (PAULP_SHUTDOWN_GRACE_S); what it recorded until then stands")
        given = [run_id for run_id in running if self.give_up(run_id, message)]
        if given:
            log.warning("stopping with %d job run(s) unfinished, recorded as stopped: %s", len(given),
                        ", ".join(given))
        self.wait(FINISHING_WAIT_S)  # runs that were recording their own outcome
        return given

    def give_up(self, run_id: str, message: str) -> bool:
        """Record a run still going on as failed with ``message``; False when it is already recording its own
        outcome (or has ended). Whatever the run does afterwards is logged, not recorded."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is None or run.state != "running":
                return False
            run.state = "given_up"
        self._fail(run_id, message)
        return True

    def _finishing(self, call: JobCall) -> bool:
        """The run may record its own outcome: False when the process gave up on it first."""
        with self._lock:
            run = self._runs.get(call.run_id)
            if run is not None and run.state == "given_up":
                return False
            if run is not None:
                run.state = "finishing"
            return True

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
            if not self._finishing(call):
                log.warning("job %s (run %s), given up on at shutdown, then failed: %s", job, run_id, exc.code)
                raise
            log.warning("job %s (run %s) failed: %s", job, run_id, exc.code)
            self._fail(run_id, exc.message)
            raise
        except Exception as exc:
            if not self._finishing(call):
                log.warning("job %s (run %s), given up on at shutdown, then ended with %s", job, run_id,
                            type(exc).__name__)
                raise
            log.exception("job %s (run %s) crashed", job, run_id)
            self._fail(run_id, "Job failed (internal error; see the log for run " + run_id + ")")
            raise
        if not self._finishing(call):
            log.warning("job %s (run %s) finished after the process gave up on it at shutdown: its report is not"
                        " recorded (the run is recorded as stopped)", job, run_id)
            return result
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
