"""Unknown fees of LIVE fills settled later from Kalshi's order (ADR 0448): the pure decision, the order's command
and event (replayed, idempotent, at the latest unknown fill's time), and the venue-record side for LIVE only."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from functools import reduce
from typing import Any

import pytest

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.fees import FeeCorrection, fee_correction, fee_increment
from paulp.domain.order_record import OrderRecord
from paulp.domain.order_states import OrderState, shortest_path
from paulp.domain.order_values import InvalidEvidenceHash, InvalidFill
from paulp.domain.orders import Order
from paulp.domain.ports import VenueSubmission
from paulp.domain.services.venue_answers import correct_unknown_fees
from paulp.domain.venue_orders import VenueOrder
from tests.unit.domain.orders_support import NOW, new_order

S = OrderState
EVIDENCE = "ab" * 32
LATER = NOW + timedelta(hours=2)


def _working(*fills: tuple[int, Decimal | None], minutes_apart: int = 10) -> tuple[Order, list[Any]]:
    """An acknowledged 10-contract order with these fills (size, fee; None: unknown), ``minutes_apart`` apart, and
    every event it has recorded (collected)."""
    order = new_order()
    for target in shortest_path(S.PENDING, S.ORDER_ACKNOWLEDGED):
        order.transition(target, "placed", NOW)
    for i, (size, fee) in enumerate(fills):
        order.record_fill(size, 52, NOW + timedelta(minutes=i * minutes_apart), fee_cents=fee)
    return order, list(order.collect_events())


@pytest.mark.parametrize(("unknown", "ours", "known", "theirs", "cumulative", "expected"), [
    (0, 10, Decimal(20), 10, Decimal(30), (FeeCorrection.NOTHING_UNKNOWN, None)),
    (1, 10, Decimal(20), 10, None, (FeeCorrection.NO_FEE_REPORTED, None)),
    (1, 10, Decimal(20), 4, Decimal(30), (FeeCorrection.COUNT_DIFFERS, None)),
    (1, 10, Decimal(20), 12, Decimal(30), (FeeCorrection.COUNT_DIFFERS, None)),
    (1, 10, Decimal(20), 10, Decimal("30.5"), (FeeCorrection.CORRECTED, Decimal("10.5"))),
    (2, 10, Decimal(0), 10, Decimal(0), (FeeCorrection.CORRECTED, Decimal(0))),
    (1, 10, Decimal(20), 10, Decimal(15), (FeeCorrection.CORRECTED, Decimal(0))),  # never negative
])
def test_fee_correction_when_kalshi_answers_then_settled_only_at_our_count(
        unknown: int, ours: int, known: Decimal, theirs: int, cumulative: Decimal | None,
        expected: tuple[FeeCorrection, Decimal | None]) -> None:
    assert fee_correction(unknown, ours, known, theirs, cumulative) == expected


def test_correct_fees_when_two_fills_unknown_then_one_event_settles_both_at_the_latest_and_replays() -> None:
    # Arrange: 3 contracts with a known 9c, then 4 and 3 whose fees are unknown
    order, events = _working((3, Decimal(9)), (4, None), (3, None))
    # Act: Kalshi has filled our 10 and charged 31.5c so far
    outcome = order.correct_fees(10, Decimal("31.5"), EVIDENCE, LATER, run_id="run-1")
    # Assert
    [event] = order.collect_events()
    assert outcome is FeeCorrection.CORRECTED and isinstance(event, OrderRecord.FeesCorrected)
    assert (event.fee_cents, event.venue_fees_cents, event.venue_fill_count, event.fills_settled) == (
        Decimal("22.5"), Decimal("31.5"), 10, 2)
    assert (event.counted_at, event.evidence_hash, event.run_id, event.at) == (
        NOW + timedelta(minutes=20), EVIDENCE, "run-1", LATER)
    assert (order.fees_cents, order.fee_unknown_fills, order.fee_unknown_last_at) == (Decimal("31.5"), 0, None)
    mapper = make_mapper()
    stored = [mapper.to_domain_event(mapper.to_stored_event(e)) for e in [*events, event]]
    rebuilt = reduce(lambda agg, ev: ev.mutate(agg), stored, None)
    assert rebuilt == order


def test_correct_fees_when_asked_again_with_the_same_answer_then_nothing_is_recorded() -> None:
    order, _ = _working((10, None))
    assert order.correct_fees(10, Decimal(18), EVIDENCE, LATER) is FeeCorrection.CORRECTED
    order.collect_events()
    # Act
    again = order.correct_fees(10, Decimal(18), EVIDENCE, LATER + timedelta(minutes=5))
    # Assert
    assert again is FeeCorrection.NOTHING_UNKNOWN and order.collect_events() == []
    assert order.fees_cents == Decimal(18)


@pytest.mark.parametrize(("count", "cumulative", "expected"), [
    (4, Decimal(18), FeeCorrection.COUNT_DIFFERS), (10, None, FeeCorrection.NO_FEE_REPORTED)])
def test_correct_fees_when_kalshi_behind_or_without_fee_then_left_unknown(
        count: int, cumulative: Decimal | None, expected: FeeCorrection) -> None:
    order, _ = _working((10, None))
    assert order.correct_fees(count, cumulative, EVIDENCE, LATER) is expected
    assert order.collect_events() == [] and order.fee_unknown_fills == 1


@pytest.mark.parametrize(("digest", "cumulative", "error"), [
    ("not-a-hash", Decimal(1), InvalidEvidenceHash), (EVIDENCE, Decimal(-1), InvalidFill),
    (EVIDENCE, Decimal("NaN"), InvalidFill)])
def test_correct_fees_when_evidence_or_fee_bad_then_refused_and_nothing_recorded(
        digest: str, cumulative: Decimal, error: type[Exception]) -> None:
    order, _ = _working((10, None))
    with pytest.raises(error):
        order.correct_fees(10, cumulative, digest, LATER)
    assert order.collect_events() == [] and order.fee_unknown_fills == 1


def test_fill_after_a_correction_when_kalshi_cumulative_grows_then_only_the_increment() -> None:
    # Arrange: 4 filled with an unknown fee, settled at 8c
    order, _ = _working((4, None))
    order.correct_fees(4, Decimal(8), EVIDENCE, LATER)
    # Act: the next fill is recorded from Kalshi's cumulative 20c, as a poll records it
    order.record_fill(6, 52, LATER, fee_cents=fee_increment(Decimal(20), order.fees_cents))
    # Assert
    assert order.fees_cents == Decimal(20) and order.fee_unknown_fills == 0


def _record(mode: str) -> VenueOrder:
    record = VenueOrder("kalshi", "order-1", {"client_order_id": "order-1", "execution_mode": mode,
                                             "fees_cents": None}, NOW)
    record.collect_events()
    return record


def test_correct_unknown_fees_when_live_then_order_event_and_venue_record_take_kalshi_fee() -> None:
    order, record = _working((10, None))[0], _record("LIVE")
    answer = VenueSubmission("k-1", "filled", 10, 52.0, EVIDENCE, fees_cents=Decimal(18))
    # Act
    outcome = correct_unknown_fees(order, record, answer, LATER, "run-2")
    # Assert
    assert outcome is FeeCorrection.CORRECTED
    assert [type(e).__name__ for e in order.collect_events()] == ["FeesCorrected"]
    assert record.record["fees_cents"] == 18 and len(record.collect_events()) == 1


@pytest.mark.parametrize(("mode", "evidence", "expected"), [("PAPER", EVIDENCE, "not_live"),
                                                             ("LIVE", None, "no_evidence")])
def test_correct_unknown_fees_when_paper_or_no_evidence_then_nothing_recorded(
        mode: str, evidence: str | None, expected: str) -> None:
    order, record = _working((10, None))[0], _record(mode)
    answer = VenueSubmission("k-1", "filled", 10, 52.0, evidence, fees_cents=Decimal(18))
    assert correct_unknown_fees(order, record, answer, LATER) == expected
    assert order.collect_events() == [] and record.collect_events() == []
