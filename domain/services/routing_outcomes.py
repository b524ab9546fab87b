"""Outcomes of governed calls, stored behind the caller (ADR 0275).

The reservation — the decision's plan plus the budget hold — is committed before any provider is called:
that is the write that prevents overspend and leaves a trace of every call in flight. The outcome
(attempts, settle or release) is queued on the category's group commit instead of being saved while the
caller waits. This writer's thread saves it as soon as it wakes (``linger_s`` = 0 by default); a
reservation that takes the category's lock first carries it in its own save. Saving at once measured
better than lingering for a carrier (ADR 0275, session 4 addendum): a reservation that follows idle time
saves 3 events instead of 7, the outcome's commit overlaps the caller's own work, and an outcome is
stored within about a millisecond of the call returning. This thread also builds the outcome's aggregates
(``prepare``), outside the category's lock, so the caller does not (ADR 0435).

``flush()`` is the barrier for readers that need their own outcomes stored (tests, the CLI, shutdown).
A write that fails for a transient reason is retried with backoff; while it keeps failing the hold stays
in the ledger (the money stays counted) and the stale-hold sweep is the backstop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from paulp.domain.errors import DomainError
from paulp.domain.services.routing_commit import Job, JobFn, LedgerBatcher

log = logging.getLogger("paulp.routing.outcomes")

RETRY_BACKOFF_S = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
LINGER_S = 0.0


class OutcomeWriteFailed(RuntimeError):
    """Raised by ``flush`` when an outcome could not be stored after every retry."""


@dataclass
class _Queued:
    category: str
    job: Job  # carries the job function and its time, for a retry
    retries: int = 0
    prepare: Callable[[], object] | None = None  # builds the job's aggregates ahead, outside the lock
    submitted: float = field(default_factory=time.monotonic)


class OutcomeWriter:
    def __init__(self, batchers: Mapping[str, LedgerBatcher], linger_s: float = LINGER_S) -> None:
        self._batchers = batchers
        self._linger_s = linger_s
        self._cond = threading.Condition()
        self._queued: list[_Queued] = []
        self._failures: list[BaseException] = []
        self._retrying = 0  # outcomes taken off the queue to wait out a backoff: still not stored
        self._stopping = False
        self._urgent = False  # a flush is waiting: store now, do not linger
        self._thread: threading.Thread | None = None

    def submit(self, category: str, fn: JobFn, at: datetime, prepare: Callable[[], object] | None = None) -> None:
        """Queue an outcome. ``prepare`` (optional) builds its aggregates: this writer calls it before taking
        the category's lock, so neither the caller nor the lock pays for it (ADR 0435)."""
        with self._cond:
            if self._stopping:
                raise RuntimeError("routing outcome writer is closed")
            self._queued.append(_Queued(category, self._batchers[category].enqueue(fn, at), prepare=prepare))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="paulp-routing-outcomes", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def flush(self, timeout: float = 30.0) -> None:
        """Return once every outcome submitted so far is stored; raise if one could not be."""
        deadline = time.monotonic() + timeout
        with self._cond:
            # Stored already (carried by a caller's save): nothing to wait for.
            self._queued = [q for q in self._queued if not (q.job.done and q.job.error is None)]
            if self._queued:
                self._urgent = True
                self._cond.notify_all()
            while self._queued or self._retrying:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self._queued) + self._retrying} routing outcomes not stored after"
                                       f" {timeout} s")
                self._cond.wait(left)
            failures, self._failures = self._failures, []
        if failures:
            raise OutcomeWriteFailed(f"{len(failures)} routing outcomes could not be stored") from failures[0]

    def close(self, timeout: float = 30.0) -> None:
        try:
            self.flush(timeout)
        finally:
            with self._cond:
                self._stopping = True
                self._cond.notify_all()
            if self._thread is not None:
                self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._cond:
                categories = self._wait_for_due()
                if categories is None:
                    return
                prepares = [q.prepare for q in self._queued if q.prepare is not None and not q.job.done]
            for prepare in prepares:
                try:
                    prepare()
                except Exception:  # left unbuilt: the save that takes it builds it again and reports the error
                    log.exception("could not build a routing outcome ahead of its save")
            for category in categories:
                self._batchers[category].drain()
            self._settle_results()

    def _wait_for_due(self) -> set[str] | None:
        """Sleep until an outcome has waited ``linger_s`` without a caller's save carrying it (or a flush
        or close asks); return the categories to save now, or None to stop. Outcomes that a caller carried
        meanwhile are not a reason to save: draining early would make the next caller wait on our commit."""
        while True:
            if not self._queued:
                if self._stopping:
                    return None
                self._cond.wait()
                continue
            waiting = [q for q in self._queued if not q.job.done]
            if not waiting:
                return set()  # all carried: only results to collect
            left = min(q.submitted for q in waiting) + self._linger_s - time.monotonic()
            if left <= 0 or self._urgent or self._stopping:
                self._urgent = False
                return {q.category for q in waiting}
            self._cond.wait(left)

    def _settle_results(self) -> None:
        """Drop what is stored, record what failed for good, re-queue what failed for a transient reason."""
        with self._cond:
            queued, self._queued = self._queued, []
            keep: list[_Queued] = []
            retry: list[_Queued] = []
            for q in queued:
                if not q.job.done:
                    keep.append(q)  # queued after the drain took the batch: next round
                elif q.job.error is None:
                    continue
                elif isinstance(q.job.error, DomainError) or q.retries >= len(RETRY_BACKOFF_S):
                    log.error("routing outcome for %s lost (%s): its hold stays counted until the stale sweep",
                              q.category, q.job.error)
                    self._failures.append(q.job.error)
                else:
                    retry.append(q)
            self._queued = keep
            if not retry:
                self._cond.notify_all()
                return
            self._retrying = len(retry)  # a flush during the backoff must not see them as stored
        wait = RETRY_BACKOFF_S[max(q.retries for q in retry)]
        log.warning("%d routing outcomes not stored (%s); retrying in %s s", len(retry), retry[0].job.error, wait)
        time.sleep(wait)
        with self._cond:
            for q in retry:
                job = self._batchers[q.category].enqueue(q.job.fn, q.job.at)
                self._queued.append(_Queued(q.category, job, q.retries + 1))
            self._retrying = 0
            self._cond.notify_all()
