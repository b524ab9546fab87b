"""Closing a position when an exit rule fires (trading §3.5; ADR 0260).

One ``PositionExit`` per exit of a position *episode* (strategy, market, side, mode, first fill time, and how
many exits of that episode filled before: a partial fill leaves the rest to a next exit), so the monitor
running twice, or on two replicas, can never sell the same contracts twice. The decision (rule, observed
price, size, client order id) is stored before anything is sent to a venue; the venue's answer follows
as an event. An answer that may or may not have reached the venue (timeout, 5xx) leaves the exit IN_DOUBT
until the venue is asked by client order id — never a second sell. A refused exit may be decided again
on a later run, under a new client order id.

    DECIDED --fill--> FILLED (terminal)
    DECIDED --doubt--> IN_DOUBT --fill--> FILLED | --fail--> FAILED
    DECIDED --fail--> FAILED --retry--> DECIDED
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.errors import DomainError
from paulp.domain.evidence import is_sha256_hex
from paulp.domain.exits import ExitReason, realized_pnl
from paulp.domain.fees import FeeCorrection, fee_correction
from paulp.domain.namespace import PAULP_NAMESPACE

MODES = ("PAPER", "LIVE")


class ExitState(StrEnum):
    DECIDED = "DECIDED"
    IN_DOUBT = "IN_DOUBT"
    FILLED = "FILLED"
    FAILED = "FAILED"


ALLOWED: dict[ExitState, frozenset[ExitState]] = {
    ExitState.DECIDED: frozenset({ExitState.FILLED, ExitState.IN_DOUBT, ExitState.FAILED}),
    ExitState.IN_DOUBT: frozenset({ExitState.FILLED, ExitState.FAILED}),
    ExitState.FAILED: frozenset({ExitState.DECIDED}),
    ExitState.FILLED: frozenset(),
}


class ExitNotAllowed(DomainError):
    """Raised when an exit is moved to a state its current state does not lead to."""

    code = "EXIT_TRANSITION_NOT_ALLOWED"


class InvalidExit(DomainError):
    """Raised when an exit is decided or filled with values that cannot be a sale of the position."""

    code = "INVALID_EXIT"


def _check_price(cents: float, what: str) -> None:
    if not 0 < cents < 100:
        raise InvalidExit(f"{what} {cents} is not a price in cents (0 < p < 100)")


def _check_requester(reason: ExitReason, requested_by: str | None, note: str | None) -> None:
    """An operator's close names who and why; a rule's exit names neither (its rule is the reason)."""
    if reason is ExitReason.OPERATOR_CLOSE:
        if not (requested_by or "").strip() or not (note or "").strip():
            raise InvalidExit("an operator's close needs the operator and a reason")
    elif requested_by is not None or note is not None:
        raise InvalidExit(f"a {reason.value} exit is decided by its rule, not by an operator")


def _no_requester(state: dict[str, object]) -> None:
    """v1 -> v2 of ``Decided`` and ``Redecided``: stored before exits named who asked (ADR 0440); a rule decided."""
    state["requested_by"] = None
    state["note"] = None


class PositionExit(Aggregate):
    class Decided(Aggregate.Created):
        """v2 adds who asked and why, for an operator's close (ADR 0440); None in v1 events and for rules."""

        class_version = 2
        strategy: str
        ticker: str
        side: str
        opened_at: datetime
        sequence: int
        contracts: int
        entry_price: float
        observed_price: float
        reason: str
        mode: str
        at: datetime
        requested_by: str | None
        note: str | None

        upcast_v1_v2 = staticmethod(_no_requester)

    class Redecided(Aggregate.Event):
        """v2: as ``Decided``."""

        class_version = 2
        contracts: int
        observed_price: float
        reason: str
        at: datetime
        requested_by: str | None
        note: str | None

        upcast_v1_v2 = staticmethod(_no_requester)

    class Filled(Aggregate.Event):
        """v2 adds ``entry_price``: the position's average entry as of the fill, which the PnL is taken
        against (ADR 0306); None in v1 events, whose PnL used the entry of the decision. v3 adds ``fee_cents``:
        the sell's fee (LIVE: the venue's, PAPER: modelled; ADR 0437), None when not known (v1, v2 events).
        ``realized_pnl_usd`` stays gross."""

        class_version = 3
        size: int
        exit_price: float
        realized_pnl_usd: float
        venue_order_id: str | None
        evidence_hash: str | None
        at: datetime
        entry_price: float | None
        fee_cents: Decimal | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, object]) -> None:
            state["entry_price"] = None

        @staticmethod
        def upcast_v2_v3(state: dict[str, object]) -> None:
            state["fee_cents"] = None

    class FeesCorrected(Aggregate.Event):
        """Kalshi's sell order, read later, settles the fee a LIVE exit's fill left unknown (ADR 0449): ``fee_cents``
        is Kalshi's cumulative fee for the sell (``venue_fees_cents``, at ``venue_fill_count`` contracts, equal to
        the exit's), never negative. It counts as paid at ``counted_at``, the exit's fill time; ``evidence_hash``
        is Kalshi's answer, ``run_id`` the reconcile run that read it."""

        fee_cents: Decimal
        venue_fees_cents: Decimal
        venue_fill_count: int
        counted_at: datetime
        evidence_hash: str
        run_id: str | None
        at: datetime

    class InDoubt(Aggregate.Event):
        detail: str
        at: datetime

    class Failed(Aggregate.Event):
        detail: str
        at: datetime

    @staticmethod
    def create_id(strategy: str, ticker: str, side: str, mode: str, opened_at: datetime, sequence: int) -> UUID:
        """The same instant gives the same id whatever zone the reading connection used: a session TimeZone
        other than UTC would otherwise name the same exit anew in that process, and sell it again."""
        if opened_at.tzinfo is None:
            raise InvalidExit("opened_at must be timezone-aware")
        opened = opened_at.astimezone(UTC).isoformat()  # unchanged text for the UTC values stored so far
        return uuid5(PAULP_NAMESPACE, f"position-exit/{strategy}/{ticker}/{side}/{mode}/{opened}/{sequence}")

    @classmethod
    def decide(cls, strategy: str, ticker: str, side: str, opened_at: datetime, sequence: int, contracts: int,
               entry_price: float, observed_price: float, reason: ExitReason, mode: str,
               now: datetime, requested_by: str | None = None, note: str | None = None) -> PositionExit:
        if contracts < 1 or sequence < 0 or side not in ("YES", "NO") or mode not in MODES:
            raise InvalidExit(f"exit of {contracts} {side} contracts in mode {mode}")
        _check_price(entry_price, "entry price")
        _check_price(observed_price, "observed price")
        _check_requester(reason, requested_by, note)
        return cls._create(cls.Decided, id=cls.create_id(strategy, ticker, side, mode, opened_at, sequence),
                           strategy=strategy, ticker=ticker, side=side, opened_at=opened_at, sequence=sequence,
                           contracts=contracts, entry_price=entry_price, observed_price=observed_price,
                           reason=reason.value, mode=mode, at=now, requested_by=requested_by, note=note)

    def __init__(self, strategy: str, ticker: str, side: str, opened_at: datetime, sequence: int, contracts: int,
                 entry_price: float, observed_price: float, reason: str, mode: str, at: datetime,
                 requested_by: str | None = None, note: str | None = None) -> None:
        self.strategy, self.ticker, self.side, self.opened_at = strategy, ticker, side, opened_at
        self.sequence = sequence
        self.contracts, self.entry_price, self.observed_price = contracts, entry_price, observed_price
        self.reason, self.mode, self.decided_at = ExitReason(reason), mode, at
        self.requested_by, self.note = requested_by, note
        self.state = ExitState.DECIDED
        self.attempt = 1
        self.exit_price: float | None = None
        self.realized_pnl_usd: float | None = None
        self.fee_cents: Decimal | None = None
        self.filled_at: datetime | None = None  # the fill's time: a fee settled later counts then (ADR 0449)
        self.venue_order_id: str | None = None
        self.detail: str | None = None

    @property
    def client_order_id(self) -> str:
        """Stable per attempt: asking the venue for it finds this attempt's sell and no other."""
        return f"exit-{self.id.hex[:20]}-{self.attempt}"

    def _move(self, target: ExitState) -> None:
        if target not in ALLOWED[self.state]:
            raise ExitNotAllowed(f"exit {self.id} cannot go from {self.state} to {target}")

    def fill(self, size: int, exit_price: float, now: datetime, venue_order_id: str | None = None,
             evidence_hash: str | None = None, entry_price: float | None = None,
             fee_cents: Decimal | int | None = None) -> None:
        """``entry_price`` is the position's average entry as of the fill (ADR 0306): another fill may have
        averaged into the position since the decision. Without it the decision's entry is used. ``fee_cents`` is
        the sell's fee, None when not known (ADR 0437)."""
        self._move(ExitState.FILLED)
        if not 1 <= size <= self.contracts:
            raise InvalidExit(f"fill of {size} for an exit of {self.contracts}")
        fee = None if fee_cents is None else Decimal(fee_cents)
        if fee is not None and (not fee.is_finite() or fee < 0):
            raise InvalidExit(f"exit fee must be a non-negative number of cents, got {fee_cents}")
        _check_price(exit_price, "exit price")
        entry = self.entry_price if entry_price is None else entry_price
        _check_price(entry, "entry price")
        # the entry is cents per contract; PnL in USD
        pnl = realized_pnl(entry, exit_price, size) / 100
        self._filled(size, exit_price, round(pnl, 6), venue_order_id, evidence_hash, now, entry, fee)

    def correct_fee(self, venue_fill_count: int, venue_fees_cents: Decimal | int | None, evidence_hash: str,
                    now: datetime, run_id: str | None = None) -> FeeCorrection:
        """Settle the fee of a LIVE exit filled with an unknown one from Kalshi's later answer about its sell
        (ADR 0449): Kalshi's cumulative fee for the sell, only when Kalshi has filled exactly what the exit sold
        (``fees.fee_correction``, the rule of ADR 0448). Once settled the fee is known, so the same answer again
        records nothing (``nothing_unknown``). PAPER exits' fees are modelled, never corrected."""
        if now.tzinfo is None:
            raise InvalidExit("now must be timezone-aware")
        if self.mode != "LIVE":
            raise InvalidExit(f"a {self.mode} exit's fee is modelled, not read from Kalshi")
        if not is_sha256_hex(evidence_hash):
            raise InvalidExit(f"not a lowercase sha256 hex digest: {evidence_hash!r}")
        cumulative = None if venue_fees_cents is None else Decimal(venue_fees_cents)
        if cumulative is not None and (not cumulative.is_finite() or cumulative < 0):
            raise InvalidExit(f"venue fees must be a non-negative number of cents, got {venue_fees_cents}")
        unknown = int(self.state is ExitState.FILLED and self.fee_cents is None and self.filled_at is not None)
        outcome, fee = fee_correction(unknown, self.contracts, Decimal(0), venue_fill_count, cumulative)
        if fee is not None and cumulative is not None and self.filled_at is not None:
            self._fees_corrected(fee, cumulative, venue_fill_count, self.filled_at, evidence_hash, run_id, now)
        return outcome

    def doubt(self, detail: str, now: datetime) -> None:
        self._move(ExitState.IN_DOUBT)
        self._in_doubt(detail, now)

    def fail(self, detail: str, now: datetime) -> None:
        self._move(ExitState.FAILED)
        self._failed(detail, now)

    def redecide(self, contracts: int, observed_price: float, reason: ExitReason, now: datetime,
                 requested_by: str | None = None, note: str | None = None) -> None:
        self._move(ExitState.DECIDED)
        if contracts < 1:
            raise InvalidExit(f"exit of {contracts} contracts")
        _check_price(observed_price, "observed price")
        _check_requester(reason, requested_by, note)
        self._redecided(contracts, observed_price, reason.value, now, requested_by, note)

    @event(Redecided)
    def _redecided(self, contracts: int, observed_price: float, reason: str, at: datetime,
                   requested_by: str | None, note: str | None) -> None:
        self.contracts, self.observed_price, self.reason = contracts, observed_price, ExitReason(reason)
        self.requested_by, self.note = requested_by, note
        self.attempt += 1
        self.state, self.detail, self.decided_at = ExitState.DECIDED, None, at

    @event(Filled)
    def _filled(self, size: int, exit_price: float, realized_pnl_usd: float, venue_order_id: str | None,
                evidence_hash: str | None, at: datetime, entry_price: float | None,
                fee_cents: Decimal | None) -> None:
        self.state, self.contracts, self.fee_cents, self.filled_at = ExitState.FILLED, size, fee_cents, at
        if entry_price is not None:
            self.entry_price = entry_price
        self.exit_price, self.realized_pnl_usd, self.venue_order_id = exit_price, realized_pnl_usd, venue_order_id

    @event(FeesCorrected)
    def _fees_corrected(self, fee_cents: Decimal, venue_fees_cents: Decimal, venue_fill_count: int,
                        counted_at: datetime, evidence_hash: str, run_id: str | None, at: datetime) -> None:
        self.fee_cents = fee_cents

    @event(InDoubt)
    def _in_doubt(self, detail: str, at: datetime) -> None:
        self.state, self.detail = ExitState.IN_DOUBT, detail

    @event(Failed)
    def _failed(self, detail: str, at: datetime) -> None:
        self.state, self.detail = ExitState.FAILED, detail
