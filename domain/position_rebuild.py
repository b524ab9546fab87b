"""Adopting the venue's positions as internal truth (trading §7 "Rebuild", §8 DR step 4; ADR 0415).

After a restore from a backup that lags the venue, or a fill that never reached the log, internal positions and
the venue's disagree on every run. The rebuild adds, per drifted (market, SIDE), one adjustment of venue -
internal contracts: nothing already recorded is changed, the adjustments are events of their own with the venue
read's evidence, the operator and the reason, and internal positions are fills + adjustments from then on.

It is a disaster-recovery step, so it is refused unless trading is halted, the comparison was read from the venue
moments ago (never a stored report) and an operator says who and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.errors import DomainError
from paulp.domain.namespace import PAULP_NAMESPACE
from paulp.domain.reconciliation import ZERO, Position, PositionKey, ReconciliationRun, exact

REQUIRED_BREAKER_STATE = "HALT"
MAX_READ_AGE = timedelta(minutes=2)  # the venue read must be this run's, not a report from earlier
MAX_TEXT = 1000


class RebuildRefused(DomainError):
    """Base of the rebuild's refusals: nothing is recorded."""

    code = "rebuild_refused"


class BreakerNotHalted(RebuildRefused):
    """Raised when the breaker is not in HALT: positions are only rebuilt while nothing trades (§8 DR)."""

    code = "breaker_not_halted"


class StaleVenueRead(RebuildRefused):
    """Raised when the venue read is older than ``MAX_READ_AGE`` (or later than now): adopt only what the venue
    says now."""

    code = "stale_venue_read"


class VenueEvidenceMissing(RebuildRefused):
    """Raised when the comparison carries no evidence of the venue's answer: an unread venue is never adopted."""

    code = "venue_evidence_missing"


class VenueWorkUnfinished(RebuildRefused):
    """Raised when a LIVE order is still working at Kalshi (or in doubt) or a LIVE exit's sell is not settled:
    the venue may change under the read, and contracts adopted now would be counted again when they resolve."""

    code = "venue_work_unfinished"


class OperatorRequired(RebuildRefused):
    """Raised when the operator or the reason is blank (or too long, or holds a NUL)."""

    code = "operator_required"


@dataclass(frozen=True)
class PositionAdjustment:
    """Contracts added to internal positions of one (market, SIDE): ``contracts`` = venue - internal, exact."""

    market_id: str
    side: str
    internal_size: Decimal
    venue_size: Decimal
    contracts: Decimal
    # what the venue says its whole position of this key cost, cents (Kalshi's ``market_exposure``), when it gave a
    # usable one and contracts are adopted (ADR 0450); None: no cost basis, the exit monitor does not judge them
    venue_cost_cents: Decimal | None = None

    @property
    def key(self) -> PositionKey:
        return self.market_id, self.side

    @property
    def entry_cents(self) -> Decimal | None:
        """The venue's average cost of a contract of this key: the entry adopted contracts are judged against."""
        return None if self.venue_cost_cents is None else self.venue_cost_cents / self.venue_size

    def to_dict(self) -> dict[str, str | None]:
        """Exact decimal text (no rounding through a JSON float)."""
        return {"marketId": self.market_id, "side": self.side, "internalSize": str(self.internal_size),
                "venueSize": str(self.venue_size), "contracts": str(self.contracts),
                "venueCostCents": None if self.venue_cost_cents is None else str(self.venue_cost_cents)}


def usable_cost(cost_cents: Decimal | None, venue_size: Decimal) -> Decimal | None:
    """The venue's cost of a position when it can be an entry: present, positive, for a position held, and a
    price a contract can have (0 < cost / size < 100 cents). Otherwise None: never an invented entry."""
    if cost_cents is None or venue_size <= ZERO or cost_cents <= ZERO:
        return None
    return cost_cents if ZERO < cost_cents / venue_size < 100 else None


def venue_adjustments(run: ReconciliationRun, costs: Mapping[PositionKey, Decimal] | None = None
                      ) -> tuple[PositionAdjustment, ...]:
    """One adjustment per compared key whose sizes differ, graded or not: adopting the venue means matching it
    exactly, so a drift below §7's minor band is adopted as well. Contracts adopted (a positive adjustment) carry
    the venue's cost of the key from ``costs`` where it is usable (ADR 0450)."""
    given = costs or {}
    return tuple(PositionAdjustment(d.market_id, d.side, d.internal_size, d.venue_size, d.drift,
                                    usable_cost(given.get((d.market_id, d.side)), d.venue_size)
                                    if d.drift > ZERO else None)
                 for d in run.drifts if d.drift != ZERO)


def adopted_entry(moves: Iterable[tuple[Decimal, Fraction | Decimal | None]]) -> Fraction | None:
    """The average entry (cents) of the adopted contracts still held, from their moves in time order: (contracts,
    the venue's cost per contract or None) per adjustment, (-sold, None) per filled exit. Contracts leave at the
    average; a purchase without a cost makes the average unknown until the key is flat again. None when nothing
    is held or the entry is unknown (ADR 0450). Exact: a cost of 100 cents for 3 contracts stays 100/3, so the exit
    bands are judged on the entry itself, as for internal positions (ADR 0463)."""
    held, average = Fraction(0), None
    for contracts, unit in moves:
        count = Fraction(contracts)
        if count > 0:
            base = max(held, Fraction(0))
            if base == 0:
                average = None if unit is None else Fraction(unit)
            elif average is not None and unit is not None:
                average = (average * base + Fraction(unit) * count) / (base + count)
            else:
                average = None
        held += count
    return average if held > 0 else None


def adjusted_positions(internal: Iterable[Position], adjustments: Iterable[PositionAdjustment]) -> list[Position]:
    """Internal positions with the adjustments added, keys at zero dropped (what the reconcile job reads)."""
    sizes: dict[PositionKey, Decimal] = {}
    for p in internal:
        sizes[p.key] = sizes.get(p.key, ZERO) + p.size
    for a in adjustments:
        sizes[a.key] = sizes.get(a.key, ZERO) + a.contracts
    return [Position(m, s, n) for (m, s), n in sorted(sizes.items()) if n != ZERO]


def _text(name: str, value: str) -> str:
    text = value.strip()
    if not text or len(text) > MAX_TEXT or "\x00" in text:
        raise OperatorRequired(f"{name} is required (1-{MAX_TEXT} characters, no NUL)")
    return text


def require_halted_operator(breaker_state: str, operator: str, reason: str) -> tuple[str, str]:
    """Who and why, then HALT: checked before the venue is read (first failure wins). The trimmed pair."""
    who, why = _text("operator", operator), _text("reason", reason)
    if breaker_state != REQUIRED_BREAKER_STATE:
        raise BreakerNotHalted(f"positions are rebuilt only in HALT; the breaker is {breaker_state}"
                               " (paulp breaker transition --to HALT)")
    return who, why


def require_nothing_in_flight(orders: Sequence[str], exits: Sequence[str]) -> None:
    """No LIVE order working at the venue and no LIVE exit between decision and fill (checked before the read)."""
    found = []
    if orders:
        found.append(f"{len(orders)} LIVE order(s) working at Kalshi or in doubt ({_named(orders)}):"
                     " paulp orders cancel-outstanding --reason dr --yes")
    if exits:
        found.append(f"{len(exits)} LIVE exit(s) decided or in doubt ({_named(exits)}): the exit monitor or"
                     " paulp positions close … --mode LIVE resumes them")
    if found:
        raise VenueWorkUnfinished("positions are rebuilt only with nothing in flight at the venue; " + "; ".join(found))


def _named(ids: Sequence[str], most: int = 3) -> str:
    return ", ".join(ids[:most]) + (f" and {len(ids) - most} more" if len(ids) > most else "")


def require_fresh_read(read_at: datetime, now: datetime, evidence_hashes: Sequence[str]) -> None:
    """The comparison is a venue answer, evidenced, read moments ago (not a stored report)."""
    if not evidence_hashes:
        raise VenueEvidenceMissing("the comparison has no evidence of a venue read; nothing is adopted")
    if not timedelta(0) <= now - read_at <= MAX_READ_AGE:
        raise StaleVenueRead(f"venue read at {read_at.isoformat()} is not within {MAX_READ_AGE} before now")


class PositionRebuild(Aggregate):
    """One adoption of the venue's positions: ``Started`` (who, why, the comparison and its evidence), then one
    ``Adjusted`` per drifted key, saved together. Never changed afterwards."""

    class Started(Aggregate.Created):
        rebuild_id: str
        venue: str
        operator: str
        reason: str
        breaker_state: str
        venue_read_at: datetime
        evidence_hashes: list[str]
        comparison: dict[str, Any]  # the §1.3 result of the comparison adopted (status before the rebuild)
        at: datetime

    class Adjusted(Aggregate.Event):
        """v2 adds ``venue_cost_cents``: the venue's cost of its position of the key, exact decimal text, None
        when it gave no usable one or nothing is adopted (ADR 0450); None in v1 events (stored before)."""

        class_version = 2
        market_id: str
        side: str
        internal_size: str  # exact decimal text
        venue_size: str
        contracts: str
        venue_cost_cents: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, object]) -> None:
            state["venue_cost_cents"] = None

    @staticmethod
    def create_id(rebuild_id: str) -> UUID:
        return uuid5(PAULP_NAMESPACE, f"position-rebuild/{rebuild_id}")

    @classmethod
    def adopt(cls, rebuild_id: str, venue: str, run: ReconciliationRun, comparison: dict[str, Any],
              evidence_hashes: Sequence[str], read_at: datetime, breaker_state: str, operator: str, reason: str,
              now: datetime, costs: Mapping[PositionKey, Decimal] | None = None) -> PositionRebuild | None:
        """Adopt the venue's positions from a fresh comparison, with the venue's cost per key where it read one
        (``costs``); None when there is nothing to adopt (every key already matches exactly), so a second
        rebuild records nothing."""
        who, why = require_halted_operator(breaker_state, operator, reason)
        require_fresh_read(read_at, now, evidence_hashes)
        adjustments = venue_adjustments(run, costs)
        if not adjustments:
            return None
        rebuild = cls(rebuild_id=rebuild_id, venue=venue, operator=who, reason=why, breaker_state=breaker_state,
                      venue_read_at=read_at, evidence_hashes=list(evidence_hashes), comparison=dict(comparison),
                      at=now)
        for a in adjustments:
            rebuild._adjusted(a.market_id, a.side, str(a.internal_size), str(a.venue_size), str(a.contracts),
                              None if a.venue_cost_cents is None else str(a.venue_cost_cents))
        return rebuild

    def __init__(self, rebuild_id: str, venue: str, operator: str, reason: str, breaker_state: str,
                 venue_read_at: datetime, evidence_hashes: list[str], comparison: dict[str, Any],
                 at: datetime) -> None:
        self.rebuild_id, self.venue, self.operator, self.reason = rebuild_id, venue, operator, reason
        self.breaker_state, self.venue_read_at, self.at = breaker_state, venue_read_at, at
        self.evidence_hashes, self.comparison = evidence_hashes, comparison
        self.adjustments: list[PositionAdjustment] = []

    @event(Adjusted)
    def _adjusted(self, market_id: str, side: str, internal_size: str, venue_size: str, contracts: str,
                  venue_cost_cents: str | None) -> None:
        self.adjustments.append(PositionAdjustment(market_id, side, exact(internal_size), exact(venue_size),
                                                   exact(contracts),
                                                   None if venue_cost_cents is None else exact(venue_cost_cents)))
