"""Operator reviews (api-and-security §1.3): resolving invariant violations and approving market pairs.

An invariant violation is not an aggregate of its own: it is a failed critical invariant inside an
order's risk rejection (``OrderRecord.RiskChecked``), so its id is derived from the order and the
invariant and the log itself says whether it exists. Its resolution is a small aggregate, as is a
cross-venue market pair (proposed, then approved by a named reviewer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.errors import DomainError
from paulp.domain.ids import deterministic_id
from paulp.domain.namespace import PAULP_NAMESPACE
from paulp.domain.risk_results import NAMES, InvariantId

NAME_MAX = 200
NOTES_MAX = 4000
UNSPECIFIED = "RISK_CHECK"  # a rejection that names no invariant (older results, or a bare denial)
BLOCK = "BLOCK"  # trading §9 severities WARNING|BLOCK|HALT: a risk rejection is a block
ORDER_BLOCKED = "ORDER_BLOCKED"


class ReviewerRequired(DomainError):
    """Raised when the body lacks the named person (``resolver`` or ``reviewer``)."""

    code = "validation_error"


class InvalidNotes(DomainError):
    """Raised when ``notes`` is present but not text, or too long."""

    code = "validation_error"


class AlreadyResolved(DomainError):
    """Raised when a violation that was resolved is resolved again (the first resolution stands)."""

    code = "already_resolved"


class AlreadyApproved(DomainError):
    """Raised when an approved pair is approved again (the first review stands)."""

    code = "already_approved"


class PairAlreadyProposed(DomainError):
    """Raised when the same pair is proposed twice."""

    code = "pair_already_proposed"


def reviewer_name(value: object, field: str) -> str:
    """The named person of a review, trimmed; missing, empty or not text is a 400."""
    name = value.strip() if isinstance(value, str) else ""
    if not name:
        raise ReviewerRequired(f"{field.capitalize()} required")
    if len(name) > NAME_MAX:
        raise ReviewerRequired(f"{field.capitalize()} longer than {NAME_MAX} characters")
    return name


def review_notes(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > NOTES_MAX:
        raise InvalidNotes(f"Notes must be text of at most {NOTES_MAX} characters")
    return value


# ------------------------------------------------------------------------------ violations


@dataclass(frozen=True)
class BlockedInvariant:
    invariant_id: str
    name: str
    message: str


def risk_violation_id(order_id: str, invariant_id: str) -> str:
    """``<order id>:<invariant id>``: one rejection per order (RISK_REJECTED is terminal), one row per
    invariant, and the id alone finds the order whose events prove the violation."""
    return f"{order_id}:{invariant_id}"


def parse_violation_id(text: str) -> tuple[str, str] | None:
    order_id, sep, invariant_id = text.rpartition(":")
    return (order_id, invariant_id) if sep and order_id and invariant_id else None


def invariant_name(invariant_id: str) -> str:
    try:
        return NAMES[InvariantId(invariant_id)]
    except ValueError:
        return invariant_id.replace("_", " ").title()


def blocked_invariants(result: Mapping[str, Any]) -> list[BlockedInvariant]:
    """The violations a stored risk result records (``RiskCheckResult.to_dict``); none when approved."""
    if result.get("approved"):
        return []
    ids = [str(i) for i in result.get("invariantIds") or ()]
    messages = [str(m) for m in result.get("violations") or ()]
    count = max(len(ids), len(messages), 1)
    found: dict[str, BlockedInvariant] = {}
    for n in range(count):
        inv = ids[n] if n < len(ids) else (UNSPECIFIED if count == 1 else f"{UNSPECIFIED}_{n + 1}")
        message = messages[n] if n < len(messages) else "Risk check failed"
        found.setdefault(inv, BlockedInvariant(inv, invariant_name(inv), message))
    return list(found.values())


class ViolationResolution(Aggregate):
    """Open until resolved once; carries the named resolver and the authenticated actor."""

    class Opened(Aggregate.Created):
        violation_id: str
        order_id: str
        invariant_id: str

    class Resolved(Aggregate.Event):
        violation_id: str
        resolver: str
        notes: str | None
        actor: str
        at: datetime

    @staticmethod
    def create_id(violation_id: str) -> UUID:
        return uuid5(PAULP_NAMESPACE, f"violation/{violation_id}")

    @event(Opened)
    def __init__(self, violation_id: str, order_id: str, invariant_id: str) -> None:
        self.violation_id, self.order_id, self.invariant_id = violation_id, order_id, invariant_id
        self.resolved = False
        self.resolver: str | None = None
        self.actor: str | None = None
        self.resolved_at: datetime | None = None

    def resolve(self, resolver: str, notes: str | None, actor: str, now: datetime) -> None:
        if self.resolved:
            raise AlreadyResolved("Violation already resolved")
        self._resolved(self.violation_id, resolver, notes, actor, now)

    @event(Resolved)
    def _resolved(self, violation_id: str, resolver: str, notes: str | None, actor: str, at: datetime) -> None:
        self.resolved, self.resolver, self.actor, self.resolved_at = True, resolver, actor, at


# ------------------------------------------------------------------------------ market pairs


@dataclass(frozen=True)
class PairTerms:
    """Two markets on two venues claimed to settle on the same event."""

    venue_a: str
    market_a: str
    venue_b: str
    market_b: str
    equivalence_grade: str | None = None

    @property
    def pair_id(self) -> str:
        return deterministic_id("pair", self.venue_a, self.market_a, self.venue_b, self.market_b)


class MarketPair(Aggregate):
    """pending_review until a named reviewer approves it (once)."""

    class Proposed(Aggregate.Created):
        pair_id: str
        venue_a: str
        market_a: str
        venue_b: str
        market_b: str
        equivalence_grade: str | None
        proposed_by: str
        proposed_at: datetime

    class Approved(Aggregate.Event):
        pair_id: str
        reviewer: str
        notes: str | None
        actor: str
        at: datetime

    @staticmethod
    def create_id(pair_id: str) -> UUID:
        return uuid5(PAULP_NAMESPACE, f"pair/{pair_id}")

    @event(Proposed)
    def __init__(self, pair_id: str, venue_a: str, market_a: str, venue_b: str, market_b: str,
                 equivalence_grade: str | None, proposed_by: str, proposed_at: datetime) -> None:
        self.pair_id = pair_id
        self.terms = PairTerms(venue_a, market_a, venue_b, market_b, equivalence_grade)
        self.proposed_by, self.proposed_at = proposed_by, proposed_at
        self.status = "pending_review"
        self.reviewer: str | None = None
        self.actor: str | None = None
        self.reviewed_at: datetime | None = None

    @classmethod
    def propose(cls, terms: PairTerms, proposed_by: str, now: datetime) -> MarketPair:
        return cls(pair_id=terms.pair_id, venue_a=terms.venue_a, market_a=terms.market_a, venue_b=terms.venue_b,
                   market_b=terms.market_b, equivalence_grade=terms.equivalence_grade, proposed_by=proposed_by,
                   proposed_at=now)

    def approve(self, reviewer: str, notes: str | None, actor: str, now: datetime) -> None:
        if self.status == "approved":
            raise AlreadyApproved("Pair already approved")
        self._approved(self.pair_id, reviewer, notes, actor, now)

    @event(Approved)
    def _approved(self, pair_id: str, reviewer: str, notes: str | None, actor: str, at: datetime) -> None:
        self.status, self.reviewer, self.actor, self.reviewed_at = "approved", reviewer, actor, at
