"""The §7.1 schedule (api-and-security; trading "Scheduling"): which job is due in which UTC minute.

A slot is one job at one scheduled minute. Its run id is derived from the two, so the ``JobRun`` that
claims it can be created once only: a restart, a slow tick or a second scheduler replica that reaches the
same slot finds it taken instead of running the job twice (§7.1 "idempotent per schedule slot").

Cron here is the five-field form (minute hour day-of-month month day-of-week, all UTC) with ``*``, numbers,
``a-b`` ranges, ``a,b`` lists and ``/n`` steps. As in cron, when both day fields are restricted a day
matches if either does. An expression that does not parse is reported and ignored (§7.1 "unknown cron
expressions are logged and ignored"), never guessed at.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from paulp.domain.errors import DomainError

MINUTE = timedelta(minutes=1)
MAX_CATCH_UP = timedelta(minutes=5)  # a stalled scheduler fires each job's latest missed slot, never a backlog

# (job, cron) as §7.1 lists them; the nightly LLM drift sweep keeps its own idempotent daily key (ADR 0259).
SCHEDULE: tuple[tuple[str, str], ...] = (
    ("ingest", "*/15 * * * *"),
    ("reconcile", "*/5 * * * *"),
    ("scan", "*/10 * * * *"),
    ("execute", "2,12,22,32,42,52 * * * *"),
    ("exits", "*/5 * * * *"),  # trading §3.5 (the reference never wired its monitor; ADR 0260)
    ("anchor", "0 * * * *"),
    ("daily-report", "0 23 * * *"),
    ("verify", "30 2 * * *"),  # the built-in verification suites behind gates 1 and 2 (ADR 0264)
    ("order-timers", "* * * * *"),  # trading §1.5 risk-check and stale-order timers (ADR 0281)
)

# off with PAULP_SCHEDULE_TRADING=false
VENUE_JOBS = frozenset({"ingest", "reconcile", "scan", "execute", "exits", "order-timers"})

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))


class InvalidCron(DomainError):
    """Raised when a cron expression is not the five-field form this scheduler reads."""

    code = "invalid_cron"


@dataclass(frozen=True)
class Cron:
    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday (7 is read as Sunday too)
    days_restricted: bool
    weekdays_restricted: bool

    def matches(self, at: datetime) -> bool:
        at = _utc(at)
        if at.minute not in self.minutes or at.hour not in self.hours or at.month not in self.months:
            return False
        day_ok, weekday_ok = at.day in self.days, (at.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return day_ok or weekday_ok
        return day_ok and weekday_ok


def parse_cron(text: str) -> Cron:
    parts = text.split()
    if len(parts) != len(_FIELDS):
        raise InvalidCron(f"cron {text!r}: expected 5 fields (minute hour day month weekday), got {len(parts)}")
    values = [_field(part, name, low, high, text) for part, (name, low, high) in zip(parts, _FIELDS, strict=True)]
    weekdays = frozenset(0 if d == 7 else d for d in values[4])
    return Cron(text, values[0], values[1], values[2], values[3], weekdays,
                days_restricted=parts[2] != "*", weekdays_restricted=parts[4] != "*")


def _field(part: str, name: str, low: int, high: int, text: str) -> frozenset[int]:
    out: set[int] = set()
    for item in part.split(","):
        base, _, step_text = item.partition("/")
        step = _number(step_text, name, text) if step_text else 1
        if step < 1:
            raise InvalidCron(f"cron {text!r}: {name} step must be at least 1")
        if base == "*":
            start, stop = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, stop = _number(first, name, text), _number(last, name, text)
        else:
            start = _number(base, name, text)
            stop = high if step_text else start
        if not low <= start <= stop <= high:
            raise InvalidCron(f"cron {text!r}: {name} {item!r} outside {low}-{high}")
        out.update(range(start, stop + 1, step))
    return frozenset(out)


def _number(text: str, name: str, expr: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise InvalidCron(f"cron {expr!r}: {name} {text!r} is not a number")
    return int(text)


@dataclass(frozen=True)
class ScheduledJob:
    job: str
    cron: Cron


@dataclass(frozen=True)
class Slot:
    job: str
    minute: datetime  # UTC, seconds and microseconds zero

    @property
    def run_id(self) -> str:
        return slot_run_id(self.job, self.minute)


def slot_run_id(job: str, minute: datetime) -> str:
    return f"scheduled:{job}:{_utc(minute).strftime('%Y-%m-%dT%H:%MZ')}"


def slot_minute(run_id: str) -> datetime:
    """The minute a slot's run id names (``slot_run_id``'s inverse); ValueError when it names none."""
    return datetime.strptime(run_id[-len("YYYY-MM-DDTHH:MMZ"):], "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)


def build_schedule(entries: Iterable[tuple[str, str]]) -> tuple[list[ScheduledJob], list[str]]:
    """The jobs that parse, and one message per entry that does not (to be logged, then ignored)."""
    jobs: list[ScheduledJob] = []
    ignored: list[str] = []
    for job, text in entries:
        try:
            jobs.append(ScheduledJob(job, parse_cron(text)))
        except InvalidCron as exc:
            ignored.append(f"{job}: {exc}")
    return jobs, ignored


def floor_minute(at: datetime) -> datetime:
    return _utc(at).replace(second=0, microsecond=0)


def due_slots(jobs: Iterable[ScheduledJob], after: datetime | None, now: datetime) -> list[Slot]:
    """Each job's latest slot in the minutes after ``after`` up to ``now``'s minute (both as floors).

    ``after`` is the last minute already looked at (None on the first tick: only ``now``'s minute counts,
    so a start-up never fires slots from before it). At most ``MAX_CATCH_UP`` is looked back; for a job
    whose slots were missed several times only the latest one is due."""
    upto = floor_minute(now)
    start = upto if after is None else max(floor_minute(after) + MINUTE, upto - MAX_CATCH_UP + MINUTE)
    slots: list[Slot] = []
    for scheduled in jobs:
        minute = upto
        while minute >= start:
            if scheduled.cron.matches(minute):
                slots.append(Slot(scheduled.job, minute))
                break
            minute -= MINUTE
    return slots


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
