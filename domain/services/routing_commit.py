"""Group commit of budget-ledger work: one category's concurrent callers share one save (one transaction).

Each caller queues a job and takes the category's lock; whoever holds the lock runs every queued job
against working copies of the ledgers and saves them all at once, so 50 concurrent calls cost a few
commits instead of 50. Ledgers are kept in memory as they were last saved by this process and worked on
in place (no copy per batch); if a save fails for any reason the in-memory ledgers are dropped, so the
next attempt reloads them from the log. A write by another process shows up as an optimistic-concurrency
conflict, after which the whole batch is re-run (jobs must be re-runnable: they build their aggregates
anew).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from paulp.domain.budget_ledger import BudgetPeriodLedger, ledger_ids
from paulp.domain.checkpoints import CHECKPOINT_EVERY
from paulp.domain.errors import DomainError
from paulp.domain.services.base import WriteConflict

OCC_ATTEMPTS = 25
T = TypeVar("T")

# A job gets (daily, monthly) working ledgers, mutates them all-or-nothing, and returns
# (its result, other aggregates to save in the same transaction).
JobFn = Callable[[BudgetPeriodLedger, BudgetPeriodLedger], tuple[Any, Sequence[Aggregate]]]


@dataclass
class Job:
    fn: JobFn
    at: datetime
    result: Any = None
    error: BaseException | None = None
    notification_id: int = 0
    done: bool = False
    extras: list[Aggregate] = field(default_factory=list)


class Prebuilt(Generic[T]):
    """A job's aggregates, built ahead by whichever thread asks first (``prepare``) and handed over once
    (``take``); a later take (a batch re-run after a failed save, which collected the first copies' events)
    builds them afresh. Lets the outcome writer build a call's outcome off the caller's thread and outside
    the category's lock (ADR 0435)."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._value: T | None = None
        self._taken = False

    def prepare(self) -> None:
        with self._lock:
            if not self._taken and self._value is None:
                self._value = self._build()

    def take(self) -> T:
        with self._lock:
            value, self._value, self._taken = self._value, None, True
        return value if value is not None else self._build()


class LedgerBatcher:
    def __init__(self, category: str, load: Callable[[str, UUID, datetime, bool], BudgetPeriodLedger],
                 save: Callable[..., int]) -> None:
        self.category = category
        self._load = load  # (category, ledger id, at, daily?) -> ledger from the log (or a new one)
        self._save = save  # (*aggregates) -> last notification id
        self.lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[Job] = []
        self._saved: dict[UUID, BudgetPeriodLedger] = {}  # as last saved by this process (under self.lock)

    def run(self, fn: JobFn, at: datetime) -> Job:
        """Run a job now: saved in this caller's batch, or in the batch that got the lock first."""
        job = self.enqueue(fn, at)
        with self.lock:
            if not job.done:
                self._commit_queued()
        return job

    def enqueue(self, fn: JobFn, at: datetime) -> Job:
        """Queue a job without waiting: the next ``run`` or ``drain`` of this category saves it."""
        job = Job(fn, at)
        with self._queue_lock:
            self._queue.append(job)
        return job

    def drain(self) -> None:
        """Save whatever is queued (the outcome writer calls this when no caller came by to carry it)."""
        with self.lock:
            self._commit_queued()

    def _commit_queued(self) -> None:
        """Under ``self.lock``: take everything queued so far and save it as one batch."""
        with self._queue_lock:
            batch, self._queue = self._queue, []
        if batch:
            self._commit(batch)

    def forget(self) -> None:
        """Drop the in-memory ledgers (another writer of this process changed them)."""
        self._saved.clear()

    def _working(self, ledger_id: UUID, at: datetime, daily: bool) -> BudgetPeriodLedger:
        saved = self._saved.get(ledger_id)
        return saved if saved is not None else self._load(self.category, ledger_id, at, daily)

    def _commit(self, batch: list[Job]) -> None:
        for attempt in range(OCC_ATTEMPTS):
            try:
                self._attempt(batch)
                return
            except IntegrityError as exc:
                self._saved.clear()
                if attempt == OCC_ATTEMPTS - 1:
                    conflict = WriteConflict()  # a refusal with code ``conflict`` (HTTP 409), still an IntegrityError
                    conflict.__cause__ = exc
                    self._fail(batch, conflict)
                    return
            except Exception as exc:
                self._saved.clear()
                self._fail(batch, exc)
                return

    def _attempt(self, batch: list[Job]) -> None:
        try:
            self._attempt_in_place(batch)
        except BaseException:
            self._saved.clear()  # possibly changed and not stored: reload from the log next time
            raise

    def _attempt_in_place(self, batch: list[Job]) -> None:
        ledgers: dict[UUID, BudgetPeriodLedger] = {}
        extras: list[Aggregate] = []
        for job in batch:
            d_id, m_id = ledger_ids(self.category, job.at)
            daily = ledgers.get(d_id) or ledgers.setdefault(d_id, self._working(d_id, job.at, True))
            monthly = ledgers.get(m_id) or ledgers.setdefault(m_id, self._working(m_id, job.at, False))
            job.error, job.result = None, None
            try:
                result, more = job.fn(daily, monthly)
                job.result, job.extras = result, list(more)
                extras.extend(more)
            except DomainError as exc:
                job.error = exc
        # a ledger only opened (nothing recorded yet) is not worth a row; it is saved with its first fact
        for ledger in ledgers.values():  # a load replays at most about this many events (ADR 0501)
            if ledger.pending_events:
                ledger.checkpoint_if_due(CHECKPOINT_EVERY)
        changed = [lg for lg in ledgers.values()
                   if any(not isinstance(e, BudgetPeriodLedger.Opened) for e in lg.pending_events)]
        nid = self._save(*extras, *changed) if extras or changed else 0
        for ledger_id, ledger in ledgers.items():
            self._saved[ledger_id] = ledger
        for job in batch:
            job.notification_id, job.done = nid, True

    @staticmethod
    def _fail(batch: list[Job], exc: BaseException) -> None:
        for job in batch:
            job.error, job.done = exc, True
