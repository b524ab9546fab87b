"""Base of every context's application: one shared log name, infrastructure chosen by env (never imported)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from paulp.domain.checkpoints import CHECKPOINT_EVERY
from paulp.domain.clock import Clock
from paulp.domain.errors import DomainError

T = TypeVar("T")
OCC_ATTEMPTS = 5
CONFLICT_MESSAGE = ("another writer kept changing the same record while this command was deciding; nothing of this"
                    " last attempt was recorded: reload and try again")


class WriteConflict(DomainError, IntegrityError):
    """Optimistic concurrency lost every time (ADR 0512): another writer saved the aggregate between each load and
    save of ``retry_on_conflict``'s attempts. A domain refusal with code ``conflict`` (HTTP 409, CLI exit 1), and
    still an ``IntegrityError``, so a job that leaves a conflicted record for its next run goes on doing so."""

    code = "conflict"

    def __init__(self, message: str = CONFLICT_MESSAGE) -> None:
        super().__init__(message)


class PaulpApplication(Application):  # type: ignore[type-arg]
    """Named "paulp" so every context's recorder, notification log and tracking share one sequence."""

    name = "paulp"

    def __init__(self, env: Mapping[str, str] | None, clock: Clock) -> None:
        super().__init__(env=env)
        self.clock = clock

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """The library's ``save``, collecting our own aggregates by class instead of by runtime Protocol:
        on Python 3.11 those two ``isinstance`` checks cost ~14 µs per aggregate, on every save of every
        context (ADR 0275, session 4 addendum). Anything else goes through the library's collection."""
        processing: ProcessingEvent[Any] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, Aggregate):
                processing.events.extend(obj.collect_events())
                processing.aggregates[obj.id] = obj
            elif obj is not None:
                processing.collect_events(obj)
        processing.saved_kwargs.update(kwargs)
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        self.notify(processing.events)  # the library's deprecated hook, kept as its save calls it
        return recordings

    def retry_on_conflict(self, command: Callable[[], T]) -> T:
        """Re-run a load-decide-save command when another writer saved the same aggregate first; after
        ``OCC_ATTEMPTS`` lost races, ``WriteConflict`` (code ``conflict``) instead of the store's bare error."""
        return retry_on_conflict(command)

    def get_or_none(self, aggregate_id: UUID) -> Any:
        """The aggregate, or None if it was never created (instead of the library's exception)."""
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def get_checkpointed(self, aggregate_id: UUID, checkpoint: type[Any], resume: Callable[[Sequence[Any]], Any],
                         within: int = 2 * CHECKPOINT_EVERY) -> Any:
        """The aggregate through the cache, which fast-forwards one it holds from the log. One it does not hold yet
        (a process's first load) starts from its last ``checkpoint`` among its latest ``within`` events (twice the
        interval, so one is in reach even after a long save; ADRs 0501, 0503) instead of replaying its whole
        history; with none in reach (stored before checkpoints, or shorter than the interval) it is replayed as
        before. Without a cache the resumed aggregate is returned as it is."""
        cache = self.repository.cache
        if cache is None or not _holds(cache, aggregate_id):
            resumed = self._from_checkpoint(aggregate_id, get_topic(checkpoint), resume, within)
            if resumed is not None:
                if cache is None:
                    return resumed
                cache.put(aggregate_id, resumed)  # the library's get below fast-forwards it and hands out a copy
        return self.get_or_none(aggregate_id)

    def _from_checkpoint(self, aggregate_id: UUID, topic: str, resume: Callable[[Sequence[Any]], Any],
                         within: int) -> Any:
        """The aggregate from its last checkpoint, when one is among its latest events (newest first); else None."""
        latest = list(self.recorder.select_events(aggregate_id, desc=True, limit=within))
        for i, stored in enumerate(latest):
            if stored.topic == topic:
                return resume([self.mapper.to_domain_event(s) for s in reversed(latest[:i + 1])])
        return None

    def last_notification_id(self, recordings: Any) -> int:
        return int(recordings[-1].notification.id) if recordings else 0


def retry_on_conflict(command: Callable[[], T], attempts: int = OCC_ATTEMPTS) -> T:
    """``command()`` run again while its save loses to another writer's (``IntegrityError``); each run must load
    what it decides on. After ``attempts`` lost races, ``WriteConflict``."""
    for attempt in range(attempts):
        try:
            return command()
        except WriteConflict:
            raise  # a nested retry already gave up: the outer one would only multiply its attempts
        except IntegrityError as exc:
            if attempt == attempts - 1:
                raise WriteConflict() from exc
    raise AssertionError("unreachable")


def _holds(cache: Any, key: UUID) -> bool:
    try:
        cache.get(key)
    except KeyError:
        return False
    return True
