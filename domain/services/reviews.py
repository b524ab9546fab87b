"""Reviews context: an operator resolves an invariant violation or approves a cross-venue market pair.

Existence is read from the log, not from a view: a violation exists when its order's stored risk
rejection names the invariant; a pair exists once it was proposed.
"""

from __future__ import annotations

from dataclasses import dataclass

from eventsourcing.persistence import IntegrityError

from paulp.domain.errors import DomainError
from paulp.domain.order_record import OrderRecord
from paulp.domain.orders import Order
from paulp.domain.reviews import (
    MarketPair,
    PairAlreadyProposed,
    PairTerms,
    ViolationResolution,
    blocked_invariants,
    parse_violation_id,
)
from paulp.domain.services.base import PaulpApplication


class ViolationNotFound(DomainError):
    code = "violation_not_found"


class PairNotFound(DomainError):
    code = "pair_not_found"


class InvalidPairTerms(DomainError):
    code = "validation_error"


@dataclass(frozen=True)
class Proposal:
    pair_id: str
    notification_id: int


class ReviewsService(PaulpApplication):
    def resolve_violation(self, violation_id: str, resolver: str, notes: str | None, actor: str) -> int:
        order_id, invariant_id = self._violation(violation_id)

        def command() -> int:
            resolution: ViolationResolution = (
                self.get_or_none(ViolationResolution.create_id(violation_id))
                or ViolationResolution(violation_id=violation_id, order_id=order_id, invariant_id=invariant_id))
            resolution.resolve(resolver, notes, actor, self.clock.now())
            return self.last_notification_id(self.save(resolution))

        return self.retry_on_conflict(command)

    def _violation(self, violation_id: str) -> tuple[str, str]:
        parsed = parse_violation_id(violation_id)
        order = self.get_or_none(Order.create_id(parsed[0])) if parsed else None
        if parsed is None or not isinstance(order, OrderRecord) or order.risk_check_result is None:
            raise ViolationNotFound("Violation not found")
        blocked = {b.invariant_id for b in blocked_invariants(order.risk_check_result.to_dict())}
        if parsed[1] not in blocked:
            raise ViolationNotFound("Violation not found")
        return parsed

    def propose_pair(self, terms: PairTerms, proposed_by: str) -> Proposal:
        """The domain command that makes a pair reviewable (nothing calls it in production yet; ADR 0255)."""
        for value in (terms.venue_a, terms.market_a, terms.venue_b, terms.market_b, proposed_by):
            if not value.strip():
                raise InvalidPairTerms("Both venues and markets and the proposer are required")
        if self.get_or_none(MarketPair.create_id(terms.pair_id)) is not None:
            raise PairAlreadyProposed("Pair already proposed")
        pair = MarketPair.propose(terms, proposed_by, self.clock.now())
        try:
            nid = self.last_notification_id(self.save(pair))
        except IntegrityError:
            raise PairAlreadyProposed("Pair already proposed") from None
        return Proposal(terms.pair_id, nid)

    def approve_pair(self, pair_id: str, reviewer: str, notes: str | None, actor: str) -> int:
        def command() -> int:
            pair: MarketPair | None = self.get_or_none(MarketPair.create_id(pair_id))
            if pair is None:
                raise PairNotFound("Pair not found")
            pair.approve(reviewer, notes, actor, self.clock.now())
            return self.last_notification_id(self.save(pair))

        return self.retry_on_conflict(command)

    def pair(self, pair_id: str) -> MarketPair | None:
        found: MarketPair | None = self.get_or_none(MarketPair.create_id(pair_id))
        return found

    def resolution(self, violation_id: str) -> ViolationResolution | None:
        found: ViolationResolution | None = self.get_or_none(ViolationResolution.create_id(violation_id))
        return found
