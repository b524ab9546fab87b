"""The order record (trading §1.1) and the events that change it: the apply side of ``Order``.

Nothing here decides: each ``@event`` method copies what its event says onto the record, so
replaying the log rebuilds the same order. Decisions live on ``paulp.domain.orders.Order``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from paulp.domain.ids import order_aggregate_id
from paulp.domain.order_states import (
    CLOSING_STATES,
    STAMPED_FIELDS,
    HistoryEntry,
    OrderState,
    is_transition_allowed,
)
from paulp.domain.order_values import (
    InvalidOrderTransition,
    NaiveTimestamp,
    OrderNotInRequiredState,
    PreTradeCheck,
    ReconciliationResult,
    RiskCheckResult,
)

S = OrderState


def require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise NaiveTimestamp(f"timestamp {now.isoformat()} has no timezone")


class OrderRecord(Aggregate):
    """State and events of one order; its history is the spec's stateHistory."""

    class Created(Aggregate.Created):
        order_id: str
        signal_id: str | None
        strategy: str
        ticker: str
        side: str
        requested_size: int
        max_price: float
        created_at: datetime
        signal_model_probability: float | None
        signal_edge: float | None
        signal_confidence: float | None
        signal_expires_at: datetime | None
        resubmit_count: int
        replaces_order_id: str | None

    @staticmethod
    def create_id(order_id: str) -> UUID:
        """uuid5 of the deterministic order id: a duplicate signal lands on the same aggregate."""
        return order_aggregate_id(order_id)

    def __init__(
        self, order_id: str, signal_id: str | None, strategy: str, ticker: str, side: str,
        requested_size: int, max_price: float, created_at: datetime, signal_model_probability: float | None,
        signal_edge: float | None, signal_confidence: float | None, signal_expires_at: datetime | None,
        resubmit_count: int, replaces_order_id: str | None,
    ) -> None:
        self.order_id = order_id
        self.signal_id = signal_id
        self.strategy = strategy
        self.ticker = ticker
        self.side = side
        self.requested_size = requested_size
        self.max_price = max_price
        self.created_at = created_at
        self.signal_model_probability = signal_model_probability
        self.signal_edge = signal_edge
        self.signal_confidence = signal_confidence
        self.signal_expires_at = signal_expires_at
        self.resubmit_count = resubmit_count
        self.replaces_order_id = replaces_order_id
        self.state = S.PENDING
        self.history = [HistoryEntry(S.PENDING, S.PENDING, created_at, "Order created")]
        self.filled_size = 0
        self.avg_fill_price: float | None = None
        self.entry_price: float | None = None
        self.closing_line_price: float | None = None
        self.clv: float | None = None
        self.fees_cents = Decimal(0)  # fees recorded on the fills whose fee is known (ADR 0437)
        self.fee_unknown_fills = 0  # fills whose fee is not known (the venue did not say; stored before fees)
        self.fee_unknown_last_at: datetime | None = None  # the latest of those fills: a correction counts then
        self.closing_line: dict[str, Any] | None = None  # the market's closing line once recorded (ADR 0419)
        self.pre_trade_check_result: PreTradeCheck | None = None
        self.risk_check_result: RiskCheckResult | None = None
        self.reconciliation_result: ReconciliationResult | None = None
        self.evidence_hashes: list[str] = []
        self.last_error: str | None = None
        self.unanswered_risk_checks = 0  # questions the governor did not answer since its last answer (ADR 0334)
        self.unanswered_rechecks = 0  # of those, re-checks of an approval (RISK_APPROVED): they bound its retry
        self.retry_count = 0
        self.queued_at: datetime | None = None
        self.cancel_requested_at: datetime | None = None
        self.cancel_reason: str | None = None
        self.price_move_cancel: dict[str, Any] | None = None  # a pending price-move cancel's measure (ADR 0382)
        self.submission_in_doubt = False
        self.replaced_by: str | None = None
        self.pre_trade_checked_at: datetime | None = None
        self.validated_at: datetime | None = None
        self.risk_approved_at: datetime | None = None
        self.submitted_at: datetime | None = None
        self.acknowledged_at: datetime | None = None
        self.filled_at: datetime | None = None
        self.reconciled_at: datetime | None = None
        self.archived_at: datetime | None = None
        self.closed_at: datetime | None = None

    # ----------------------------------------------------------------- queries
    @property
    def broker_order_id(self) -> str | None:
        """The venue's id: from the acknowledgement, else from a live submission."""
        for entry in reversed(self.history):
            for key in ("brokerOrderId", "venueOrderId"):
                if entry.metadata.get(key):
                    return str(entry.metadata[key])
        return None

    def entered_at(self, state: OrderState) -> datetime | None:
        """When the order last entered ``state`` (None if never)."""
        for entry in reversed(self.history):
            if entry.target == state and entry.source != entry.target:
                return entry.at
        return None

    def times_entered(self, state: OrderState) -> int:
        return sum(1 for e in self.history if e.target == state and e.source != e.target)

    # ----------------------------------------------------------- decide helpers
    def _check_path(self, *targets: OrderState) -> None:
        """Refuse the whole command if any step of its path is not in the table (§1.3)."""
        current = self.state
        for target in targets:
            if not is_transition_allowed(current, target):
                raise InvalidOrderTransition(current, target)
            current = target

    def _move(self, target: OrderState, reason: str, now: datetime, metadata: Mapping[str, Any] | None = None) -> None:
        self._check_path(target)
        self._transitioned(self.state.value, target.value, reason, now, dict(metadata or {}))

    def _require(self, allowed: frozenset[OrderState], message: str) -> None:
        if self.state not in allowed:
            raise OrderNotInRequiredState(f"Order {self.order_id} {message}: {self.state}", self.state)

    # ------------------------------------------------------------------ events
    class Transitioned(Aggregate.Event):
        from_state: str
        to_state: str
        reason: str
        at: datetime
        metadata: dict[str, Any]

    @event(Transitioned)
    def _transitioned(self, from_state: str, to_state: str, reason: str, at: datetime,
                      metadata: dict[str, Any]) -> None:
        target = OrderState(to_state)
        self.history.append(HistoryEntry(OrderState(from_state), target, at, reason, dict(metadata)))
        self.state = target
        stamp = STAMPED_FIELDS.get(target)
        if stamp is not None:
            setattr(self, stamp, at)
        if target in CLOSING_STATES:
            self.closed_at = at

    class PreTradeChecked(Aggregate.Event):  # declared (not named) because the execution-reports view uses it
        result: dict[str, Any]
        at: datetime

    @event(PreTradeChecked)
    def _pre_trade_checked(self, result: dict[str, Any], at: datetime) -> None:
        self.pre_trade_check_result = PreTradeCheck.from_dict(result)

    class RiskChecked(Aggregate.Event):  # declared (not named) because the orders and violations views use it
        """v2 adds ``evaluation``: the whole evaluation (``risk_record.evaluation_record``; ADR 0377). v1 events
        kept only the decision in ``result``, so theirs is None."""

        class_version = 2
        result: dict[str, Any]
        requested_size: int
        at: datetime
        evaluation: dict[str, Any] | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, object]) -> None:
            state["evaluation"] = None

    @event(RiskChecked)
    def _risk_checked(self, result: dict[str, Any], requested_size: int, at: datetime,
                      evaluation: dict[str, Any] | None) -> None:
        self.risk_check_result = RiskCheckResult.from_dict(result)
        self.requested_size = requested_size

    class FillRecorded(Aggregate.Event):
        """v2 adds ``fee_cents``: the fill's fee in cents (LIVE: the venue's, PAPER: modelled; ADR 0437). None
        when it is not known: the venue's answer carried no fee, or the fill was stored at v1, before fees."""

        class_version = 2
        fill_size: int
        fill_price: float
        filled_size: int
        avg_fill_price: float
        entry_price: float
        closing_line_price: float | None
        clv: float | None
        at: datetime
        fee_cents: Decimal | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, object]) -> None:
            state["fee_cents"] = None

    @event(FillRecorded)
    def _fill_recorded(self, fill_size: int, fill_price: float, filled_size: int, avg_fill_price: float,
                       entry_price: float, closing_line_price: float | None, clv: float | None,
                       at: datetime, fee_cents: Decimal | None) -> None:
        if fee_cents is None:
            self.fee_unknown_fills += 1
            self.fee_unknown_last_at = at
        else:
            self.fees_cents += fee_cents
        self.filled_size = filled_size
        self.avg_fill_price = avg_fill_price
        self.entry_price = entry_price
        self.closing_line_price = closing_line_price
        self.clv = clv

    class FeesCorrected(Aggregate.Event):
        """Kalshi's order, read later, settles the fees of every fill recorded with an unknown one (ADR 0448):
        ``fee_cents`` is Kalshi's cumulative fee (``venue_fees_cents``, at ``venue_fill_count`` contracts, equal to
        ours) less the fees known before, never negative. It counts as paid at ``counted_at``, the latest of the
        ``fills_settled`` fills; ``evidence_hash`` is Kalshi's answer, ``run_id`` the reconcile run that read it."""

        fee_cents: Decimal
        venue_fees_cents: Decimal
        venue_fill_count: int
        fills_settled: int
        counted_at: datetime
        evidence_hash: str
        run_id: str | None
        at: datetime

    @event(FeesCorrected)
    def _fees_corrected(self, fee_cents: Decimal, venue_fees_cents: Decimal, venue_fill_count: int,
                        fills_settled: int, counted_at: datetime, evidence_hash: str, run_id: str | None,
                        at: datetime) -> None:
        self.fees_cents += fee_cents
        self.fee_unknown_fills = 0
        self.fee_unknown_last_at = None

    class ClosingLineRecorded(Aggregate.Event):
        """The market closed: its closing line in this order's side's prices (cents), its quality, and the CLV
        against the average fill (ADR 0419). Invalid (quality < 0.5) lines are recorded too; they leave the
        order's ``clv`` unset, so no statistic counts them (§4.2). Prices are None when no observation was
        usable (§4.3's no-data result)."""

        closing_line_price: float | None
        clv: float | None
        quality_score: float
        is_valid: bool
        method: str
        market_class: str
        line_time: datetime
        at: datetime

    @event(ClosingLineRecorded)
    def _closing_line_recorded(self, closing_line_price: float | None, clv: float | None, quality_score: float,
                               is_valid: bool, method: str, market_class: str, line_time: datetime,
                               at: datetime) -> None:
        self.closing_line = {"closingLinePrice": closing_line_price, "clv": clv, "qualityScore": quality_score,
                             "valid": is_valid, "method": method, "marketClass": market_class,
                             "lineTime": line_time}
        if is_valid:
            self.closing_line_price = closing_line_price
            self.clv = clv

    class ReconciliationRecorded(Aggregate.Event):  # declared (not named) because the orders view shows it
        result: dict[str, Any]
        at: datetime

    @event(ReconciliationRecorded)
    def _reconciliation_recorded(self, result: dict[str, Any], at: datetime) -> None:
        self.reconciliation_result = ReconciliationResult.from_dict(result)

    class ErrorRecorded(Aggregate.Event):
        message: str | None
        at: datetime

    @event(ErrorRecorded)
    def _error_recorded(self, message: str | None, at: datetime) -> None:
        self.last_error = message

    class RiskCheckUnanswered(Aggregate.Event):
        """The governor was asked about the order and did not answer (it raised): no answer, not an error."""

        message: str
        at: datetime

    @event(RiskCheckUnanswered)
    def _risk_check_unanswered(self, message: str, at: datetime) -> None:
        self.last_error = message
        self.unanswered_risk_checks += 1
        if self.state == OrderState.RISK_APPROVED:
            self.unanswered_rechecks += 1

    class ErrorResolved(Aggregate.Event):
        """A later event answered the standing ``error`` (kept here and in its own event): it is no longer the
        order's last error."""

        error: str | None
        resolution: str
        at: datetime

    @event(ErrorResolved)
    def _error_resolved(self, error: str | None, resolution: str, at: datetime) -> None:
        self.last_error = None
        self.unanswered_risk_checks = self.unanswered_rechecks = 0

    class Retried(Aggregate.Event):  # declared (not named) because the orders view clears its last error on it
        retry_count: int
        at: datetime

    @event(Retried)
    def _retried(self, retry_count: int, at: datetime) -> None:
        self.retry_count = retry_count
        self.last_error = None
        self.unanswered_risk_checks = self.unanswered_rechecks = 0  # back to PENDING: a new question

    class EvidenceAttached(Aggregate.Event):  # declared (not named) because the orders view lists the hashes
        evidence_hash: str

    @event(EvidenceAttached)
    def _evidence_attached(self, evidence_hash: str) -> None:
        self.evidence_hashes.append(evidence_hash)

    @event("SubmissionQueued")
    def _submission_queued(self, at: datetime) -> None:
        self.queued_at = at

    @event("SubmissionInDoubt")
    def _submission_in_doubt(self, detail: str, at: datetime) -> None:
        self.submission_in_doubt = True

    @event("SubmissionDoubtResolved")
    def _doubt_resolved(self, found: bool, at: datetime) -> None:
        self.submission_in_doubt = False

    @event("CancelRequested")
    def _cancel_requested(self, reason: str, at: datetime) -> None:
        self.cancel_requested_at = at
        self.cancel_reason = reason

    class PriceMoveCancelRequested(Aggregate.Event):
        """§1.4.7 decided on an order working at the venue: its cancel is requested there, and the venue's
        confirmation closes it as PRICE_MOVE_CANCEL with this move (ADR 0382). Prices in cents, the move and the
        threshold in percentage points; the evidence is the market body the move was read from."""

        price_move_pct: float
        threshold: float
        reference_price: float
        market_price: int
        evidence_hash: str | None
        reason: str
        at: datetime

    @event(PriceMoveCancelRequested)
    def _price_move_cancel_requested(self, price_move_pct: float, threshold: float, reference_price: float,
                                     market_price: int, evidence_hash: str | None, reason: str,
                                     at: datetime) -> None:
        self.cancel_requested_at = at
        self.cancel_reason = reason
        self.price_move_cancel = {"priceMovePct": price_move_pct, "threshold": threshold,
                                  "referencePrice": reference_price, "marketPrice": market_price}

    @event("Replaced")
    def _replaced(self, replacement_order_id: str, at: datetime) -> None:
        self.replaced_by = replacement_order_id
