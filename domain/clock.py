"""Time is an input (design decision 11): services hold a Clock, aggregates receive ``now``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


def iso_utc(at: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ``, the spec's timestamp text; a naive time is taken as UTC."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


class Clock(Protocol):
    def now(self) -> datetime: ...


class FixedClock:
    """A controllable clock for tests, backtests and replays."""

    def __init__(self, at: datetime) -> None:
        self._at = at

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at
