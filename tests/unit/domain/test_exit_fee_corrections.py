"""Unknown fees of LIVE exit sells settled later from Kalshi's sell order (ADR 0449): the exit's command and event
(replayed, idempotent, counted at the exit's fill time), its refusals, the venue-record side for LIVE only, and the
postmortem's fee figure counting corrections where their fill's time falls."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from functools import reduce
from typing import Any
from uuid import uuid4

import pytest

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.exits import ExitReason
from paulp.domain.fees import FeeCorrection
from paulp.domain.order_record import OrderRecord
from paulp.domain.ports import VenueSubmission
from paulp.domain.position_exits import InvalidExit, PositionExit
from paulp.domain.postmortem import FeeSettlement, LoggedEvent, window_fees
from paulp.domain.services.venue_answers import correct_unknown_exit_fee
from paulp.domain.venue_orders import VenueOrder
from tests.unit.domain.orders_support import NOW

EVIDENCE = "ab" * 32
FILLED_AT = NOW + timedelta(minutes=30)
LATER = NOW + timedelta(hours=2)


def _filled(mode: str = "LIVE", fee: Decimal | None = None, size: int = 40) -> tuple[PositionExit, list[Any]]:
    """A stop's exit of 40 contracts, ``size`` of them sold at ``FILLED_AT`` with this fee; every event it has."""
    ex = PositionExit.decide("bonding", "KXFEE-X", "YES", NOW, 0, 40, 50.0, 44.0, ExitReason.STOP_LOSS_HIT, mode, NOW)
    ex.fill(size, 45.0, FILLED_AT, "k-sell", EVIDENCE, 50.0, fee)
    return ex, list(ex.collect_events())


def test_correct_fee_when_kalshi_counts_the_exit_then_one_event_at_the_fill_time_and_replays() -> None:
    # Arrange
    ex, events = _filled()
    # Act: Kalshi's sell filled our 40 and charged 121.5c
    outcome = ex.correct_fee(40, Decimal("121.5"), EVIDENCE, LATER, run_id="run-1")
    # Assert
    [event] = ex.collect_events()
    assert outcome is FeeCorrection.CORRECTED and isinstance(event, PositionExit.FeesCorrected)
    assert (event.fee_cents, event.venue_fees_cents, event.venue_fill_count) == (Decimal("121.5"),
                                                                                 Decimal("121.5"), 40)
    assert (event.counted_at, event.evidence_hash, event.run_id, event.at) == (FILLED_AT, EVIDENCE, "run-1", LATER)
    assert ex.fee_cents == Decimal("121.5")
    mapper = make_mapper()
    stored = [mapper.to_domain_event(mapper.to_stored_event(e)) for e in [*events, event]]
    rebuilt = reduce(lambda agg, ev: ev.mutate(agg), stored, None)
    assert rebuilt == ex


def test_correct_fee_when_asked_again_then_nothing_is_recorded() -> None:
    ex, _ = _filled()
    assert ex.correct_fee(40, Decimal(120), EVIDENCE, LATER) is FeeCorrection.CORRECTED
    ex.collect_events()
    # Act
    again = ex.correct_fee(40, Decimal(130), EVIDENCE, LATER + timedelta(minutes=5))
    # Assert
    assert again is FeeCorrection.NOTHING_UNKNOWN and ex.collect_events() == [] and ex.fee_cents == Decimal(120)


def test_correct_fee_when_the_fee_was_known_at_the_fill_then_nothing_is_recorded() -> None:
    ex, _ = _filled(fee=Decimal(90))
    assert ex.correct_fee(40, Decimal(120), EVIDENCE, LATER) is FeeCorrection.NOTHING_UNKNOWN
    assert ex.collect_events() == [] and ex.fee_cents == Decimal(90)


@pytest.mark.parametrize(("count", "cumulative", "expected"), [
    (30, Decimal(90), FeeCorrection.COUNT_DIFFERS), (40, None, FeeCorrection.NO_FEE_REPORTED)])
def test_correct_fee_when_kalshi_count_differs_or_no_fee_then_left_unknown(
        count: int, cumulative: Decimal | None, expected: FeeCorrection) -> None:
    ex, _ = _filled()
    assert ex.correct_fee(count, cumulative, EVIDENCE, LATER) is expected
    assert ex.collect_events() == [] and ex.fee_cents is None


def test_correct_fee_when_the_exit_is_not_filled_then_nothing_is_unknown() -> None:
    ex = PositionExit.decide("bonding", "KXFEE-X", "YES", NOW, 0, 40, 50.0, 44.0, ExitReason.STOP_LOSS_HIT, "LIVE",
                             NOW)
    ex.collect_events()
    assert ex.correct_fee(40, Decimal(120), EVIDENCE, LATER) is FeeCorrection.NOTHING_UNKNOWN
    assert ex.collect_events() == []


@pytest.mark.parametrize(("mode", "digest", "cumulative"), [
    ("PAPER", EVIDENCE, Decimal(1)), ("LIVE", "not-a-hash", Decimal(1)), ("LIVE", EVIDENCE, Decimal(-1)),
    ("LIVE", EVIDENCE, Decimal("NaN"))])
def test_correct_fee_when_paper_or_bad_evidence_or_fee_then_refused_and_nothing_recorded(
        mode: str, digest: str, cumulative: Decimal) -> None:
    ex, _ = _filled(mode)
    with pytest.raises(InvalidExit):
        ex.correct_fee(40, cumulative, digest, LATER)
    assert ex.collect_events() == [] and ex.fee_cents is None


def _record(mode: str) -> VenueOrder:
    record = VenueOrder("kalshi", "exit-1", {"client_order_id": "exit-1", "order_id": "k-sell", "execution_mode": mode,
                                            "action": "sell"}, NOW)
    record.collect_events()
    return record


def test_correct_unknown_exit_fee_when_live_then_exit_event_and_venue_record_take_kalshi_fee() -> None:
    ex, record = _filled()[0], _record("LIVE")
    answer = VenueSubmission("k-sell", "executed", 40, 45.0, EVIDENCE, fees_cents=Decimal(120))
    # Act
    outcome = correct_unknown_exit_fee(ex, record, answer, LATER, "run-2")
    # Assert
    assert outcome is FeeCorrection.CORRECTED
    assert [type(e).__qualname__ for e in ex.collect_events()] == ["PositionExit.FeesCorrected"]
    assert record.record["fees_cents"] == 120 and len(record.collect_events()) == 1


@pytest.mark.parametrize(("mode", "evidence", "expected"), [("PAPER", EVIDENCE, "not_live"),
                                                             ("LIVE", None, "no_evidence")])
def test_correct_unknown_exit_fee_when_paper_or_no_evidence_then_nothing_recorded(
        mode: str, evidence: str | None, expected: str) -> None:
    ex, record = _filled(mode)[0], _record(mode)
    answer = VenueSubmission("k-sell", "executed", 40, 45.0, evidence, fees_cents=Decimal(120))
    assert correct_unknown_exit_fee(ex, record, answer, LATER) == expected
    assert ex.collect_events() == [] and record.collect_events() == []


def _fill(nid: int, oid: str, fee: Decimal | None, minutes: int) -> LoggedEvent:
    at = NOW + timedelta(minutes=minutes)
    ev = OrderRecord.FillRecorded(originator_id=uuid4(), originator_version=2,
                                  timestamp=at, fill_size=5, fill_price=40.0, filled_size=5, avg_fill_price=40.0,
                                  entry_price=40.0, closing_line_price=None, clv=None, at=at, fee_cents=fee)
    return LoggedEvent(nid, at, oid, ev)


def test_window_fees_when_corrections_then_counted_with_their_fill_wherever_recorded() -> None:
    # Arrange: the window's fills: 7c known; b unknown, settled by a correction counted at it (recorded long after);
    # c unknown, never settled; e unknown at 40 min, its order's correction counted at a later fill outside the
    # window (so e is settled, its fee counted there); d's correction is of a fill outside the window
    fills = [_fill(1, "a", Decimal(7), 10), _fill(2, "b", None, 20), _fill(3, "c", None, 40), _fill(4, "e", None, 40)]
    settlements = [FeeSettlement(50, "b", Decimal(12), NOW + timedelta(minutes=20)),
                   FeeSettlement(51, "d", Decimal(30), NOW + timedelta(minutes=20)),
                   FeeSettlement(52, "e", Decimal(40), NOW + timedelta(minutes=90))]
    # Act
    fees = window_fees(fills, settlements)
    # Assert: 7c + the 12c correction; d's and e's are not counted here; c is still unknown
    assert fees == {"total": 0.19, "fillsWithFee": 1, "fillsFeeUnknown": 1, "fillsFeeSettled": 2,
                    "correctedUsd": 0.12, "corrections": 1}
