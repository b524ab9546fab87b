"""Venue order history (api-and-security §1.3 "venue record shapes"): what each execution venue reports.

One aggregate per (venue, order id). The record is the venue's own shape, kept whole so the trade view
shows exactly what the venue said; updates merge new fields over old ones.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.errors import DomainError
from paulp.domain.exact import as_decimal as _exact
from paulp.domain.namespace import PAULP_NAMESPACE


class Venue(StrEnum):
    KALSHI = "kalshi"
    IBKR = "ibkr"


class InvalidVenueRecord(DomainError):
    """Raised when a venue record names an unknown venue."""

    code = "invalid_venue_record"


def parse_venue(value: str) -> Venue:
    try:
        return Venue(value.lower())
    except ValueError:
        raise InvalidVenueRecord(f"Unknown venue {value!r}") from None


def as_record(value: Any) -> dict[str, Any]:
    """The venue's record as an object: a non-object report is kept as ``{"raw": value}`` (§1.3 step 4)."""
    return dict(value) if isinstance(value, dict) else {"raw": value}


# Kalshi's spellings of two statuses we write ourselves (trading §1.6/§9: ``filled`` | ``cancelled``), read as ours
# wherever a status is compared (the trade view's filter column, ``GET /admin/trades?status=``; ADR 0336).
STATUS_SYNONYMS = {"canceled": "cancelled", "executed": "filled"}


def status_key(status: str) -> str:
    """What a status is compared by: lower-cased (§1.3: case-insensitive), one spelling per status."""
    lowered = status.lower()
    return STATUS_SYNONYMS.get(lowered, lowered)


def record_order_id(record: dict[str, Any]) -> str:
    """The key of a venue record: its ``order_id`` (a string, or a venue's numeric id as text); a record
    without one is still history the venue reported, keyed by a hash of its content so that the same report
    twice is recorded once."""
    oid = record.get("order_id")
    if isinstance(oid, str) and oid.strip():
        return oid
    if isinstance(oid, int) and not isinstance(oid, bool):
        return str(oid)
    content = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "content-" + hashlib.sha256(content.encode()).hexdigest()[:32]


def same_value(old: Any, new: Any) -> bool:
    """Whether the venue reported ``old`` again, compared exactly rather than by Python's ``==`` (ADR 0363).

    ``==`` says ``True == 1`` (a change missed), ``Decimal("42.35") != 42.35`` and ``nan != nan`` (an update
    recorded on every report of the same value). Here numbers are equal when their decimal values are (a float
    read as the decimal it prints as, so 42.0, 42 and Decimal("42.0000") are one price; NaN is NaN), a bool
    equals only a bool, text only the same text, and lists and objects are compared item by item."""
    if isinstance(old, bool) or isinstance(new, bool):
        return type(old) is type(new) and old == new
    if isinstance(old, int | float | Decimal) and isinstance(new, int | float | Decimal):
        a, b = _exact(old), _exact(new)
        return a.is_nan() and b.is_nan() if a.is_nan() or b.is_nan() else a == b
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        return old.keys() == new.keys() and all(same_value(old[k], new[k]) for k in old)
    if isinstance(old, list | tuple) and isinstance(new, list | tuple):
        return len(old) == len(new) and all(same_value(a, b) for a, b in zip(old, new, strict=True))
    return bool(old == new)  # text (a StrEnum is its text), None, anything else the record may hold


def venue_order_id(venue: str, order_id: str) -> UUID:
    return uuid5(PAULP_NAMESPACE, f"venue-order/{venue}/{order_id}")


class VenueOrder(Aggregate):
    class Recorded(Aggregate.Created):
        venue: str
        order_id: str
        record: dict[str, Any]
        at: datetime

    class Updated(Aggregate.Event):
        venue: str
        order_id: str
        changes: dict[str, Any]
        at: datetime

    @staticmethod
    def create_id(venue: str, order_id: str, record: dict[str, Any], at: datetime) -> UUID:
        return venue_order_id(venue, order_id)

    id_for = staticmethod(lambda venue, order_id: venue_order_id(venue, order_id))

    @event(Recorded)
    def __init__(self, venue: str, order_id: str, record: dict[str, Any], at: datetime) -> None:
        self.venue = venue
        self.order_id = order_id
        self.record = dict(record)

    def update(self, record: dict[str, Any], at: datetime) -> bool:
        """Merge what changed; an identical report records nothing (idempotent webhooks and retries), judged by
        ``same_value``. A field the record does not hold yet is a change even when the venue reports it as null
        (kept whole)."""
        changes = {k: v for k, v in record.items() if k not in self.record or not same_value(self.record[k], v)}
        if not changes:
            return False
        self._updated(self.venue, self.order_id, changes, at)
        return True

    @event(Updated)
    def _updated(self, venue: str, order_id: str, changes: dict[str, Any], at: datetime) -> None:
        self.record = {**self.record, **changes}
