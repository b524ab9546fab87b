"""Base of every context's application: one shared log name, infrastructure chosen by env (never imported)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from paulp.domain.clock import Clock

T = TypeVar("T")
OCC_ATTEMPTS = 5


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
        """Re-run a load-decide-save command when another writer saved the same aggregate first."""
        for attempt in range(OCC_ATTEMPTS):
            try:
                return command()
            except IntegrityError:
                if attempt == OCC_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def get_or_none(self, aggregate_id: UUID) -> Any:
        """The aggregate, or None if it was never created (instead of the library's exception)."""
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def last_notification_id(self, recordings: Any) -> int:
        return int(recordings[-1].notification.id) if recordings else 0
