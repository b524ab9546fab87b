"""Operator-declared correlations between two markets: the event-graph edges I3 reads (trading §3.4; ADR 0365).

Two positions in markets that move together are one exposure, and nothing in the system can learn that on its
own, so a named operator declares it with a reason. One aggregate per unordered pair: A-B and B-A are the same
relation (§3.4 reads an edge from either end), a retry or a second operator lands on the same aggregate, and
declarations about different pairs never contend.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.errors import DomainError
from paulp.domain.namespace import PAULP_NAMESPACE
from paulp.domain.risk_correlation import EDGE_TYPE_CAPS, edge_score
from paulp.domain.texts import bounded_text

EDGE_TYPES = tuple(sorted(EDGE_TYPE_CAPS))  # declarable types; the read-time 0.3 cap is for rows from elsewhere
NAME_MAX = 200
REASON_MAX = 2000
_TICKER = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,99}\Z")  # as Kalshi's catalogue spells a ticker ('/' never occurs)


class InvalidCorrelation(DomainError):
    """Raised when a declaration's markets, type, weight or provenance is not acceptable."""

    code = "INVALID_CORRELATION"


class NoActiveCorrelation(DomainError):
    """Raised when a withdrawal names a pair with no declared, unwithdrawn correlation."""

    code = "NO_ACTIVE_CORRELATION"


def correlation_ticker(value: object, field: str = "ticker") -> str:
    """A ticker as the catalogue spells it: a lower-case one would never match a position, so it is refused."""
    ticker = value.strip() if isinstance(value, str) else ""
    if not _TICKER.match(ticker):
        raise InvalidCorrelation(f"{field} must be 1-100 upper-case letters, digits, '.', '_' or '-', got {value!r}")
    return ticker


def correlation_pair(market: object, related: object) -> tuple[str, str]:
    """The two tickers validated and in a fixed order, so either spelling of a pair names one aggregate."""
    a, b = correlation_ticker(market, "market"), correlation_ticker(related, "related market")
    if a == b:
        raise InvalidCorrelation(f"a market cannot be correlated with itself ({a})")
    return (a, b) if a < b else (b, a)


def correlation_type(value: object) -> str:
    """One of the spec's edge types; a misspelt type would silently fall under the 0.3 cap (ADR 0365)."""
    if not isinstance(value, str) or value.strip() not in EDGE_TYPE_CAPS:
        raise InvalidCorrelation(f"type must be one of {', '.join(EDGE_TYPES)}, got {value!r}")
    return value.strip()


def correlation_weight(value: object) -> float:
    number = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
    if not number or not 0 < value <= 1:  # type: ignore[operator]
        raise InvalidCorrelation(f"weight must be a number in (0, 1], got {value!r}")
    return float(value)  # type: ignore[arg-type]


def _text(value: object, field: str, limit: int) -> str:
    return bounded_text(value, field, limit, InvalidCorrelation)


class MarketCorrelation(Aggregate):
    """The relation of one pair of markets: the latest ``Declared`` stands until it is withdrawn."""

    class Registered(Aggregate.Created):
        market_id: str
        related_market_id: str

    class Declared(Aggregate.Event):
        market_id: str  # the pair on every event, so the projection needs no lookup
        related_market_id: str
        correlation_type: str
        weight: float
        actor: str
        reason: str
        declared_at: datetime

    class Withdrawn(Aggregate.Event):
        market_id: str
        related_market_id: str
        actor: str
        reason: str
        withdrawn_at: datetime

    @staticmethod
    def create_id(market_id: str, related_market_id: str) -> UUID:
        """The same id for either order of the pair (the library calls it with ``__init__``'s arguments)."""
        a, b = correlation_pair(market_id, related_market_id)
        return uuid5(PAULP_NAMESPACE, f"market-correlation/{a}/{b}")

    @classmethod
    def register(cls, market: object, related: object) -> MarketCorrelation:
        a, b = correlation_pair(market, related)
        pair: MarketCorrelation = cls(market_id=a, related_market_id=b)
        return pair

    @event(Registered)
    def __init__(self, market_id: str, related_market_id: str) -> None:
        self.market_id = market_id
        self.related_market_id = related_market_id
        self.correlation_type: str | None = None
        self.weight: float | None = None
        self.actor: str | None = None
        self.reason: str | None = None
        self.declared_at: datetime | None = None
        self.withdrawn_at: datetime | None = None
        self.withdrawn_by: str | None = None

    @property
    def active(self) -> bool:
        return self.declared_at is not None and self.withdrawn_at is None

    def effective_score(self) -> float | None:
        """What I3 multiplies the related position by: the weight capped by the type, as the read applies it."""
        if not self.active or self.correlation_type is None:
            return None
        return edge_score(self.correlation_type, self.weight)

    def declare(self, kind: object, weight: object, actor: object, reason: object, now: datetime) -> None:
        """Declare, or replace what stood (a correction is a new ``Declared``, never an edit)."""
        t, w = correlation_type(kind), correlation_weight(weight)
        who, why = _text(actor, "actor", NAME_MAX), _text(reason, "reason", REASON_MAX)
        self._declared(self.market_id, self.related_market_id, t, w, who, why, now)

    @event(Declared)
    def _declared(self, market_id: str, related_market_id: str, correlation_type: str, weight: float, actor: str,
                  reason: str, declared_at: datetime) -> None:
        self.correlation_type, self.weight, self.actor, self.reason = correlation_type, weight, actor, reason
        self.declared_at, self.withdrawn_at, self.withdrawn_by = declared_at, None, None

    def withdraw(self, actor: object, reason: object, now: datetime) -> None:
        who, why = _text(actor, "actor", NAME_MAX), _text(reason, "reason", REASON_MAX)
        if not self.active:
            raise NoActiveCorrelation(f"no active correlation between {self.market_id} and {self.related_market_id}")
        self._withdrawn(self.market_id, self.related_market_id, who, why, now)

    @event(Withdrawn)
    def _withdrawn(self, market_id: str, related_market_id: str, actor: str, reason: str,
                   withdrawn_at: datetime) -> None:
        self.withdrawn_at, self.withdrawn_by = withdrawn_at, actor


# ----------------------------------------------------------------- §3.4 step 3: correlation rules (ADR 0431)

RULE_TYPES = {"category": "same_category", "series": "same_series"}  # the field a rule selects on -> its type
CATEGORY_MAX = 100


class NoActiveRule(DomainError):
    """Raised when a withdrawal names a selector with no declared, unwithdrawn rule."""

    code = "NO_ACTIVE_CORRELATION_RULE"


def rule_selector(field: object, value: object) -> tuple[str, str]:
    """(field, value) of a rule: a category as the venue spells it, or a series ticker (upper case, as tickers)."""
    if field not in RULE_TYPES:
        raise InvalidCorrelation(f"a rule selects on one of {', '.join(RULE_TYPES)}, got {field!r}")
    if field == "series":
        return "series", correlation_ticker(value, "series")
    return "category", _text(value, "category", CATEGORY_MAX)


class MarketCorrelationRule(Aggregate):
    """One operator rule "every market of this category (or series) moves together, at this weight": one
    aggregate per selector, so a change of weight replaces what stood and rules never contend."""

    class Registered(Aggregate.Created):
        field: str
        value: str

    class Declared(Aggregate.Event):
        field: str
        value: str
        rule_type: str
        weight: float
        actor: str
        reason: str
        declared_at: datetime

    class Withdrawn(Aggregate.Event):
        field: str
        value: str
        actor: str
        reason: str
        withdrawn_at: datetime

    @staticmethod
    def create_id(field: str, value: str) -> UUID:
        f, v = rule_selector(field, value)
        return uuid5(PAULP_NAMESPACE, f"market-correlation-rule/{f}/{v}")

    @classmethod
    def register(cls, field: object, value: object) -> MarketCorrelationRule:
        f, v = rule_selector(field, value)
        rule: MarketCorrelationRule = cls(field=f, value=v)
        return rule

    @event(Registered)
    def __init__(self, field: str, value: str) -> None:
        self.field, self.value = field, value
        self.weight: float | None = None
        self.actor: str | None = None
        self.declared_at: datetime | None = None
        self.withdrawn_at: datetime | None = None

    @property
    def rule_type(self) -> str:
        return RULE_TYPES[self.field]

    @property
    def active(self) -> bool:
        return self.declared_at is not None and self.withdrawn_at is None

    def declare(self, weight: object, actor: object, reason: object, now: datetime) -> None:
        w = correlation_weight(weight)
        who, why = _text(actor, "actor", NAME_MAX), _text(reason, "reason", REASON_MAX)
        self._declared(self.field, self.value, self.rule_type, w, who, why, now)

    @event(Declared)
    def _declared(self, field: str, value: str, rule_type: str, weight: float, actor: str, reason: str,
                  declared_at: datetime) -> None:
        self.weight, self.actor, self.declared_at, self.withdrawn_at = weight, actor, declared_at, None

    def withdraw(self, actor: object, reason: object, now: datetime) -> None:
        who, why = _text(actor, "actor", NAME_MAX), _text(reason, "reason", REASON_MAX)
        if not self.active:
            raise NoActiveRule(f"no active correlation rule for {self.field} {self.value!r}")
        self._withdrawn(self.field, self.value, who, why, now)

    @event(Withdrawn)
    def _withdrawn(self, field: str, value: str, actor: str, reason: str, withdrawn_at: datetime) -> None:
        self.withdrawn_at = withdrawn_at
