"""Base of every context's application: one shared log name, infrastructure chosen by env (never imported)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
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
