"""Order lifecycle (trading §1): unit tests per command, timers, views, and a replaying state machine."""

from __future__ import annotations

import ast
import inspect
from datetime import datetime, timedelta
from decimal import Decimal
from functools import reduce
from itertools import pairwise
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from paulp.domain import order_record
from paulp.domain.ids import order_aggregate_id, order_id
from paulp.domain.order_record import OrderRecord
from paulp.domain.order_states import (
    ALLOWED_TRANSITIONS,
    CLOSING_STATES,
    OrderState,
    is_transition_allowed,
    shortest_path,
    transition_table,
)
from paulp.domain.order_timers import expire_stale, replace, time_out_risk_check
from paulp.domain.order_values import (
    ExecutionResult,
    ExecutionStatus,
    InvalidFill,
    InvalidOrderTransition,
    LifecyclePolicy,
    NaiveTimestamp,
    OrderError,
    OrderInTerminalState,
    OrderNotCancellable,
    OrderNotInRequiredState,
    PaperFill,
    PreTradeCheck,
    ReconciliationResult,
    ReplacementNotAllowed,
    RetryNotAllowed,
    RiskCheckResult,
    VenueOutcomeUnknown,
)
from paulp.domain.order_workflow import order_view, state_history
from paulp.domain.orders import DEFAULT_MAX_RETRIES, REPLACEABLE_STATES, Order
from tests.support.hypothesis_scale import examples, steps
from tests.unit.domain.orders_support import NOW, new_order, placed

S = OrderState


def targets_since(order: Order, start: int) -> list[str]:
    return [e.target.value for e in order.history[start:]]


# ------------------------------------------------------------------ creation
def test_create_when_new_then_pending_with_creation_entry() -> None:
    order = new_order()
    assert order.state == S.PENDING
    assert state_history(order) == [{"from": "PENDING", "to": "PENDING", "timestamp": "2026-03-01T12:00:00.000Z",
                                     "reason": "Order created"}]
    assert (order.filled_size, order.retry_count, order.evidence_hashes) == (0, 0, [])


def test_create_when_same_signal_twice_then_same_order_and_aggregate_id() -> None:
    a, b = new_order(), new_order(now=NOW + timedelta(minutes=5))
    assert a.order_id == b.order_id == order_id("sig-1", "bonding", "TICKER", "YES", 10, 55)
    assert a.id == b.id == order_aggregate_id(a.order_id)


def test_save_when_duplicate_create_then_store_refuses_and_keeps_first() -> None:
    # Arrange
    app: Application[UUID] = Application()
    first = new_order()
    first.validate(NOW)
    app.save(first)
    # Act / Assert
    with pytest.raises(IntegrityError):
        app.save(new_order())
    assert app.repository.get(first.id).state == S.VALIDATED


def test_create_when_naive_now_then_raises_naive_timestamp() -> None:
    with pytest.raises(NaiveTimestamp):
        new_order(now=datetime(2026, 3, 1, 12))


# ------------------------------------------------------------ §1.4 commands
def test_pre_trade_check_when_failed_then_block_reason_is_reason_and_last_error() -> None:
    order = new_order()
    order.pre_trade_check(PreTradeCheck(False, spread=0.2, block_reason="Spread too wide"), NOW)
    assert order.state == S.PRE_TRADE_FAILED
    assert order.history[-1].reason == order.last_error == "Spread too wide"
    assert order.closed_at == NOW and order.pre_trade_checked_at == NOW


def test_validate_when_after_passed_pre_trade_then_validated_without_reentry() -> None:
    order = new_order()
    order.pre_trade_check(PreTradeCheck(True), NOW)
    order.validate(NOW)
    assert targets_since(order, 1) == ["PRE_TRADE_CHECK", "VALIDATING", "VALIDATED"]
    assert order.validated_at == NOW


def test_validate_when_probability_price_and_bad_side_then_rejected_with_joined_errors() -> None:
    order = new_order(max_price=0.55, side="MAYBE")
    errors = order.validate(NOW)
    assert errors == ["Invalid price", "Invalid side"]
    assert order.state == S.REJECTED and order.last_error == "Invalid price; Invalid side"


def test_validate_when_already_validated_then_refused_without_events() -> None:
    order = placed(S.VALIDATED)
    with pytest.raises(InvalidOrderTransition) as err:
        order.validate(NOW)
    assert err.value.code == "INVALID_TRANSITION" and (err.value.source, err.value.target) == ("VALIDATED",
                                                                                               "VALIDATING")
    assert order.collect_events() == []


def test_apply_risk_result_when_rejected_without_violations_then_default_reason_and_no_last_error() -> None:
    order = placed(S.VALIDATED)
    order.apply_risk_result(RiskCheckResult(False), NOW)
    assert order.state == S.RISK_REJECTED
    assert order.history[-1].reason == "Risk check failed" and order.last_error is None


@pytest.mark.parametrize(("adjusted", "expected"), [(7, 7), (0, 10), (None, 10), (15, 10), (10, 10)])
def test_apply_risk_result_when_adjusted_size_then_reduce_only(adjusted: int | None, expected: int) -> None:
    order = placed(S.VALIDATED)
    before = order.order_id
    order.apply_risk_result(RiskCheckResult(True, adjusted), NOW)
    assert order.requested_size == expected and order.order_id == before
    assert order.risk_approved_at == NOW


@pytest.mark.parametrize("adjusted", [True, "5", float("nan"), float("inf"), -3])
def test_apply_risk_result_when_adjusted_size_is_no_positive_number_then_ignored(adjusted: Any) -> None:
    """§1.4.3: only "a positive number smaller than requestedSize" reduces the order. A JSON ``true`` is no number
    (Python's bool is an int: it made the size True), and text was compared with the size and raised."""
    order = placed(S.VALIDATED)
    order.apply_risk_result(RiskCheckResult(True, adjusted), NOW)
    assert order.state == S.RISK_APPROVED
    assert order.requested_size == 10 and type(order.requested_size) is int


# ------------------------------------- risk questions the governor did not answer (ADRs 0319, 0334, 0335)
def _event_names(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_risk_check_unanswered_when_checking_then_noted_without_transition() -> None:
    order = placed(S.RISK_CHECK)
    assert order.risk_check_unanswered("OperationalError: db down", NOW) is False
    assert (order.state, order.last_error) == (S.RISK_CHECK, "Risk check not answered (OperationalError: db down)")
    assert _event_names(order.collect_events()) == ["RiskCheckUnanswered"]


def test_risk_check_unanswered_when_the_detail_is_long_then_the_note_is_cut_at_300() -> None:
    order = placed(S.RISK_CHECK)
    order.risk_check_unanswered("x" * 400, NOW)
    assert order.last_error is not None and len(order.last_error) == 300


def test_risk_check_unanswered_when_not_awaiting_an_answer_then_refused_without_events() -> None:
    for state in (S.VALIDATED, S.SUBMITTING, S.RISK_TIMEOUT):
        order = placed(state)
        with pytest.raises(OrderNotInRequiredState):
            order.risk_check_unanswered("boom", NOW)
        assert order.collect_events() == []


@pytest.mark.parametrize(("approved", "state"), [(True, S.RISK_APPROVED), (False, S.RISK_REJECTED)])
def test_apply_risk_result_when_a_not_answered_note_stands_then_resolved_in_the_log(approved: bool,
                                                                                     state: OrderState) -> None:
    order = placed(S.RISK_CHECK)
    order.risk_check_unanswered("boom", NOW)
    order.collect_events()
    order.apply_risk_result(RiskCheckResult(approved, violations=() if approved else ("I5",)), NOW)
    events = order.collect_events()
    assert _event_names(events)[:2] == ["ErrorResolved", "RiskChecked"]
    assert (events[0].error, events[0].resolution) == (
        "Risk check not answered (boom)", "Risk check answered: " + ("approved" if approved else "rejected"))
    assert (order.state, order.last_error, order.unanswered_risk_checks) == (state, None if approved else "I5", 0)


def test_apply_risk_result_when_no_note_stands_then_nothing_resolved() -> None:
    order = placed(S.VALIDATED)
    order.apply_risk_result(RiskCheckResult(True), NOW)
    assert "ErrorResolved" not in _event_names(order.collect_events())


def test_apply_risk_result_when_a_note_from_before_0335_stands_then_it_is_resolved_too() -> None:
    """A 0319 note was a plain ErrorRecorded; in RISK_CHECK nothing else keeps an error, so it is that note."""
    order = placed(S.RISK_CHECK)
    order.note_error("Risk check not answered (RuntimeError: x)", NOW)
    order.apply_risk_result(RiskCheckResult(True), NOW)
    assert order.last_error is None and "ErrorResolved" in _event_names(order.collect_events())


def test_recheck_unanswered_when_approved_then_kept_unsent_then_cancelled_after_one_retry() -> None:
    order = placed(S.RISK_APPROVED)
    assert order.risk_check_unanswered("boom", NOW) is False
    assert (order.state, order.last_error) == (S.RISK_APPROVED, "Risk re-check not answered (boom)")
    with pytest.raises(OrderNotInRequiredState):  # nothing is sent while the question stands
        order.request_submission(NOW)
    with pytest.raises(OrderNotInRequiredState):
        order.apply_execution_result(ExecutionResult(True, ExecutionStatus.SUBMITTED), NOW)
    assert order.risk_check_unanswered("boom again", NOW) is True
    assert order.state == S.CANCELLED and order.history[-1].reason == "Risk re-check not answered after one retry"
    assert order.times_entered(S.SUBMITTING) == 0 and order.times_entered(S.ERROR) == 0


def test_recheck_unanswered_when_first_check_notes_were_carried_in_then_the_retry_still_comes_first() -> None:
    """Notes of the first check (RISK_CHECK) are not re-checks: an approval reached by an operator's move while
    they stood still gets ADR 0334's one retry before it is cancelled."""
    order = placed(S.RISK_CHECK)
    order.risk_check_unanswered("boom", NOW)
    order.transition(S.RISK_APPROVED, "approved by the desk", NOW)
    assert order.risk_check_unanswered("boom", NOW) is False and order.state == S.RISK_APPROVED
    assert order.risk_check_unanswered("boom again", NOW) is True and order.state == S.CANCELLED


def test_recheck_answered_when_a_note_stands_then_resolved_and_sendable() -> None:
    order = placed(S.RISK_APPROVED)
    order.risk_check_unanswered("boom", NOW)
    assert order.risk_check_answered("Risk re-check answered: approved", NOW) is True
    assert order.risk_check_answered("Risk re-check answered: approved", NOW) is False  # once
    assert order.request_submission(NOW) and order.state == S.SUBMITTING
    assert order.last_error is None


def test_recheck_unanswered_when_a_rejection_is_recorded_then_the_execution_result_still_closes_it() -> None:
    order = placed(S.RISK_APPROVED)
    order.risk_check_unanswered("boom", NOW)
    order.apply_execution_result(ExecutionResult(False, ExecutionStatus.REJECTED, rejection_reason="HALT"), NOW)
    assert order.state == S.REJECTED


def test_apply_risk_result_when_pending_then_refused_pending_to_risk_approved() -> None:
    order = new_order()
    with pytest.raises(InvalidOrderTransition, match="Invalid state transition") as err:
        order.apply_risk_result(RiskCheckResult(True), NOW)
    assert f"{err.value.source}->{err.value.target}" == "PENDING->RISK_APPROVED"
    assert order.collect_events()[1:] == []


def test_begin_risk_check_when_validated_then_risk_check_and_the_answer_applies_from_there() -> None:
    order = placed(S.VALIDATED)
    order.begin_risk_check(NOW)
    assert order.state == S.RISK_CHECK and order.history[-1].reason == "Risk check started"
    order.apply_risk_result(RiskCheckResult(True), NOW)
    assert [(e.source, e.target) for e in order.history[-2:]] == [(S.VALIDATED, S.RISK_CHECK),
                                                                   (S.RISK_CHECK, S.RISK_APPROVED)]


def test_begin_risk_check_when_not_validated_then_refused_and_nothing_recorded() -> None:
    order = placed(S.RISK_CHECK)
    before = len(order.history)
    with pytest.raises(OrderNotInRequiredState):
        order.begin_risk_check(NOW)
    assert len(order.history) == before


def test_apply_execution_result_when_paper_filled_then_submitted_and_filled_at_once() -> None:
    order = placed(S.RISK_APPROVED)
    start = len(order.history)
    order.apply_execution_result(ExecutionResult(True, ExecutionStatus.PAPER_FILLED, PaperFill(10, 56)), NOW)
    assert targets_since(order, start) == ["SUBMITTING", "SUBMITTED", "FILLED"]
    assert (order.filled_size, order.avg_fill_price, order.entry_price) == (10, 56, 56)
    assert order.filled_at == order.closed_at == NOW


def test_apply_execution_result_when_paper_fill_payload_missing_then_error() -> None:
    order = placed(S.RISK_APPROVED)
    order.apply_execution_result(ExecutionResult(True, ExecutionStatus.PAPER_FILLED), NOW)
    assert order.state == S.ERROR and order.last_error == "Paper fill payload missing"


def test_apply_execution_result_when_failed_then_rejected_with_reason() -> None:
    order = placed(S.RISK_APPROVED)
    order.apply_execution_result(ExecutionResult(False, ExecutionStatus.REJECTED, rejection_reason="No funds"), NOW)
    assert order.state == S.REJECTED and order.last_error == "No funds"


def test_apply_execution_result_when_queued_then_stays_submitting_with_queue_time() -> None:
    order = placed(S.RISK_APPROVED)
    order.apply_execution_result(ExecutionResult(True, ExecutionStatus.QUEUED), NOW)
    assert order.state == S.SUBMITTING and order.queued_at == NOW


def test_apply_execution_result_when_live_submitted_then_venue_id_known() -> None:
    order = placed(S.RISK_APPROVED)
    order.apply_execution_result(ExecutionResult(True, ExecutionStatus.SUBMITTED, venue_order_id="v-9"), NOW)
    assert order.state == S.SUBMITTED and order.broker_order_id == "v-9" and order.submitted_at == NOW


def test_request_submission_when_signal_expired_then_cancelled_not_submitted() -> None:
    order = placed(S.RISK_APPROVED, signal_expires_at=NOW - timedelta(seconds=1))
    assert order.request_submission(NOW) is False
    assert order.state == S.CANCELLED


def test_request_submission_when_signal_expires_at_now_then_cancelled_not_submitted() -> None:
    order = placed(S.RISK_APPROVED, signal_expires_at=NOW)  # expired once now >= expiresAt (ADR 0164)
    assert order.request_submission(NOW) is False
    assert order.state == S.CANCELLED


def test_record_fill_when_partials_then_one_history_entry_and_weighted_average() -> None:
    order = placed(S.SUBMITTED)
    start = len(order.history)
    order.record_fill(3, 50, NOW)
    order.record_fill(3, 53, NOW)
    order.record_fill(4, 56, NOW, closing_line_price=60)
    assert targets_since(order, start) == ["PARTIAL_FILL", "FILLED"]
    assert order.entry_price == 50 and order.avg_fill_price == pytest.approx(53.3)
    assert order.clv == pytest.approx(60 - 53.3)


def test_record_fill_when_acknowledged_partial_then_partial_fill() -> None:
    order = placed(S.ORDER_ACKNOWLEDGED)
    order.record_fill(4, 50, NOW)
    assert order.state == S.PARTIAL_FILL


def test_record_fill_when_overfilled_then_filled_without_cap() -> None:
    order = placed(S.SUBMITTED)
    order.record_fill(15, 50, NOW)
    assert order.state == S.FILLED and order.filled_size == 15


@pytest.mark.parametrize("state", [S.PENDING, S.FILLED, S.CANCELLED, S.VALIDATED])
def test_record_fill_when_not_working_then_refused_without_events(state: OrderState) -> None:
    order = placed(state)
    with pytest.raises(OrderError):
        order.record_fill(5, 50, NOW)
    assert order.collect_events() == [] and order.filled_size == 0


@pytest.mark.parametrize(("size", "price"), [(0, 50), (-1, 50), (5, 0), (5, 100)])
def test_record_fill_when_invalid_fill_then_raises_invalid_fill(size: int, price: int) -> None:
    with pytest.raises(InvalidFill) as err:
        placed(S.SUBMITTED).record_fill(size, price, NOW)
    assert err.value.code == "INVALID_FILL"


def test_acknowledge_when_duplicate_then_refused() -> None:
    order = placed(S.SUBMITTED)
    order.acknowledge("b-1", NOW)
    with pytest.raises(OrderNotInRequiredState, match="not in SUBMITTED state"):
        order.acknowledge("b-1", NOW)
    assert order.broker_order_id == "b-1" and order.acknowledged_at == NOW


def test_cancel_for_price_move_when_partial_fill_then_refused() -> None:
    with pytest.raises(OrderNotInRequiredState, match="not in valid state"):
        placed(S.PARTIAL_FILL).cancel_for_price_move(5.5, 5, NOW)


def test_reconcile_when_drift_then_drift_state_and_two_decimal_message() -> None:
    order = placed(S.FILLED)
    order.reconcile(ReconciliationResult(False, 10, 8, 20.0), NOW)
    assert order.state == S.RECONCILIATION_DRIFT and order.last_error == "Position drift: 20.00%"
    with pytest.raises(OrderNotInRequiredState, match="not in FILLED state"):
        order.reconcile(ReconciliationResult(True, 10, 10, 0), NOW)
    order.transition(S.RECONCILED, "manual fix", NOW)
    assert order.reconciled_at == NOW


def test_archive_when_only_pnl_given_then_metadata_has_only_pnl() -> None:
    order = placed(S.RECONCILED)
    order.archive(NOW, pnl=12.5)
    assert order.history[-1].metadata == {"pnl": 12.5} and order.archived_at == order.closed_at == NOW


def test_retry_when_error_then_pending_counted_and_error_cleared() -> None:
    order = new_order()
    order.record_error("boom", NOW)
    order.retry(NOW)
    assert order.state == S.PENDING and order.retry_count == 1 and order.last_error is None
    assert order.history[-1].reason == "Retry #1"


def test_retry_when_max_reached_then_refused() -> None:
    order = new_order()
    for _ in range(3):
        order.record_error("boom", NOW)
        order.retry(NOW)
    order.record_error("boom", NOW)
    assert not order.can_retry()
    with pytest.raises(RetryNotAllowed):
        order.retry(NOW)


def test_record_error_when_error_not_allowed_then_kept_without_transition() -> None:
    order = placed(S.FILLED)
    order.record_error("late failure", NOW)
    assert order.state == S.FILLED and order.last_error == "late failure"


@pytest.mark.parametrize("state", sorted(CLOSING_STATES - {S.ARCHIVED}))
def test_cancel_when_terminal_then_refused_with_terminal_code(state: OrderState) -> None:
    with pytest.raises(OrderInTerminalState, match=f"Order is in terminal state: {state}") as err:
        placed(state).cancel(NOW)
    assert err.value.code == "ORDER_TERMINAL"


@pytest.mark.parametrize("state", [S.PRE_TRADE_CHECK, S.VALIDATING, S.RISK_CHECK, S.SUBMITTING, S.RECONCILED,
                                   S.RECONCILIATION_DRIFT, S.ERROR])
def test_cancel_when_mid_step_then_refused_not_cancellable(state: OrderState) -> None:
    with pytest.raises(OrderNotCancellable) as err:
        placed(state).cancel(NOW)
    assert err.value.code == "NOT_CANCELLABLE"


def test_cancel_when_live_order_at_venue_then_waits_for_venue_confirmation() -> None:
    order = placed(S.SUBMITTED)
    order.acknowledge("b-1", NOW)
    assert order.cancel(NOW, "user") is False
    assert order.state == S.ORDER_ACKNOWLEDGED and order.cancel_requested_at == NOW
    assert order.cancel(NOW) is False and order.collect_events()[-1].__class__.__name__ == "CancelRequested"
    order.record_venue_cancelled(NOW)
    assert order.history[-1].target == S.CANCELLED and order.history[-1].reason == "user"


# ------------------------------------------------------ ambiguous venue outcome
def test_mark_submission_in_doubt_when_venue_timeout_then_submitted_with_unknown_outcome() -> None:
    order = placed(S.SUBMITTING)
    order.mark_submission_in_doubt("HTTP 504", NOW)
    assert order.state == S.SUBMITTED and order.submission_in_doubt
    assert order.history[-1].metadata == {"venueOutcome": "unknown", "clientOrderId": order.order_id,
                                          "detail": "HTTP 504"}


def test_retry_when_submission_in_doubt_then_refused_until_venue_queried() -> None:
    # Arrange
    order = placed(S.SUBMITTING)
    order.mark_submission_in_doubt("HTTP 504", NOW)
    order.record_error("worker crashed", NOW)
    # Act / Assert
    with pytest.raises(VenueOutcomeUnknown) as err:
        order.retry(NOW)
    assert err.value.code == "VENUE_OUTCOME_UNKNOWN"
    order.resolve_submission_doubt(False, NOW)
    order.retry(NOW)
    assert order.state == S.PENDING


def test_resolve_submission_doubt_when_found_then_acknowledged() -> None:
    order = placed(S.SUBMITTING)
    order.mark_submission_in_doubt("HTTP 502", NOW)
    order.resolve_submission_doubt(True, NOW, broker_order_id="b-7")
    assert order.state == S.ORDER_ACKNOWLEDGED and not order.submission_in_doubt


def test_resolve_submission_doubt_when_not_found_then_error_with_client_id() -> None:
    order = placed(S.SUBMITTING)
    order.mark_submission_in_doubt("HTTP 502", NOW)
    order.resolve_submission_doubt(False, NOW)
    assert order.state == S.ERROR and order.order_id in (order.last_error or "")


def test_cancel_when_submission_in_doubt_then_venue_cancel_requested() -> None:
    order = placed(S.SUBMITTING)
    order.mark_submission_in_doubt("HTTP 502", NOW)
    assert order.cancel(NOW) is False and order.state == S.SUBMITTED


# ------------------------------------------------------------------- timers
def test_time_out_risk_check_when_exactly_timeout_then_nothing_happens() -> None:
    order = placed(S.RISK_CHECK)
    assert time_out_risk_check(order, NOW + timedelta(seconds=30)) is False
    assert order.collect_events() == []


def test_time_out_risk_check_when_overdue_twice_then_one_retry_then_cancelled() -> None:
    order = placed(S.RISK_CHECK)
    start = len(order.history)
    assert time_out_risk_check(order, NOW + timedelta(seconds=31))
    assert time_out_risk_check(order, NOW + timedelta(seconds=62))
    assert targets_since(order, start) == ["RISK_TIMEOUT", "RISK_CHECK", "RISK_TIMEOUT", "CANCELLED"]


def test_expire_stale_when_unfilled_past_timeout_then_cancelled() -> None:
    order = placed(S.SUBMITTED)
    assert expire_stale(order, NOW + timedelta(seconds=300)) is False
    assert expire_stale(order, NOW + timedelta(seconds=301))
    assert order.state == S.CANCELLED


@pytest.mark.parametrize(("filled", "cancelled"), [(4, True), (5, False)])
def test_expire_stale_when_partial_then_cancel_only_below_min_fill(filled: int, cancelled: bool) -> None:
    order = placed(S.SUBMITTED)
    order.record_fill(filled, 50, NOW)
    assert expire_stale(order, NOW + timedelta(seconds=301)) is cancelled
    assert (order.state == S.CANCELLED) is cancelled


def test_expire_stale_when_queued_too_long_then_submission_in_doubt() -> None:
    order = placed(S.RISK_APPROVED)
    order.apply_execution_result(ExecutionResult(True, ExecutionStatus.QUEUED), NOW)
    assert expire_stale(order, NOW + timedelta(seconds=301))
    assert order.state == S.SUBMITTED and order.submission_in_doubt


def test_replace_when_partial_cancelled_then_new_order_for_remainder_with_new_id() -> None:
    order = placed(S.SUBMITTED)
    order.record_fill(4, 50, NOW)
    order.cancel(NOW)
    new = replace(order, NOW)
    assert (new.requested_size, new.resubmit_count, new.replaces_order_id) == (6, 1, order.order_id)
    assert new.order_id == order_id("sig-1", "bonding", "TICKER", "YES", 6, 55, 1) != order.order_id
    with pytest.raises(ReplacementNotAllowed):
        replace(order, NOW)


def test_replace_when_max_resubmits_reached_then_refused() -> None:
    order = placed(S.CANCELLED, resubmit_count=2)
    with pytest.raises(ReplacementNotAllowed) as err:
        replace(order, NOW, LifecyclePolicy(max_resubmits=2))
    assert err.value.code == "RESUBMIT_NOT_ALLOWED"


# -------------------------------------------------------------- views, habits
def test_transition_table_when_rendered_then_matches_allowed_map_without_self_loops() -> None:
    table = transition_table()
    assert len(table) == 22
    for source, targets in table.items():
        assert source not in targets
        assert set(targets) == {t.value for t in ALLOWED_TRANSITIONS[S(source)]}


def test_order_view_when_filled_then_spec_fields() -> None:
    order = placed(S.SUBMITTED)
    order.record_fill(10, 54, NOW)
    view = order_view(order)
    assert view["currentState"] == "FILLED" and view["filledAt"] == "2026-03-01T12:00:00.000Z"
    assert view["stateHistory"][-1]["metadata"] == {"fillSize": 10, "fillPrice": 54}


def test_event_methods_when_parsed_then_contain_no_raise_clock_or_randomness() -> None:
    tree = ast.parse(inspect.getsource(order_record))
    banned = {"now", "utcnow", "time", "uuid4", "random"}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and any("event" in ast.unparse(d) for d in node.decorator_list):
            for inner in ast.walk(node):
                assert not isinstance(inner, ast.Raise), node.name
                if isinstance(inner, ast.Attribute | ast.Name):
                    assert getattr(inner, "attr", getattr(inner, "id", "")) not in banned, node.name


def test_events_when_stored_and_reloaded_then_nested_and_equal() -> None:
    app: Application[UUID] = Application()
    order = new_order()
    order.validate(NOW)
    order.apply_risk_result(RiskCheckResult(True), NOW)
    order.apply_execution_result(ExecutionResult(True, ExecutionStatus.PAPER_FILLED, PaperFill(10, 56)), NOW)
    order.reconcile(ReconciliationResult(True, 10, 10, 0), NOW)
    order.attach_evidence("ab" * 32)
    pending = list(order.pending_events)
    app.save(order)
    assert all("." in type(e).__qualname__ for e in pending)
    assert app.repository.get(order.id) == order


# --------------------------------------------------------- stateful property
class OrderMachine(RuleBasedStateMachine):
    """Random commands never leave the table; refusals emit nothing; replay rebuilds the order."""

    def __init__(self) -> None:
        super().__init__()
        self.now = NOW
        self.order: Order | None = None
        self.events: list[Any] = []

    @rule(size=st.integers(-1, 12), price=st.sampled_from([0.55, 1, 55, 99, 150]),
          side=st.sampled_from(["YES", "NO", "X"]))
    def create(self, size: int, price: float, side: str) -> None:
        if self.order is None:
            self.order = new_order(requested_size=size, max_price=price, side=side, now=self.now)
            self.events.extend(self.order.collect_events())

    def _run(self, command: Any, *args: Any, **kwargs: Any) -> None:
        if self.order is None:
            return
        state, length = self.order.state, len(self.order.history)
        unanswered = self.order.risk_question_open
        try:
            command(self.order, *args, **kwargs)
        except OrderError:
            assert self.order.pending_events == [], "a refused command left events"
            assert (self.order.state, len(self.order.history)) == (state, length)
        if unanswered and command is not Order.transition:  # only a manual fix may move it regardless
            # SUBMITTING on the table's way to REJECTED records a rejection: nothing was sent (it still closes)
            entered = [e.target for e in self.order.history[length:]] + [None]
            sent = [a for a, b in pairwise(entered) if a == S.SUBMITTING and b != S.REJECTED]
            assert sent == [], "sent while a risk question stood unanswered (ADR 0334)"
        self.events.extend(self.order.collect_events())

    @rule(seconds=st.integers(0, 400))
    def tick(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @rule(passed=st.booleans(), reason=st.none() | st.just("Spread too wide"))
    def pre_trade(self, passed: bool, reason: str | None) -> None:
        self._run(Order.pre_trade_check, PreTradeCheck(passed, block_reason=reason), self.now)

    @rule()
    def validate(self) -> None:
        self._run(Order.validate, self.now)

    @rule(approved=st.booleans(), adjusted=st.none() | st.integers(-1, 15),
          violations=st.lists(st.sampled_from(["I5", "I6"]), max_size=2))
    def risk(self, approved: bool, adjusted: int | None, violations: list[str]) -> None:
        self._run(Order.apply_risk_result, RiskCheckResult(approved, adjusted, tuple(violations)), self.now)

    def _walk(self, goal: OrderState | None) -> None:
        """Along the table to ``goal`` (when reachable), so that risk questions are tried where they count."""
        if self.order is None or goal is None:
            return
        try:
            path = shortest_path(self.order.state, goal)
        except ValueError:
            return
        for state in path:
            self._run(Order.transition, state, "walk", self.now)

    RISK_GOALS = st.sampled_from([None, S.RISK_CHECK, S.RISK_APPROVED])

    @rule(detail=st.sampled_from(["OperationalError: db down", "x" * 400]), goal=RISK_GOALS)
    def risk_unanswered(self, detail: str, goal: OrderState | None) -> None:
        self._walk(goal)
        self._run(Order.risk_check_unanswered, detail, self.now)

    @rule(goal=RISK_GOALS, approved=st.booleans())
    def risk_answered(self, goal: OrderState | None, approved: bool) -> None:
        """The governor's answer: to a running check (§1.4.3), or to the execute step's re-check."""
        self._walk(goal)
        if self.order is not None and self.order.state == S.RISK_APPROVED:
            self._run(Order.risk_check_answered, "Risk re-check answered: approved", self.now)
        else:
            self._run(Order.apply_risk_result, RiskCheckResult(approved, violations=("I5",)), self.now)

    @rule()
    def request_submission(self) -> None:
        self._run(Order.request_submission, self.now)

    @rule(success=st.booleans(), status=st.sampled_from(list(ExecutionStatus)),
          fill=st.none() | st.builds(PaperFill, st.integers(0, 15), st.integers(0, 100)))
    def execution(self, success: bool, status: ExecutionStatus, fill: PaperFill | None) -> None:
        self._run(Order.apply_execution_result, ExecutionResult(success, status, fill, "no"), self.now)

    @rule(size=st.integers(0, 12), price=st.integers(0, 100), closing=st.none() | st.integers(1, 99))
    def fill(self, size: int, price: int, closing: int | None) -> None:
        self._run(Order.record_fill, size, price, self.now, closing)

    @rule(behind=st.integers(-1, 1), cumulative=st.none() | st.integers(0, 60))
    def correct_fees(self, behind: int, cumulative: int | None) -> None:
        """Kalshi's later answer about the order's fees (ADR 0448): its count ours, or one off."""
        if self.order is not None:
            self._run(Order.correct_fees, self.order.filled_size + behind,
                      None if cumulative is None else Decimal(cumulative), "ab" * 32, self.now)

    @rule()
    def acknowledge(self) -> None:
        self._run(Order.acknowledge, "b-1", self.now)

    @rule()
    def price_move(self) -> None:
        self._run(Order.cancel_for_price_move, 5.5, 5, self.now)

    @rule(verified=st.booleans())
    def reconcile(self, verified: bool) -> None:
        self._run(Order.reconcile, ReconciliationResult(verified, 10, 9, 10.0), self.now)

    @rule()
    def archive(self) -> None:
        self._run(Order.archive, self.now, 1.0)

    @rule(reason=st.sampled_from(["position fixed at the venue", " "]), operator=st.sampled_from(["ops", ""]))
    def resolve_drift(self, reason: str, operator: str) -> None:
        """§1.3 RECONCILIATION_DRIFT -> RECONCILED after a manual fix (ADR 0410); refused from any other state."""
        drifted = self.order is not None and self.order.state == S.RECONCILIATION_DRIFT
        self._run(Order.resolve_drift, reason, operator, self.now)
        if drifted and reason.strip() and operator:
            assert self.order is not None and self.order.state == S.RECONCILED and self.order.last_error is None

    @rule()
    def retry(self) -> None:
        self._run(Order.retry, self.now)

    @rule()
    def cancel(self) -> None:
        self._run(Order.cancel, self.now)

    @rule(expired=st.booleans())
    def venue_close(self, expired: bool) -> None:
        self._run(Order.record_venue_expired if expired else Order.record_venue_cancelled, self.now)

    @rule()
    def error(self) -> None:
        self._run(Order.record_error, "boom", self.now)

    @rule()
    def in_doubt(self) -> None:
        self._run(Order.mark_submission_in_doubt, "HTTP 504", self.now)

    @rule(found=st.booleans())
    def resolve(self, found: bool) -> None:
        self._run(Order.resolve_submission_doubt, found, self.now, "b-2")

    @rule()
    def timers(self) -> None:
        self._run(time_out_risk_check, self.now)
        self._run(expire_stale, self.now)

    # A raw (manual-fix) transition may enter any state the table allows, PARTIAL_FILL and FILLED included (the
    # spec's raw sequences do, and the conformance vectors cover them); entered bare they carry no fill, so the
    # quantity invariants below, which hold for every step command, would not. The machine leaves them to fills.
    @rule(state=st.sampled_from([s for s in OrderState if s not in (S.PARTIAL_FILL, S.FILLED)]))
    def raw(self, state: OrderState) -> None:
        self._run(Order.transition, state, "raw", self.now)

    @rule()
    def begin_risk_check(self) -> None:
        self._run(Order.begin_risk_check, self.now)

    @rule(message=st.sampled_from(["venue said 503", ""]))
    def note_error(self, message: str) -> None:
        self._run(Order.note_error, message, self.now)

    @rule(digest=st.sampled_from(["ab" * 32, "cd" * 32, "AB" * 32, "not-a-hash"]))
    def evidence(self, digest: str) -> None:
        self._run(Order.attach_evidence, digest)

    @rule()
    def resubmit(self) -> None:
        """§1.5 cancel/replace: a new order for the unfilled remainder, marked on this one."""
        if self.order is None:
            return
        before = self.order.replaced_by
        try:
            new = replace(self.order, self.now)
        except OrderError:
            assert self.order.pending_events == [] and self.order.replaced_by == before
            return
        assert before is None and self.order.state in REPLACEABLE_STATES
        assert new.requested_size == self.order.requested_size - self.order.filled_size > 0
        assert (new.replaces_order_id, self.order.replaced_by) == (self.order.order_id, new.order_id)
        self.events.extend(self.order.collect_events())

    @invariant()
    def history_follows_table(self) -> None:
        if self.order is None:
            return
        history = self.order.history
        assert history[0].source == history[0].target == S.PENDING
        for before, entry in pairwise(history):
            assert entry.source == before.target
            assert is_transition_allowed(entry.source, entry.target), f"{entry.source} -> {entry.target}"
        assert history[-1].target == self.order.state
        if self.order.state in CLOSING_STATES:
            assert self.order.closed_at is not None

    @invariant()
    def quantities_stay_possible(self) -> None:
        """Fills only add (overfills kept, §1.4.5) at 1..99 cents; retries, replacements, evidence are bounded."""
        o = self.order
        if o is None:
            return
        assert o.filled_size >= 0 and (o.filled_size == 0) == (o.avg_fill_price is None)
        if o.avg_fill_price is not None:
            assert 1 <= o.avg_fill_price <= 99
        if o.state == S.PARTIAL_FILL:
            assert 0 < o.filled_size < o.requested_size
        if any(e.target == S.FILLED for e in o.history):
            assert o.filled_size >= o.requested_size
        assert 0 <= o.retry_count <= DEFAULT_MAX_RETRIES
        assert o.replaced_by is None or o.state in REPLACEABLE_STATES
        assert len(set(o.evidence_hashes)) == len(o.evidence_hashes)

    @invariant()
    def fees_add_up(self) -> None:
        """Known fees never fall; an unknown fee is settled only by a correction, which settles all of them."""
        o = self.order
        if o is None:
            return
        fills = [e for e in self.events if isinstance(e, OrderRecord.FillRecorded)]
        corrected = [i for i, e in enumerate(self.events) if isinstance(e, OrderRecord.FeesCorrected)]
        since = self.events[corrected[-1] + 1:] if corrected else self.events
        unknown = sum(1 for e in since if isinstance(e, OrderRecord.FillRecorded) and e.fee_cents is None)
        assert o.fees_cents >= 0 and o.fee_unknown_fills == unknown <= len(fills)
        assert (o.fee_unknown_last_at is None) == (unknown == 0)

    @invariant()
    def unanswered_questions_are_bounded(self) -> None:
        """An approval waits for one unanswered re-check at most, then it is cancelled (ADR 0334). Counted from
        the events: re-check notes since the governor's last answer or a retry (a first check's notes carried
        into RISK_APPROVED by a manual transition are not re-checks)."""
        if self.order is None or self.order.state != S.RISK_APPROVED:
            return
        rechecks = 0
        for ev in self.events:
            if isinstance(ev, OrderRecord.ErrorResolved | OrderRecord.Retried):
                rechecks = 0
            elif isinstance(ev, OrderRecord.RiskCheckUnanswered) and ev.message.startswith("Risk re-check"):
                rechecks += 1
        assert rechecks <= 1 and rechecks == self.order.unanswered_rechecks

    @invariant()
    def replay_equals_live(self) -> None:
        if self.order is None:
            return
        rebuilt = reduce(lambda agg, ev: ev.mutate(agg), self.events, None)
        assert rebuilt == self.order


OrderMachine.TestCase.settings = settings(max_examples=examples(150), stateful_step_count=steps(40), deadline=None)
test_order_machine = OrderMachine.TestCase
