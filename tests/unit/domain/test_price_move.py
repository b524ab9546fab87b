"""Price-move cancel of resting orders (trading §1.4 step 7, §1.5 ``cancel_on_price_move``; ADR 0382): the move
rule, exact at its boundary, and the order's two ways to close (in the log, or on the venue's confirmation)."""

from __future__ import annotations

from fractions import Fraction
from functools import reduce
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paulp.domain.order_states import OrderState, shortest_path
from paulp.domain.order_timers import cancel_for_price_move, measure_price_move, price_move_due
from paulp.domain.order_values import LifecyclePolicy, OrderNotInRequiredState
from paulp.domain.orders import Order
from tests.unit.domain.orders_support import NOW, new_order, placed

S = OrderState
RESTING = (S.SUBMITTED, S.ORDER_ACKNOWLEDGED)


def _rebuilt(order: Order, events: list[Any]) -> Order:
    """The order as its events alone rebuild it (replay), from creation."""
    rebuilt: Order = reduce(lambda agg, ev: ev.mutate(agg), events, None)
    return rebuilt


def _at_venue() -> Order:
    """Acknowledged by the venue: it has the venue's order id, so it may rest there."""
    order = placed(S.SUBMITTED)
    order.acknowledge("kx-1", NOW)
    order.collect_events()
    return order


def test_measure_when_ask_five_points_above_limit_then_move_five_and_threshold_three() -> None:
    move = measure_price_move(placed(S.SUBMITTED), 60)  # limit 55
    assert move is not None
    assert (move.reference_price, move.market_price, move.move_pct, move.threshold) == (55, 60, 5, 3)
    assert move.exceeded


def test_measure_when_no_ask_then_no_move_can_be_read() -> None:
    assert measure_price_move(placed(S.SUBMITTED), None) is None
    assert price_move_due(placed(S.SUBMITTED), None) is None


def test_price_move_due_when_exactly_at_threshold_then_not_due_one_cent_more_then_due() -> None:
    assert price_move_due(placed(S.SUBMITTED), 58) is None  # 3 points: not beyond 0.03
    assert price_move_due(placed(S.SUBMITTED), 52) is None
    assert price_move_due(placed(S.SUBMITTED), 59) is not None
    assert price_move_due(placed(S.SUBMITTED), 51) is not None  # either direction


@pytest.mark.parametrize("state", [S.PENDING, S.RISK_APPROVED, S.SUBMITTING, S.PARTIAL_FILL, S.FILLED, S.CANCELLED,
                                   S.PRICE_MOVE_CANCEL])
def test_price_move_due_when_not_resting_unfilled_then_never(state: OrderState) -> None:
    order = placed(S.SUBMITTED) if state == S.PARTIAL_FILL else placed(state)
    if state == S.PARTIAL_FILL:
        order.record_fill(4, 55, NOW)
    assert price_move_due(order, 99) is None


def test_price_move_due_when_a_cancel_is_already_pending_then_not_due_again() -> None:
    order = _at_venue()
    assert not order.cancel(NOW, "operator")  # venue cancel requested
    assert price_move_due(order, 99) is None


# The threshold as an operator writes it (two decimals of probability), the limit as §1.7 makes it (whole cents,
# or a float a test or an older order may carry), any ask a market can quote.
THRESHOLDS = st.integers(min_value=1, max_value=99).map(lambda n: n / 100)
LIMITS = st.one_of(st.integers(min_value=1, max_value=99).map(float),
                   st.decimals(min_value=1, max_value=99, places=2).map(float))
ASKS = st.integers(min_value=1, max_value=99)


@given(threshold=THRESHOLDS, limit=LIMITS, ask=ASKS, state=st.sampled_from(RESTING))
def test_price_move_due_when_any_move_then_cancels_exactly_the_moves_beyond_the_threshold(
        threshold: float, limit: float, ask: int, state: OrderState) -> None:
    order = placed(state, max_price=limit)
    due = price_move_due(order, ask, LifecyclePolicy(cancel_on_price_move=threshold))
    beyond = abs(Fraction(ask) - Fraction(repr(limit))) > Fraction(repr(threshold)) * 100  # independent reading
    assert (due is not None) == beyond  # never at or below the threshold, always above it
    if due is not None:
        assert Fraction(due.move_pct) == abs(Fraction(ask) - Fraction(repr(limit)))


def test_cancel_when_not_at_a_venue_then_price_move_cancel_now_with_the_measure() -> None:
    order = placed(S.SUBMITTED)
    move = price_move_due(order, 60)
    assert move is not None
    assert cancel_for_price_move(order, move, NOW)
    assert order.state == S.PRICE_MOVE_CANCEL and order.closed_at == NOW
    assert order.history[-1].metadata == {"priceMovePct": 5.0, "threshold": 3.0, "referencePrice": 55,
                                          "marketPrice": 60}


def test_cancel_when_at_the_venue_then_requested_there_and_closed_only_on_its_confirmation() -> None:
    # Arrange
    order = _at_venue()
    events_before = len(order.history)
    move = price_move_due(order, 60)
    assert move is not None
    # Act: the request; then the venue's confirmation
    assert not cancel_for_price_move(order, move, NOW, "ab" * 32)
    pending = order.collect_events()
    # Assert: nothing closed locally, one request with the measure and the evidence it was read from
    assert order.state == S.ORDER_ACKNOWLEDGED and len(order.history) == events_before
    [request] = pending
    assert type(request).__qualname__.endswith("PriceMoveCancelRequested")
    assert (request.price_move_pct, request.threshold, request.market_price, request.evidence_hash) == (
        5.0, 3.0, 60, "ab" * 32)
    assert not order.cancel_on_price_move(5.0, 3.0, 55, 60, NOW)  # requested once: a repeat records nothing
    assert order.collect_events() == []
    order.record_venue_cancelled(NOW)
    assert order.state == S.PRICE_MOVE_CANCEL
    assert order.history[-1].metadata == {"priceMovePct": 5.0, "threshold": 3.0, "referencePrice": 55,
                                          "marketPrice": 60}


def test_cancel_when_venue_filled_part_before_confirming_then_cancelled_with_the_move_kept() -> None:
    order = _at_venue()
    move = price_move_due(order, 60)
    assert move is not None and not cancel_for_price_move(order, move, NOW)
    order.record_fill(4, 55, NOW)  # the venue's answer: 4 filled, the rest cancelled
    order.record_venue_cancelled(NOW)
    assert order.state == S.CANCELLED  # §1.4.7: PRICE_MOVE_CANCEL is not reachable from PARTIAL_FILL
    assert order.history[-1].reason == "Price moved beyond threshold"
    assert order.history[-1].metadata["priceMovePct"] == 5.0


def test_cancel_when_submission_in_doubt_then_requested_at_the_venue_not_closed_locally() -> None:
    order = placed(S.SUBMITTING)
    order.mark_submission_in_doubt("timeout", NOW)
    assert not order.cancel_on_price_move(5.0, 3.0, 55, 60, NOW)
    assert order.state == S.SUBMITTED and order.cancel_requested_at == NOW


def test_cancel_when_partial_fill_then_refused_and_nothing_recorded() -> None:
    order = placed(S.SUBMITTED)
    order.record_fill(4, 55, NOW)
    order.collect_events()
    with pytest.raises(OrderNotInRequiredState, match="not in valid state"):
        order.cancel_on_price_move(5.0, 3.0, 55, 60, NOW)
    assert order.collect_events() == []


def test_price_move_events_when_replayed_then_the_same_order() -> None:
    order = new_order()
    for target in shortest_path(S.PENDING, S.SUBMITTED):
        order.transition(target, "placed", NOW)
    order.acknowledge("kx-2", NOW)
    events = list(order.collect_events())
    move = price_move_due(order, 40)
    assert move is not None and not cancel_for_price_move(order, move, NOW)
    order.record_venue_cancelled(NOW)
    events += order.collect_events()
    rebuilt = _rebuilt(order, events)
    assert (rebuilt.state, rebuilt.price_move_cancel, rebuilt.cancel_requested_at, rebuilt.history) == (
        order.state, order.price_move_cancel, order.cancel_requested_at, order.history)
