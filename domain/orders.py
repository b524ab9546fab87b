"""Order aggregate (trading §1): the lifecycle's commands. Each decides once, then emits events.

A command checks every transition it will emit against the table before emitting any, so a
refused command leaves no partial trace (§1.4 "atomically"). State and apply methods are in
``order_record``; timers (§1.5) are in ``order_timers``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from paulp.domain.closing_lines import side_price_cents
from paulp.domain.evidence import is_sha256_hex
from paulp.domain.fees import FeeCorrection, fee_correction
from paulp.domain.ids import order_id
from paulp.domain.order_record import OrderRecord, require_aware
from paulp.domain.order_states import (
    CANCELLABLE_STATES,
    TERMINAL_STATES,
    WORKING_STATES,
    OrderState,
    is_transition_allowed,
)
from paulp.domain.order_values import (
    DEFAULT_POLICY,
    ExecutionResult,
    ExecutionStatus,
    InvalidEvidenceHash,
    InvalidExecutionResult,
    InvalidFill,
    InvalidManualFix,
    InvalidOrderTransition,
    OrderInTerminalState,
    OrderNotCancellable,
    OrderNotInRequiredState,
    PreTradeCheck,
    ReconciliationResult,
    ReplacementNotAllowed,
    RetryNotAllowed,
    RiskCheckResult,
    VenueOutcomeUnknown,
)
from paulp.domain.prices import fixed

S = OrderState
VALID_SIDES = ("YES", "NO")
DEFAULT_MAX_RETRIES = 3
PAPER_FILL_MISSING = "Paper fill payload missing"
REPLACEABLE_STATES = frozenset({S.CANCELLED, S.EXPIRED, S.PRICE_MOVE_CANCEL})
AWAITING_RISK_ANSWER = frozenset({S.RISK_CHECK, S.RISK_APPROVED})  # a check running, or an approval to re-check
RECHECK_GIVEN_UP = "Risk re-check not answered after one retry"
PRICE_MOVE_CANCELLABLE = frozenset({S.SUBMITTED, S.ORDER_ACKNOWLEDGED})  # §1.4.7: not PARTIAL_FILL
PRICE_MOVE_REASON = "Price moved beyond threshold"


def _plain(evaluation: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if evaluation is None else dict(evaluation)


def validation_errors(ticker: str, requested_size: float, max_price: float, side: str) -> list[str]:
    """Structural checks of §1.4 step 2, in order, all collected."""
    errors = []
    if not ticker:
        errors.append("Missing ticker")
    if not requested_size > 0:
        errors.append("Invalid size")
    if not 1 <= max_price <= 99:
        errors.append("Invalid price")
    if side not in VALID_SIDES:
        errors.append("Invalid side")
    return errors


class Order(OrderRecord):
    """One order from signal to archive."""

    @classmethod
    def create(
        cls, *, signal_id: str | None, strategy: str, ticker: str, side: str, requested_size: int,
        max_price: float, now: datetime, signal_model_probability: float | None = None,
        signal_edge: float | None = None, signal_confidence: float | None = None,
        signal_expires_at: datetime | None = None, resubmit_count: int = 0, replaces_order_id: str | None = None,
    ) -> Order:
        """Open an order in PENDING; the same inputs give the same order id and aggregate id (§1.8)."""
        require_aware(now)
        oid = order_id(signal_id, strategy, ticker, side, requested_size, max_price, resubmit_count)
        return cls(
            order_id=oid, signal_id=signal_id, strategy=strategy, ticker=ticker, side=side,
            requested_size=requested_size, max_price=max_price, created_at=now,
            signal_model_probability=signal_model_probability, signal_edge=signal_edge,
            signal_confidence=signal_confidence, signal_expires_at=signal_expires_at,
            resubmit_count=resubmit_count, replaces_order_id=replaces_order_id,
        )

    def can_retry(self, max_retries: int = DEFAULT_MAX_RETRIES) -> bool:
        return self.state == S.ERROR and self.retry_count < max_retries

    def transition(self, target: OrderState | str, reason: str, now: datetime,
                   metadata: dict[str, object] | None = None) -> None:
        """Raw table transition (manual fixes such as RECONCILIATION_DRIFT -> RECONCILED). A name that is no state
        is one more move outside the table (§1.3: anything else is refused with an error), not a ValueError."""
        require_aware(now)
        try:
            state = OrderState(target)
        except ValueError:
            raise InvalidOrderTransition(self.state.value, str(target)) from None
        self._move(state, reason, now, metadata)

    # ------------------------------------------------------------ §1.4 steps
    def pre_trade_check(self, check: PreTradeCheck, now: datetime) -> None:
        """§1.4.1: stops in VALIDATING when passed; the service then runs ``validate`` in the same save."""
        require_aware(now)
        entry = [S.PRE_TRADE_CHECK] if self.state == S.PENDING else []
        self._check_path(*entry, S.VALIDATING if check.passed else S.PRE_TRADE_FAILED)
        if entry:
            self._move(S.PRE_TRADE_CHECK, "Pre-trade check started", now)
        self._pre_trade_checked(check.to_dict(), now)
        if check.passed:
            self._move(S.VALIDATING, "Pre-trade check passed", now)
        else:
            self._error_recorded(check.block_reason, now)
            self._move(S.PRE_TRADE_FAILED, check.block_reason or "Pre-trade check failed", now)

    def validate(self, now: datetime) -> list[str]:
        """§1.4.2 from PENDING, PRE_TRADE_CHECK or (after a passed pre-trade check) VALIDATING."""
        require_aware(now)
        entry = [] if self.state == S.VALIDATING else [S.VALIDATING]
        errors = validation_errors(self.ticker, self.requested_size, self.max_price, self.side)
        self._check_path(*entry, S.REJECTED if errors else S.VALIDATED)
        if entry:
            self._move(S.VALIDATING, "Validation started", now)
        if errors:
            joined = "; ".join(errors)
            self._error_recorded(joined, now)
            self._move(S.REJECTED, joined, now)
        else:
            self._move(S.VALIDATED, "Validation passed", now)
        return errors

    def begin_risk_check(self, now: datetime) -> None:
        """VALIDATED -> RISK_CHECK, recorded before the governor is asked, so that a check it never answers is
        timed out (RISK_TIMEOUT, one retry, then CANCELLED; §1.5) rather than left to the caller (ADR 0319)."""
        require_aware(now)
        self._require(frozenset({S.VALIDATED}), "is not in VALIDATED state")
        self._move(S.RISK_CHECK, "Risk check started", now)

    def apply_risk_result(self, result: RiskCheckResult, now: datetime,
                          evaluation: Mapping[str, Any] | None = None) -> None:
        """§1.4.3; an approved smaller ``adjusted_size`` reduces the order (never grows it; id unchanged).
        ``evaluation`` is the governor's whole evaluation, recorded with the result (§3.3; ADR 0377)."""
        require_aware(now)
        entry = [S.RISK_CHECK] if self.state == S.VALIDATED else []
        self._check_path(*entry, S.RISK_APPROVED if result.approved else S.RISK_REJECTED)
        size, adjusted = self.requested_size, result.adjusted_size
        # "a positive number smaller than requestedSize": a bool (JSON true) or text is no number and is ignored
        if (result.approved and isinstance(adjusted, int | float) and not isinstance(adjusted, bool)
                and 0 < adjusted < size):
            size = adjusted
        if entry:
            self._move(S.RISK_CHECK, "Risk check started", now)
        self.risk_check_answered("Risk check answered: " + ("approved" if result.approved else "rejected"), now)
        self._risk_checked(result.to_dict(), size, now, _plain(evaluation))
        if result.approved:
            self._move(S.RISK_APPROVED, "Risk approved", now)
        else:
            joined = "; ".join(result.violations)
            self._error_recorded(joined or None, now)
            self._move(S.RISK_REJECTED, joined or "Risk check failed", now)

    def record_risk_recheck(self, result: RiskCheckResult, evaluation: Mapping[str, Any] | None,
                            now: datetime) -> None:
        """The execute step's re-check of an approval (§1.7) is an evaluation too: recorded like the first, marked
        ``recheck``, with no transition (a block is then rejected by the caller; ADR 0377)."""
        require_aware(now)
        self._require(frozenset({S.RISK_APPROVED}), "is not in RISK_APPROVED state")
        marked = None if evaluation is None else {**evaluation, "recheck": True}
        self._risk_checked(result.to_dict(), self.requested_size, now, _plain(marked))

    def risk_check_unanswered(self, detail: str, now: datetime,
                              retries: int = DEFAULT_POLICY.risk_check_retries) -> bool:
        """The governor was asked and raised: no answer, not §1.4.12's error; never ERROR, never sent (ADR 0319).
        In RISK_CHECK (the first check) it is noted and the timers decide: RISK_TIMEOUT, one retry, CANCELLED
        (§1.5). In RISK_APPROVED (the execute step's re-check of an earlier approval; the table has no way back
        to RISK_CHECK) it is noted and the order kept for the next execute run to ask again; unanswered again
        after ``retries`` such retries -> CANCELLED (ADR 0334). True when it cancelled the order."""
        require_aware(now)
        self._require(AWAITING_RISK_ANSWER, "is not awaiting a risk answer")
        recheck = self.state == S.RISK_APPROVED
        give_up = recheck and self.unanswered_rechecks >= retries
        if give_up:
            self._check_path(S.CANCELLED)
        self._risk_check_unanswered(f"Risk {'re-check' if recheck else 'check'} not answered ({detail})"[:300], now)
        if give_up:
            self._move(S.CANCELLED, RECHECK_GIVEN_UP, now)
        return give_up

    @property
    def risk_question_open(self) -> bool:
        """A "not answered" note stands: a question the governor has not answered since its last answer. A note
        written before ADR 0335 is a plain ``ErrorRecorded``: while the order awaits or holds a risk answer no
        other error is kept without leaving those states, so any last error there is that note."""
        return self.unanswered_risk_checks > 0 or (self.last_error is not None and self.state in AWAITING_RISK_ANSWER)

    def _require_risk_answered(self) -> None:
        """Nothing is sent while a risk question stands unanswered (ADR 0334): the re-check must answer first."""
        if self.risk_question_open:
            raise OrderNotInRequiredState(f"Order {self.order_id} has an unanswered risk check: {self.last_error}",
                                          self.state)

    def risk_check_answered(self, resolution: str, now: datetime) -> bool:
        """The governor answered: a standing "not answered" note is resolved (``ErrorResolved`` names it and the
        answer; the note stays in the log) and is no longer the last error (ADR 0335). False when none stood."""
        require_aware(now)
        if not self.risk_question_open:
            return False
        self._error_resolved(self.last_error, resolution, now)
        return True

    def request_submission(self, now: datetime) -> bool:
        """RISK_APPROVED -> SUBMITTING before the venue call; an expired signal cancels instead (§1.5)."""
        require_aware(now)
        self._require(frozenset({S.RISK_APPROVED}), "is not in RISK_APPROVED state")
        self._require_risk_answered()
        if self.signal_expires_at is not None and now >= self.signal_expires_at:  # expired at expiresAt (ADR 0164)
            self._move(S.CANCELLED, "Signal expired before submission", now)
            return False
        self._move(S.SUBMITTING, "Submission requested", now, {"clientOrderId": self.order_id})
        return True

    def apply_execution_result(self, result: ExecutionResult, now: datetime) -> None:
        """§1.4.4; queued waits for the stale timer, a paper fill without payload is an ERROR."""
        require_aware(now)
        try:
            status = ExecutionStatus(result.status)
        except ValueError:
            raise InvalidExecutionResult(f"unknown execution status {result.status!r}") from None
        entry = [S.SUBMITTING] if self.state == S.RISK_APPROVED else []
        fill = result.paper_fill
        if entry and result.success and status != ExecutionStatus.REJECTED:
            self._require_risk_answered()
        if not result.success or status == ExecutionStatus.REJECTED:
            self._check_path(*entry, S.REJECTED)
            self._enter_submitting(entry, now)
            self._error_recorded(result.rejection_reason, now)
            self._move(S.REJECTED, result.rejection_reason or "Execution rejected", now)
        elif status == ExecutionStatus.QUEUED:
            if not entry:
                self._require(frozenset({S.SUBMITTING}), "is not in SUBMITTING state")
            self._enter_submitting(entry, now)
            self._submission_queued(now)
        elif status == ExecutionStatus.PAPER_FILLED and fill is None:
            self._check_path(*entry, S.ERROR)
            self._enter_submitting(entry, now)
            self._error_recorded(PAPER_FILL_MISSING, now)
            self._move(S.ERROR, PAPER_FILL_MISSING, now)
        else:
            metadata = {k: v for k, v in (("venueOrderId", result.venue_order_id), ("mode", result.mode)) if v}
            if fill is not None:
                self._check_fill(fill.count, fill.fill_price)
                target = S.FILLED if self.filled_size + fill.count >= self.requested_size else S.PARTIAL_FILL
                self._check_path(*entry, S.SUBMITTED, target)
            else:
                self._check_path(*entry, S.SUBMITTED)
            self._enter_submitting(entry, now)
            self._move(S.SUBMITTED, "Submitted", now, metadata)
            if fill is not None:
                self.record_fill(fill.count, fill.fill_price, now, fee_cents=fill.fee_cents)

    def _enter_submitting(self, entry: list[OrderState], now: datetime) -> None:
        if entry:
            self._move(S.SUBMITTING, "Submission requested", now, {"clientOrderId": self.order_id})

    def mark_submission_in_doubt(self, detail: str, now: datetime) -> None:
        """Venue timeout/5xx: the order may exist. SUBMITTED in doubt until a query by client id resolves it."""
        require_aware(now)
        self._require(frozenset({S.SUBMITTING}), "is not in SUBMITTING state")
        self._submission_in_doubt(detail, now)
        self._move(S.SUBMITTED, "Venue outcome unknown", now,
                   {"venueOutcome": "unknown", "clientOrderId": self.order_id, "detail": detail})

    def resolve_submission_doubt(self, found: bool, now: datetime, broker_order_id: str | None = None) -> None:
        """Outcome of querying the venue by client order id; not found -> ERROR (retry reuses the id)."""
        require_aware(now)
        if not self.submission_in_doubt:
            raise OrderNotInRequiredState(f"Order {self.order_id} has no submission in doubt", self.state)
        if found and broker_order_id and self.state == S.SUBMITTED:
            self.acknowledge(broker_order_id, now)
            return
        self._doubt_resolved(found, now)
        if not found and self.state == S.SUBMITTED:
            message = f"Venue has no order with client order id {self.order_id}"
            self._error_recorded(message, now)
            self._move(S.ERROR, message, now)

    @staticmethod
    def _check_fill(fill_size: int, fill_price: float) -> None:
        if not fill_size > 0:
            raise InvalidFill(f"fill size must be positive, got {fill_size}")
        if not 1 <= fill_price <= 99:
            raise InvalidFill(f"fill price must be 1..99 cents, got {fill_price}")

    def record_fill(self, fill_size: int, fill_price: float, now: datetime,
                    closing_line_price: float | None = None, fee_cents: Decimal | int | None = None) -> None:
        """§1.4.5: quantities always; a transition only when the state changes (overfills kept). ``fee_cents`` is
        this fill's fee, None when not known (ADR 0437)."""
        require_aware(now)
        self._check_fill(fill_size, fill_price)
        fee = None if fee_cents is None else Decimal(fee_cents)
        if fee is not None and (not fee.is_finite() or fee < 0):
            raise InvalidFill(f"fill fee must be a non-negative number of cents, got {fee_cents}")
        filled = self.filled_size + fill_size
        target = S.FILLED if filled >= self.requested_size else S.PARTIAL_FILL
        moves = not (target == S.PARTIAL_FILL and self.state == S.PARTIAL_FILL)
        if moves:
            self._check_path(target)
        else:
            self._require(frozenset({S.PARTIAL_FILL}), "is not working")
        avg = ((self.avg_fill_price or 0) * self.filled_size + fill_price * fill_size) / filled
        entry_price = self.entry_price if self.entry_price is not None else fill_price
        closing = self.closing_line_price if closing_line_price is None else closing_line_price
        clv = self.clv if closing_line_price is None else closing_line_price - avg
        if self.submission_in_doubt:
            self._doubt_resolved(True, now)
        self._fill_recorded(fill_size, fill_price, filled, avg, entry_price, closing, clv, now, fee)
        if moves:
            self._move(target, "Order filled" if target == S.FILLED else "Partial fill", now,
                       {"fillSize": fill_size, "fillPrice": fill_price})

    def correct_fees(self, venue_fill_count: int, venue_fees_cents: Decimal | None, evidence_hash: str,
                     now: datetime, run_id: str | None = None) -> FeeCorrection:
        """Settle the fees of the fills recorded with an unknown one from Kalshi's later answer about the order
        (ADR 0448): when Kalshi has filled exactly what we hold, its cumulative fee less the fees known here. Once
        settled nothing is unknown, so the same answer again records nothing. Any other outcome records nothing
        and says why (``fees.fee_correction``)."""
        require_aware(now)
        if not is_sha256_hex(evidence_hash):
            raise InvalidEvidenceHash(f"not a lowercase sha256 hex digest: {evidence_hash!r}")
        cumulative = None if venue_fees_cents is None else Decimal(venue_fees_cents)
        if cumulative is not None and (not cumulative.is_finite() or cumulative < 0):
            raise InvalidFill(f"venue fees must be a non-negative number of cents, got {venue_fees_cents}")
        outcome, fee = fee_correction(self.fee_unknown_fills, self.filled_size, self.fees_cents, venue_fill_count,
                                      cumulative)
        if fee is not None and cumulative is not None and self.fee_unknown_last_at is not None:
            self._fees_corrected(fee, cumulative, venue_fill_count, self.fee_unknown_fills, self.fee_unknown_last_at,
                                 evidence_hash, run_id, now)
        return outcome

    def record_closing_line(self, yes_closing_price: float, quality_score: float, is_valid: bool, method: str,
                            market_class: str, usable: bool, line_time: datetime, now: datetime) -> bool:
        """The market's closing line (YES probability, §4.3) as this order's CLV, once (ADR 0419): the line in
        the order's own side's cents (NO: ``100 - 100p``) minus the average fill (ADR 0101). Only an order that
        filled has a CLV; False (no event) when none was filled or the line is already recorded. ``usable``
        False (no observation passed §4.3's filters) records the line as invalid with no prices."""
        require_aware(now)
        if self.closing_line is not None or self.filled_size <= 0 or self.avg_fill_price is None:
            return False
        closing = side_price_cents(yes_closing_price, self.side) if usable else None
        clv = None if closing is None else closing - self.avg_fill_price
        self._closing_line_recorded(closing, clv, quality_score, is_valid and usable, method, market_class,
                                    line_time, now)
        return True

    def acknowledge(self, broker_order_id: str, now: datetime) -> None:
        """§1.4.6: only from SUBMITTED, so a duplicate acknowledgement is refused."""
        require_aware(now)
        self._require(frozenset({S.SUBMITTED}), "is not in SUBMITTED state")
        if self.submission_in_doubt:
            self._doubt_resolved(True, now)
        self._move(S.ORDER_ACKNOWLEDGED, "Acknowledged by venue", now, {"brokerOrderId": broker_order_id})

    def cancel_for_price_move(self, price_move_pct: float, threshold: float, now: datetime,
                              detail: Mapping[str, Any] | None = None) -> None:
        """§1.4.7: the caller has decided the move exceeded the threshold; ``detail`` adds what it measured."""
        require_aware(now)
        self._require(PRICE_MOVE_CANCELLABLE, "is not in valid state for price-move cancel")
        self._move(S.PRICE_MOVE_CANCEL, PRICE_MOVE_REASON, now,
                   {**(detail or {}), "priceMovePct": price_move_pct, "threshold": threshold})

    def cancel_on_price_move(self, price_move_pct: float, threshold: float, reference_price: float,
                             market_price: int, now: datetime, evidence_hash: str | None = None) -> bool:
        """§1.4.7 for a resting order whose market moved (ADR 0382). Not at a venue -> PRICE_MOVE_CANCEL now (True).
        Working at the venue, or perhaps there (in doubt) -> the cancel is requested there, once, and the venue's
        confirmation closes it (``record_venue_cancelled``; False): never closed locally while it may rest."""
        require_aware(now)
        self._require(PRICE_MOVE_CANCELLABLE, "is not in valid state for price-move cancel")
        if self.cancel_requested_at is not None:
            return False
        if self.broker_order_id or self.submission_in_doubt:
            self._price_move_cancel_requested(price_move_pct, threshold, reference_price, market_price,
                                              evidence_hash, PRICE_MOVE_REASON, now)
            return False
        self.cancel_for_price_move(price_move_pct, threshold, now,
                                   {"referencePrice": reference_price, "marketPrice": market_price})
        return True

    def reconcile(self, result: ReconciliationResult, now: datetime,
                  metadata: Mapping[str, Any] | None = None) -> None:
        """§1.4.8: only from FILLED; a drifted order needs the manual transition to RECONCILED. ``metadata`` (the
        reconciliation run's id) goes on the transition, so the audit trail links the order to its run."""
        require_aware(now)
        self._require(frozenset({S.FILLED}), "is not in FILLED state")
        self._reconciliation_recorded(result.to_dict(), now)
        if result.verified:
            self._move(S.RECONCILED, "Position verified", now, metadata)
        else:
            message = f"Position drift: {fixed(result.drift_pct, 2)}%"
            self._error_recorded(message, now)
            self._move(S.RECONCILIATION_DRIFT, message, now, metadata)

    def resolve_drift(self, reason: str, operator: str, now: datetime) -> None:
        """§1.3 RECONCILIATION_DRIFT -> RECONCILED "after manual fix": an operator says the position is right now.
        The drift error is resolved (kept in the log), the fix and who made it are on the transition."""
        require_aware(now)
        self._require(frozenset({S.RECONCILIATION_DRIFT}), "is not in RECONCILIATION_DRIFT state")
        reason, operator = reason.strip(), operator.strip()
        if not reason or not operator:
            raise InvalidManualFix("a manual fix needs a reason and an operator")
        fix = f"Manual fix by {operator}: {reason}"
        if self.last_error is not None:
            self._error_resolved(self.last_error, fix, now)
        self._move(S.RECONCILED, fix, now, {"manual": True, "operator": operator, "reason": reason})

    def archive(self, now: datetime, pnl: float | None = None, closing_notes: str | None = None,
                metadata: Mapping[str, Any] | None = None, fees: float | None = None,
                net_pnl: float | None = None, fees_complete: bool | None = None) -> None:
        """§1.4.9: metadata carries only the keys given (``metadata`` adds the run that archived it). ``pnl`` is
        gross; ``fees``, ``net_pnl`` (USD) and ``fees_complete`` say what fees were paid (ADR 0437)."""
        require_aware(now)
        self._require(frozenset({S.RECONCILED}), "is not in RECONCILED state")
        given = {k: v for k, v in (("pnl", pnl), ("closingNotes", closing_notes), ("fees", fees),
                                   ("netPnl", net_pnl), ("feesComplete", fees_complete)) if v is not None}
        self._move(S.ARCHIVED, "Position closed", now, {**(metadata or {}), **given})

    def retry(self, now: datetime, max_retries: int = DEFAULT_MAX_RETRIES) -> None:
        """§1.4.10; refused while a submission is in doubt, so a retry never makes a second venue order."""
        require_aware(now)
        if self.state != S.ERROR:
            raise RetryNotAllowed(f"Order {self.order_id} is not in ERROR state: {self.state}")
        if self.retry_count >= max_retries:
            raise RetryNotAllowed(f"Order {self.order_id} reached max retries ({max_retries})")
        if self.submission_in_doubt:
            raise VenueOutcomeUnknown(f"Order {self.order_id}: query the venue by client order id before retrying")
        n = self.retry_count + 1
        self._retried(n, now)
        self._move(S.PENDING, f"Retry #{n}", now)

    def cancel(self, now: datetime, reason: str = "Cancelled by user") -> bool:
        """§1.4.11. True when CANCELLED now; False when a venue cancel was requested (confirmed later)."""
        require_aware(now)
        if self.state in TERMINAL_STATES:
            raise OrderInTerminalState(self.state)
        if self.state not in CANCELLABLE_STATES:
            raise OrderNotCancellable(self.state)
        if self.cancel_requested_at is not None:
            return False
        if self.state in WORKING_STATES and (self.broker_order_id or self.submission_in_doubt):
            self._cancel_requested(reason, now)
            return False
        self._move(S.CANCELLED, reason, now)
        return True

    def record_venue_cancelled(self, now: datetime, reason: str = "Cancelled at venue") -> None:
        """Venue confirmed (or itself made) the cancellation of a working order. One we asked to cancel for a
        price move is PRICE_MOVE_CANCEL, unless it filled in part meanwhile (§1.4.7 excludes PARTIAL_FILL): then
        CANCELLED, the move kept in the metadata (ADR 0382)."""
        require_aware(now)
        self._require(WORKING_STATES, "is not working at the venue")
        move = self.price_move_cancel
        if move is not None and self.state in PRICE_MOVE_CANCELLABLE:
            self._move(S.PRICE_MOVE_CANCEL, self.cancel_reason or PRICE_MOVE_REASON, now, move)
            return
        self._move(S.CANCELLED, self.cancel_reason or reason, now, move)

    def record_venue_expired(self, now: datetime) -> None:
        """Time in force elapsed at the venue without a full fill."""
        require_aware(now)
        self._require(WORKING_STATES, "is not working at the venue")
        self._move(S.EXPIRED, "Expired at venue", now)

    def record_error(self, message: str, now: datetime) -> None:
        """§1.4.12: ERROR where the table allows it; otherwise the error is kept without a transition."""
        require_aware(now)
        self._error_recorded(message, now)
        if is_transition_allowed(self.state, S.ERROR):
            self._move(S.ERROR, message, now)

    def note_error(self, message: str, now: datetime) -> None:
        """Keep an error without a transition: the order may be at the venue, where ERROR (retryable) could
        send it again; the venue is asked by client order id instead (ADR 0293)."""
        require_aware(now)
        self._error_recorded(message, now)

    def record_replacement(self, replacement_order_id: str, now: datetime) -> None:
        """Mark a closed, unfilled remainder as replaced (§1.5); once only, so one replacement per order."""
        require_aware(now)
        self._require(REPLACEABLE_STATES, "is not closed unfilled")
        if self.replaced_by is not None:
            raise ReplacementNotAllowed(f"Order {self.order_id} was already replaced by {self.replaced_by}")
        self._replaced(replacement_order_id, now)

    def attach_evidence(self, evidence_hash: str) -> None:
        """Remember the sha256 of a stored raw body; the same hash twice is a no-op."""
        if not is_sha256_hex(evidence_hash):
            raise InvalidEvidenceHash(f"not a lowercase sha256 hex digest: {evidence_hash!r}")
        if evidence_hash not in self.evidence_hashes:
            self._evidence_attached(evidence_hash)
