"""Two-person go-live approval (api-and-security §1.3, resolution): a small process-manager aggregate.

The first accepted call by operator A records a pending request for 24 h; the same body confirmed by
a different authenticated operator B appends one ``WentLive`` event carrying mode, capital, both
approvers and both actors, so a go-live is never half applied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, DecimalException, InvalidOperation
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.errors import DomainError
from paulp.domain.namespace import PAULP_NAMESPACE

REQUEST_TTL = timedelta(hours=24)


class TwoPersonRequired(DomainError):
    """Raised when either approver name is empty."""

    code = "two_person_required"


class SameApprover(DomainError):
    """Raised when both approver names are the same person (trimmed, case-insensitive)."""

    code = "same_approver"


class InvalidCapital(DomainError):
    """Raised when the capital allocation is not a positive finite amount."""

    code = "invalid_capital"


class SameActor(DomainError):
    """Raised when the operator who opened the request tries to confirm it."""

    code = "same_actor"


class RequestMismatch(DomainError):
    """Raised when the confirming call's body differs from the pending request."""

    code = "request_mismatch"


class RequestExpired(DomainError):
    """Raised when the pending request is older than 24 h (the request is closed by this call)."""

    code = "request_expired"


@dataclass(frozen=True)
class GoLiveTerms:
    """The validated body: what both operators must agree on."""

    approver: str
    second_approver: str
    capital_cents: int

    def same_as(self, other: GoLiveTerms) -> bool:
        def norm(name: str) -> str:
            return name.strip().casefold()

        return (self.capital_cents == other.capital_cents and norm(self.approver) == norm(other.approver)
                and norm(self.second_approver) == norm(other.second_approver))


def validate_terms(approver: object, second_approver: object, capital_usd: object) -> GoLiveTerms:
    """Checks 1-3 of §1.3 in order, with the exact reference messages."""
    first = approver.strip() if isinstance(approver, str) else ""
    second = second_approver.strip() if isinstance(second_approver, str) else ""
    if not first or not second:
        raise TwoPersonRequired("Two-person approval required")
    if first.casefold() == second.casefold():
        raise SameApprover("Second approver must be different person")
    cents = _positive_cents(capital_usd)
    if cents is None:
        raise InvalidCapital("Valid capital allocation required")
    return GoLiveTerms(first, second, cents)


def _positive_cents(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount <= 0:
        return None
    # Check 3 is "> 0" on the amount as sent; an amount under half a cent passes it and is refused only once
    # the later checks have passed (``GoLiveService``: nothing to allocate), so the spec's check order holds.
    try:
        return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except DecimalException:  # more cents than the context's 28 digits (1e30, '1e999999'): no amount (ADR 0495)
        return None


@dataclass(frozen=True)
class Confirmed:
    request_id: str
    requested_by: str
    confirmed_by: str
    approved_at: datetime


@dataclass(frozen=True)
class Pending:
    request_id: str
    expires_at: datetime


class GoLiveApproval(Aggregate):
    """One per strategy; found again through its uuid5 id."""

    class Created(Aggregate.Created):
        strategy: str

    class Requested(Aggregate.Event):
        request_id: str
        approver: str
        second_approver: str
        capital_cents: int
        requested_by: str
        requested_at: datetime
        expires_at: datetime

    class RequestClosed(Aggregate.Event):
        request_id: str
        reason: str
        at: datetime

    class WentLive(Aggregate.Event):
        request_id: str
        approver: str
        second_approver: str
        capital_cents: int
        mode: str
        actors: list[str]
        approved_at: datetime

    @staticmethod
    def create_id(strategy: str) -> UUID:
        return uuid5(PAULP_NAMESPACE, f"golive/{strategy}")

    @event(Created)
    def __init__(self, strategy: str) -> None:
        self.strategy = strategy
        self.pending: GoLiveTerms | None = None
        self.pending_id: str | None = None
        self.requested_by: str | None = None
        self.expires_at: datetime | None = None
        self.live_terms: GoLiveTerms | None = None
        self.live_request_id: str | None = None
        self.approved_at: datetime | None = None
        self.actors: list[str] = []
        self.went_live_version = 0  # the version of the last WentLive (0: never live)

    # ----------------------------------------------------------------- command (decide)

    def repeat_of_went_live(self, terms: GoLiveTerms, actor: str) -> Confirmed | None:
        """The last go-live, when one of its two operators asks for it again with its terms (a retried request whose
        answer was lost, ADR 0517): its confirmation, to be answered again with nothing recorded. None otherwise.
        Whether the strategy is still live from that go-live is the caller's to know (its status lives elsewhere)."""
        if self.live_terms is None or self.live_request_id is None or self.approved_at is None:
            return None
        if not self.live_terms.same_as(terms) or actor.strip().casefold() not in {
                a.strip().casefold() for a in self.actors}:
            return None
        return Confirmed(self.live_request_id, self.actors[0], self.actors[1], self.approved_at)

    def approve(self, terms: GoLiveTerms, actor: str, now: datetime, new_request_id: str) -> Pending | Confirmed:
        """Open a request, or confirm the open one when called by a different operator with the same terms."""
        if self.pending is None or self.pending_id is None or self.requested_by is None:
            expires = now + REQUEST_TTL
            self._requested(new_request_id, terms.approver, terms.second_approver, terms.capital_cents, actor,
                            now, expires)
            return Pending(new_request_id, expires)
        assert self.expires_at is not None
        if now > self.expires_at:
            self._closed(self.pending_id, "expired", now)
            raise RequestExpired("Go-live request expired")
        if actor.strip().casefold() == self.requested_by.strip().casefold():
            raise SameActor("Go-live must be confirmed by a different operator")
        if not self.pending.same_as(terms):
            raise RequestMismatch("Go-live confirmation does not match the pending request")
        request_id, requested_by = self.pending_id, self.requested_by
        self._went_live(request_id, self.pending.approver, self.pending.second_approver,
                        self.pending.capital_cents, "LIVE", [requested_by, actor], now)
        return Confirmed(request_id, requested_by, actor, now)

    # ----------------------------------------------------------------- events (apply)

    @event(Requested)
    def _requested(self, request_id: str, approver: str, second_approver: str, capital_cents: int,
                   requested_by: str, requested_at: datetime, expires_at: datetime) -> None:
        self.pending = GoLiveTerms(approver, second_approver, capital_cents)
        self.pending_id, self.requested_by, self.expires_at = request_id, requested_by, expires_at

    @event(RequestClosed)
    def _closed(self, request_id: str, reason: str, at: datetime) -> None:
        self.pending, self.pending_id, self.requested_by, self.expires_at = None, None, None, None

    @event(WentLive)
    def _went_live(self, request_id: str, approver: str, second_approver: str, capital_cents: int, mode: str,
                   actors: list[str], approved_at: datetime) -> None:
        self.live_terms = GoLiveTerms(approver, second_approver, capital_cents)
        self.live_request_id, self.approved_at, self.actors = request_id, approved_at, list(actors)
        self.went_live_version = self.version + 1  # applied before the library moves ``version`` to this event's
        self.pending, self.pending_id, self.requested_by, self.expires_at = None, None, None, None

    @property
    def is_live(self) -> bool:
        return self.live_terms is not None
