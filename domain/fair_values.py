"""Operator-supplied fair YES probabilities per market (trading §6.1 "supplied fair probability"; ADR 0277).

A bond is only signalled when a fair probability above its price shows edge, and nothing in the system
computes one, so a named operator sets it with a source and a reason, for a bounded time. An expired or
withdrawn value counts for nothing: the scan then falls back to the market price and emits no bond.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.errors import DomainError
from paulp.domain.namespace import PAULP_NAMESPACE
from paulp.domain.texts import bounded_text

MAX_VALIDITY = timedelta(days=7)  # a week-old view of a market is stale research; set it again
DEFAULT_VALIDITY = timedelta(hours=24)
NAME_MAX = 200  # actor, source
REASON_MAX = 2000
_TICKER = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,99}\Z")


class InvalidFairValue(DomainError):
    """Raised when a fair value's ticker, probability, validity or provenance is not acceptable."""

    code = "INVALID_FAIR_VALUE"


class NoCurrentFairValue(DomainError):
    """Raised when a withdrawal names a ticker with no current value (never set, withdrawn or expired)."""

    code = "NO_CURRENT_FAIR_VALUE"


def fair_ticker(value: object) -> str:
    """A Kalshi ticker as the catalogue spells it (upper case): a lower-case one would never match a market."""
    ticker = value.strip() if isinstance(value, str) else ""
    if not _TICKER.match(ticker):
        raise InvalidFairValue(f"ticker must be 1-100 upper-case letters, digits, '.', '_' or '-', got {value!r}")
    return ticker


def _text(value: object, field: str, limit: int) -> str:
    return bounded_text(value, field, limit, InvalidFairValue)


def _probability(value: object) -> float:
    number = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
    if not number or not 0 < value < 1:  # type: ignore[operator]
        raise InvalidFairValue(f"probability must be a number strictly between 0 and 1, got {value!r}")
    return float(value)  # type: ignore[arg-type]


class FairValue(Aggregate):
    """The fair probability of one market's YES: the latest ``Set`` stands until it expires or is withdrawn."""

    class Registered(Aggregate.Created):
        ticker: str

    class Set(Aggregate.Event):
        ticker: str  # on every event, so a subscriber or view needs no lookup of the aggregate
        probability: float
        source: str
        reason: str
        actor: str
        set_at: datetime
        valid_until: datetime

    class Withdrawn(Aggregate.Event):
        ticker: str
        actor: str
        reason: str
        withdrawn_at: datetime

    @staticmethod
    def create_id(ticker: str) -> UUID:
        return uuid5(PAULP_NAMESPACE, f"fair-value/{ticker}")

    @event(Registered)
    def __init__(self, ticker: str) -> None:
        self.ticker = ticker
        self.probability: float | None = None
        self.source: str | None = None
        self.reason: str | None = None
        self.actor: str | None = None
        self.set_at: datetime | None = None
        self.valid_until: datetime | None = None
        self.withdrawn_at: datetime | None = None

    def set(self, probability: object, source: object, reason: object, actor: object, now: datetime,
            valid_until: datetime) -> None:
        """Replace whatever stood (a correction is a new ``Set``, never an edit)."""
        p = _probability(probability)
        who, src, why = _text(actor, "actor", NAME_MAX), _text(source, "source", NAME_MAX), _text(
            reason, "reason", REASON_MAX)
        if valid_until <= now:
            raise InvalidFairValue(f"valid_until {valid_until.isoformat()} is not after now ({now.isoformat()})")
        if valid_until - now > MAX_VALIDITY:
            raise InvalidFairValue(f"a fair value may be valid for at most {MAX_VALIDITY.days} days")
        self._set(self.ticker, p, src, why, who, now, valid_until)

    @event(Set)
    def _set(self, ticker: str, probability: float, source: str, reason: str, actor: str, set_at: datetime,
             valid_until: datetime) -> None:
        self.probability, self.source, self.reason, self.actor = probability, source, reason, actor
        self.set_at, self.valid_until, self.withdrawn_at = set_at, valid_until, None

    def withdraw(self, actor: object, reason: object, now: datetime) -> None:
        who, why = _text(actor, "actor", NAME_MAX), _text(reason, "reason", REASON_MAX)
        if not self.is_current(now):
            raise NoCurrentFairValue(f"no current fair value for {self.ticker} to withdraw")
        self._withdrawn(self.ticker, who, why, now)

    @event(Withdrawn)
    def _withdrawn(self, ticker: str, actor: str, reason: str, withdrawn_at: datetime) -> None:
        self.withdrawn_at = withdrawn_at

    def is_current(self, now: datetime) -> bool:
        """Set, not withdrawn, and ``now`` before its expiry (fail closed: at ``valid_until`` it is gone)."""
        return (self.probability is not None and self.valid_until is not None and self.withdrawn_at is None
                and now < self.valid_until)


def current_fair_probabilities(values: Iterable[FairValue], now: datetime) -> dict[str, float]:
    """Ticker -> probability of the values that count at ``now``; expired and withdrawn ones are left out."""
    return {v.ticker: v.probability for v in values if v.is_current(now) and v.probability is not None}
