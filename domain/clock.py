"""Time is an input (design decision 11): services hold a Clock, aggregates receive ``now``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


def iso_utc(at: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ``, the spec's timestamp text; a naive time is taken as UTC."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def from_iso_utc(text: str) -> datetime:
    """The time ``iso_utc`` wrote (the chain's and the spec's timestamp text), timezone-aware."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass (a throttled batch waits out an order spacing, trading §5.2)."""


class FixedClock:
    """A controllable clock for tests, backtests and replays."""

    def __init__(self, at: datetime) -> None:
        self._at = at

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at

    def sleep(self, seconds: float) -> None:
        self._at += timedelta(seconds=seconds)
