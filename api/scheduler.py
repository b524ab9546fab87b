"""The §7.1 cron jobs, fired by one leader among the processes that run a scheduler.

Leadership is a PostgreSQL advisory lock held on the scheduler's own connection: when that process dies or
loses its connection the lock goes with it, and another replica's next tick takes over. Leadership only
saves work: each slot is claimed by creating its ``JobRun`` under an id derived from the slot, so even two
leaders (or a restart within the same minute) run a slot once (ADR 0259).

The schedule's time never goes back (ADR 0522): each tick carries the previous tick's time forward by what
``time.monotonic`` measured since, and takes the wall clock only when it reads later. A wall clock stepped back
(NTP) would otherwise land on minutes whose slots already ran, and every job (order timers, exits, reconcile)
would be skipped until the wall caught up again; stepped forward, the latest slot of each job runs once, as
after a stall. Either step is logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import psycopg

from paulp.domain.orchestration import JobRunFinished
from paulp.domain.schedule import (
    MINUTE,
    SCHEDULE,
    VENUE_JOBS,
    ScheduledJob,
    Slot,
    build_schedule,
    due_slots,
    floor_minute,
    slot_minute,
)

log = logging.getLogger("paulp.scheduler")
ABANDONED_AFTER = timedelta(minutes=15)
LAST_SLOT = ("SELECT run_id FROM views.job_runs WHERE source = 'scheduler' AND run_id LIKE 'scheduled:%%'"
             " ORDER BY started_at DESC LIMIT 1")
CLOCK_STEP = timedelta(seconds=30)  # wall and monotonic time disagreeing by more: the wall clock stepped
CLOCK_STEPPED_ALERT = "CLOCK_STEPPED"  # the breaker warning a detected step raises
ABANDONED = ("SELECT run_id, job FROM views.job_runs WHERE state = 'RUNNING' AND started_at < %s"
             " ORDER BY started_at LIMIT 50")
LOCK_HELD = ("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
             " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
             " AND objid = (hashtext(%s)::bigint & 4294967295)::oid")


class CronScheduler:
    def __init__(self, container: Any, entries: Iterable[tuple[str, str]] = SCHEDULE,
                 trading: bool = True, monotonic: Callable[[], float] = time.monotonic) -> None:
        """``trading=False`` (``PAULP_SCHEDULE_TRADING=false``) leaves out the jobs that read or write the
        venue (ingest, scan, execute, reconcile, exits); the anchor and the daily report still run."""
        self.container = container
        jobs, ignored = build_schedule(entries)
        for message in ignored:
            log.warning("schedule entry ignored: %s", message)
        self.jobs: list[ScheduledJob] = [j for j in jobs if trading or j.job not in VENUE_JOBS]
        self._after: datetime | None = None
        self._conn: psycopg.Connection[Any] | None = None
        self._monotonic = monotonic
        self._last: tuple[datetime, float] | None = None  # the schedule's time at the last tick, and monotonic's

    def schedule_now(self) -> datetime:
        """The wall clock's time, or the last tick's carried forward by the monotonic seconds since when that is
        later: a step back of the wall clock never takes the schedule back to slots it has run."""
        wall: datetime = self.container.clock.now()
        mono = self._monotonic()
        if self._last is None:
            now = max(wall, self._last_slot_run() or wall)  # a restart after a step back: not the same slots again
        else:
            carried = self._last[0] + timedelta(seconds=max(mono - self._last[1], 0.0))
            step = wall - carried
            measured = timedelta(seconds=mono - self._last[1])
            if step < -CLOCK_STEP:
                self._stepped(f"wall clock stepped back by {-step} (reads {wall.isoformat()}, {measured} measured"
                              f" since the last tick); the schedule goes on from {carried.isoformat()} and runs no"
                              " slot twice")
            elif step > CLOCK_STEP:
                self._stepped(f"wall clock stepped forward by {step} (reads {wall.isoformat()}, {measured} measured"
                              " since the last tick); each job runs its latest slot once; the minutes in between are"
                              " not run; order timers, HALT and budget periods took the step as time passed")
            now = max(wall, carried)
        self._last = (now, mono)
        return now

    def _stepped(self, message: str) -> None:
        """A step is logged and raised as a ``CLOCK_STEPPED`` breaker warning (recorded, no transition; ADR 0522
        addendum): a step forward may have ended a HALT or every resting order's time, a step back holds new
        orders behind the throttle, and the operator must see either in ``paulp breaker status``, not only in a
        log line. The alert failing to save does not stop the tick."""
        log.warning("%s", message)
        try:
            self.container.breaker.raise_alert(CLOCK_STEPPED_ALERT, "warning", message)
        except Exception:
            log.exception("the clock-step alert could not be recorded")

    def tick(self) -> list[Slot]:
        """Start every due slot this leader can claim; the slots started (their runs go on in the
        background). Not the leader: nothing, and the minutes are not marked as seen."""
        now = self.schedule_now()
        if not self.is_leader():
            self._after = None  # a later leadership starts from its own minute, not from a stale one
            return []
        slots = due_slots(self.jobs, self._after, now)
        started: list[Slot] = []
        unclaimed = False
        for slot in slots:
            try:
                if self.container.jobs.run_slot(slot) is not None:
                    started.append(slot)
            except Exception:
                unclaimed = True  # e.g. the database went away: look at these minutes again next tick
                log.exception("could not start %s", slot.run_id)
        if not unclaimed:
            self._after = floor_minute(now)
        elif self._after is None:
            self._after = floor_minute(now) - MINUTE  # the first tick's own minute stays in view
        try:
            self.reap_abandoned(self.container.clock.now())  # runs started by the wall clock
        except Exception:
            log.exception("could not look for abandoned job runs")
        return started

    def _last_slot_run(self) -> datetime | None:
        """The minute of the slot that started last (any process's), from the job runs view; None if unknown."""
        try:
            with self.container.pool.connection() as conn:
                row = conn.execute(LAST_SLOT).fetchone()
        except psycopg.Error:
            log.exception("could not read the last slot run; the schedule starts from the wall clock")
            return None
        if row is None:
            return None
        try:
            return slot_minute(row[0])
        except ValueError:
            return None

    def reap_abandoned(self, now: datetime) -> list[str]:
        """Runs still RUNNING long after they started while no process holds their job's lock: the process
        that ran them ended mid-run. They are recorded as failed, so the runs list tells the truth. The lock
        is only looked at (``pg_locks``), never taken: taking it could make a real slot of that job fail."""
        reaped: list[str] = []
        with self.container.pool.connection() as conn:
            rows = conn.execute(ABANDONED, (now - ABANDONED_AFTER,)).fetchall()
            for run_id, job in rows:
                key = self.container.names.lock_key(f"job/{job}")
                if conn.execute(LOCK_HELD, (key,)).fetchone() != (0,):
                    continue  # a run of this job is going on somewhere (perhaps this one)
                try:
                    self.container.orchestrator.fail_job(
                        run_id, "Abandoned: the process running it ended before it finished")
                except JobRunFinished:
                    continue  # it did finish; the view had not caught up
                log.warning("job run %s (%s) abandoned mid-run; recorded as failed", run_id, job)
                reaped.append(run_id)
        return reaped

    def is_leader(self) -> bool:
        try:
            if self._conn is not None and not self._conn.closed:
                self._conn.execute("SELECT 1")
                return True
        except psycopg.Error:
            log.warning("scheduler lost its leader connection; trying to lead again")
            self.close()
        key = self.container.names.lock_key("scheduler")
        conn: psycopg.Connection[Any] | None = None
        try:
            conn = psycopg.connect(self.container.database_url, autocommit=True)
            row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,)).fetchone()
        except psycopg.Error:
            log.exception("scheduler could not reach the database to take the lead")
            if conn is not None:
                conn.close()
            return False
        if row and row[0]:
            self._conn = conn
            log.info("scheduler leads %s", key)
            return True
        conn.close()
        return False

    def close(self) -> None:
        """Give up the lead (the lock is released with the connection)."""
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
