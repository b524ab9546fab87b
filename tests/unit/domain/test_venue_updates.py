"""Relayed order updates (ADR 0261): cumulative counts applied in any order, any number of times, give the
fill of the largest count once; a refused update leaves the order as it was. A fill's fee is the increment of
Kalshi's cumulative fees when its answer covers the fill, else unknown (ADR 0443)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from paulp.domain.order_states import OrderState
from paulp.domain.ports import VenueSubmission
from paulp.domain.venue_updates import OrderUpdate, apply_order_update, impossible_sell_update
from tests.support.hypothesis_scale import examples
from tests.unit.domain.orders_support import placed

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REQUESTED = 50


def _working():  # type: ignore[no-untyped-def]
    order = placed(OrderState.SUBMITTED, requested_size=REQUESTED)
    order.acknowledge("venue-1", NOW)
    order.collect_events()
    return order


updates = st.lists(st.builds(OrderUpdate, order_id=st.just("o"),
                             status=st.sampled_from(["resting", "partially_filled", "executed"]),
                             filled_count=st.one_of(st.none(), st.integers(0, REQUESTED)),
                             filled_price=st.sampled_from([41.0, 42.0, 43.0])), max_size=12)


@settings(max_examples=examples(200), deadline=None)
@given(updates, st.randoms(use_true_random=False))
def test_updates_when_repeated_and_reordered_then_filled_once_up_to_the_largest_count(seq, rnd):
    order = _working()
    shuffled = list(seq) + list(seq)  # every update delivered twice
    rnd.shuffle(shuffled)
    for update in shuffled:
        apply_order_update(order, update, NOW)
    largest = max([u.filled_count for u in seq if u.filled_count] or [0])
    assert order.filled_size == largest
    expected = (OrderState.FILLED if largest >= REQUESTED else
                OrderState.PARTIAL_FILL if largest > 0 else OrderState.ORDER_ACKNOWLEDGED)
    assert order.state is expected
    fills = [e for e in order.collect_events() if type(e).__qualname__.endswith("FillRecorded")]
    assert sum(e.fill_size for e in fills) == largest  # the events say the same: nothing counted twice


def test_update_when_cancelled_or_expired_then_closed_and_when_filled_later_then_refused():
    order = _working()
    assert apply_order_update(order, OrderUpdate("o", "canceled", None, None), NOW) == "cancelled"
    assert order.state is OrderState.CANCELLED
    version = order.version
    assert apply_order_update(order, OrderUpdate("o", "executed", 10, 42.0), NOW).startswith("refused:")
    assert order.version == version and order.filled_size == 0
    other = _working()
    assert apply_order_update(other, OrderUpdate("o", "expired", 5, 42.0), NOW) == "expired"
    assert (other.state, other.filled_size) == (OrderState.EXPIRED, 5)


def test_update_when_count_without_usable_price_then_refused_and_nothing_changes():
    order = _working()
    for price in (None, 0.0, 100.0):
        assert apply_order_update(order, OrderUpdate("o", "executed", 5, price), NOW) == "refused:fill_without_price"
    assert order.filled_size == 0 and order.state is OrderState.ORDER_ACKNOWLEDGED



def _fee_of_last_fill(order) -> Decimal | None:  # type: ignore[no-untyped-def]
    [fill] = [e for e in order.collect_events() if type(e).__qualname__.endswith("FillRecorded")]
    return fill.fee_cents  # type: ignore[no-any-return]


def _kalshi(filled: int, fees: Decimal | None) -> VenueSubmission:
    return VenueSubmission("venue-1", "submitted", filled, 42.0, fees_cents=fees)


def test_update_fee_when_kalshi_answer_covers_the_fill_then_the_increment_of_its_cumulative_fees():
    order = _working()
    apply_order_update(order, OrderUpdate("o", "resting", 15, 42.0), NOW, _kalshi(15, Decimal(7)))
    assert _fee_of_last_fill(order) == Decimal(7)
    apply_order_update(order, OrderUpdate("o", "resting", 40, 42.0), NOW, _kalshi(50, Decimal("18.5")))
    assert _fee_of_last_fill(order) == Decimal("11.5")  # Kalshi filled more: this fill takes their fees too
    apply_order_update(order, OrderUpdate("o", "executed", 50, 42.0), NOW, _kalshi(50, Decimal("18.5")))
    assert _fee_of_last_fill(order) == Decimal(0)  # ... and the later fill records the rest: the total is Kalshi's
    assert order.fees_cents == Decimal("18.5")


def test_update_fee_when_no_answer_no_fees_or_answer_behind_the_update_then_unknown_never_zero():
    for answer in (None, _kalshi(20, None), _kalshi(19, Decimal(9))):
        order = _working()
        assert apply_order_update(order, OrderUpdate("o", "resting", 20, 42.0), NOW, answer) == "filled"
        assert _fee_of_last_fill(order) is None and order.filled_size == 20


def test_sell_update_when_filled_below_the_sell_limit_then_refused_at_or_above_it_then_not():
    """ADR 0520: a sell limited at L never fills below L; at L or above it may. A buy record is not judged here
    (ADR 0519 judges it against its order), nor an update that fills nothing."""
    sell = {"action": "sell", "limit_price": 22}
    assert impossible_sell_update(sell, OrderUpdate("k", "executed", 40, 21.0)) == "refused:fill_outside_limit"
    assert impossible_sell_update(sell, OrderUpdate("k", "executed", 40, 22.0)) is None
    assert impossible_sell_update(sell, OrderUpdate("k", "executed", 40, 30.0)) is None
    assert impossible_sell_update(sell, OrderUpdate("k", "resting", 0, 5.0)) is None
    assert impossible_sell_update({"action": "buy", "limit_price": 22}, OrderUpdate("k", "executed", 40, 5.0)) is None
