"""Adopting the venue's positions (trading §7 "Rebuild", §8 DR step 4; ADR 0415): the adjustments, the
preconditions and the recorded events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.orchestration import reconciliation_result
from paulp.domain.position_rebuild import (
    MAX_READ_AGE,
    BreakerNotHalted,
    OperatorRequired,
    PositionAdjustment,
    PositionRebuild,
    StaleVenueRead,
    VenueEvidenceMissing,
    adjusted_positions,
    adopted_entry,
    usable_cost,
    venue_adjustments,
)
from paulp.domain.reconciliation import Position, RunStatus, reconcile

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
EVIDENCE = ["sha256:positions-page-1"]

sizes = st.decimals(min_value=0, max_value=10_000, places=2, allow_nan=False, allow_infinity=False)
keys = st.tuples(st.sampled_from(["KXA-26-T1", "KXB", "KXC-X"]), st.sampled_from(["YES", "NO", "yes", "no"]))
books = st.lists(st.tuples(keys, sizes), max_size=8).map(lambda rows: [Position(m, s, n) for (m, s), n in rows])


@given(internal=books, venue=books)
def test_adjusted_internal_when_reconciled_with_the_venue_then_ok_and_every_key_exact(
        internal: list[Position], venue: list[Position]) -> None:
    run = reconcile(internal, venue)
    adjustments = venue_adjustments(run)

    after = reconcile(adjusted_positions(internal, adjustments), venue)

    assert after.status is RunStatus.OK
    assert all(d.drift == 0 for d in after.drifts)
    assert len(adjustments) == sum(d.drift != 0 for d in run.drifts)  # one per drifted key, none for a match
    assert {a.key for a in adjustments} == {(d.market_id, d.side) for d in run.drifts if d.drift != 0}


def test_venue_adjustments_when_fractional_and_below_the_minor_band_then_adopted_exactly() -> None:
    run = reconcile([Position("KXA", "YES", 40), Position("KXB", "NO", 1000), Position("KXC", "YES", 5)],
                    [Position("KXA", "yes", Decimal("40.50")), Position("KXB", "NO", Decimal("1000.50")),
                     Position("KXC", "YES", 5), Position("KXD", "NO", 3)])

    assert venue_adjustments(run) == (
        PositionAdjustment("KXA", "YES", Decimal(40), Decimal("40.50"), Decimal("0.50")),
        PositionAdjustment("KXB", "NO", Decimal(1000), Decimal("1000.50"), Decimal("0.50")),
        PositionAdjustment("KXD", "NO", Decimal(0), Decimal(3), Decimal(3)),
    )


def test_venue_adjustments_when_the_venue_holds_less_then_negative_and_the_key_leaves_internal() -> None:
    internal = [Position("KXA", "YES", 40)]
    adjustments = venue_adjustments(reconcile(internal, []))

    assert [a.contracts for a in adjustments] == [Decimal(-40)]
    assert adjusted_positions(internal, adjustments) == []


def _adopt(run_internal: list[Position], run_venue: list[Position], **overrides: Any) -> PositionRebuild | None:
    run = reconcile(run_internal, run_venue)
    args: dict[str, Any] = {"rebuild_id": "r1", "venue": "kalshi", "run": run,
                            "comparison": reconciliation_result(run, NOW), "evidence_hashes": EVIDENCE,
                            "read_at": NOW - timedelta(seconds=3), "breaker_state": "HALT", "operator": " ops-ann ",
                            "reason": "DR drill: restored from the 06:00 backup", "now": NOW}
    args.update(overrides)
    return PositionRebuild.adopt(**args)


def test_adopt_when_halted_and_fresh_then_one_event_per_adjustment_that_replays_through_the_store() -> None:
    rebuild = _adopt([Position("KXA", "YES", 40)], [Position("KXA", "YES", 45), Position("KXB", "NO", 2)])
    assert rebuild is not None
    events = rebuild.collect_events()
    mapper = make_mapper()

    stored = [mapper.to_domain_event(mapper.to_stored_event(e)) for e in events]
    replayed = None
    for e in stored:
        replayed = e.mutate(replayed)

    assert [type(e).__qualname__ for e in stored] == ["PositionRebuild.Started", "PositionRebuild.Adjusted",
                                                      "PositionRebuild.Adjusted"]
    started = stored[0]
    assert (started.operator, started.breaker_state, started.evidence_hashes, started.comparison["status"]) == (
        "ops-ann", "HALT", EVIDENCE, "critical_drift")
    assert isinstance(replayed, PositionRebuild)
    assert replayed.adjustments == rebuild.adjustments == [
        PositionAdjustment("KXA", "YES", Decimal(40), Decimal(45), Decimal(5)),
        PositionAdjustment("KXB", "NO", Decimal(0), Decimal(2), Decimal(2))]
    assert replayed.id == PositionRebuild.create_id("r1")


def test_adopt_when_every_key_already_matches_then_nothing_to_record() -> None:
    assert _adopt([Position("KXA", "YES", 40)], [Position("KXA", "YES", 40)]) is None


@pytest.mark.parametrize("state", ["NORMAL", "CAUTION", "RECOVERY"])
def test_adopt_when_the_breaker_is_not_halted_then_refused(state: str) -> None:
    with pytest.raises(BreakerNotHalted) as refused:
        _adopt([], [Position("KXA", "YES", 1)], breaker_state=state)
    assert refused.value.code == "breaker_not_halted"


@pytest.mark.parametrize(("field", "value"), [("operator", "  "), ("reason", ""), ("reason", "a\x00b"),
                                              ("operator", "x" * 1001)])
def test_adopt_when_operator_or_reason_is_missing_then_refused_before_the_breaker_is_looked_at(
        field: str, value: str) -> None:
    with pytest.raises(OperatorRequired) as refused:
        _adopt([], [Position("KXA", "YES", 1)], breaker_state="NORMAL", **{field: value})
    assert refused.value.code == "operator_required"


@pytest.mark.parametrize("age", [MAX_READ_AGE + timedelta(microseconds=1), timedelta(hours=6),
                                 timedelta(seconds=-1)])
def test_adopt_when_the_venue_read_is_not_from_just_now_then_stale(age: timedelta) -> None:
    with pytest.raises(StaleVenueRead) as refused:
        _adopt([], [Position("KXA", "YES", 1)], read_at=NOW - age)
    assert refused.value.code == "stale_venue_read"


def test_adopt_when_read_exactly_max_age_ago_then_accepted() -> None:
    assert _adopt([], [Position("KXA", "YES", 1)], read_at=NOW - MAX_READ_AGE) is not None


def test_adopt_when_no_venue_evidence_then_refused() -> None:
    with pytest.raises(VenueEvidenceMissing) as refused:
        _adopt([], [Position("KXA", "YES", 1)], evidence_hashes=[])
    assert refused.value.code == "venue_evidence_missing"


# -- the venue's cost of adopted contracts (ADR 0450) -----------------------------------------------------------


def test_adopt_when_kalshi_gave_costs_then_adopted_contracts_carry_them_and_replay() -> None:
    # Arrange: Kalshi holds 45 YES that cost 1,935c (43c each) and 2 NO with no usable cost (0)
    costs = {("KXA", "YES"): Decimal(1935), ("KXB", "NO"): Decimal(0)}
    # Act
    rebuild = _adopt([Position("KXA", "YES", 40)], [Position("KXA", "YES", 45), Position("KXB", "NO", 2)],
                     costs=costs)
    # Assert
    assert rebuild is not None
    mapper = make_mapper()
    replayed = None
    for e in rebuild.collect_events():
        replayed = mapper.to_domain_event(mapper.to_stored_event(e)).mutate(replayed)
    assert isinstance(replayed, PositionRebuild)
    assert replayed.adjustments == rebuild.adjustments == [
        PositionAdjustment("KXA", "YES", Decimal(40), Decimal(45), Decimal(5), Decimal(1935)),
        PositionAdjustment("KXB", "NO", Decimal(0), Decimal(2), Decimal(2), None)]
    assert replayed.adjustments[0].entry_cents == Decimal(43)
    assert replayed.adjustments[0].to_dict()["venueCostCents"] == "1935"


def test_venue_adjustments_when_contracts_leave_then_no_cost_recorded() -> None:
    run = reconcile([Position("KXA", "YES", 40)], [Position("KXA", "YES", 30)])
    [adjustment] = venue_adjustments(run, {("KXA", "YES"): Decimal(1200)})
    assert (adjustment.contracts, adjustment.venue_cost_cents) == (Decimal(-10), None)


@pytest.mark.parametrize(("cost", "size", "usable"), [
    (Decimal(1935), Decimal(45), Decimal(1935)),
    (Decimal("1.5"), Decimal("0.50"), Decimal("1.5")),  # 3c a contract: a fraction held, still a price
    (None, Decimal(45), None),  # Kalshi sent no market_exposure
    (Decimal(0), Decimal(45), None),  # nothing paid: no entry to judge against
    (Decimal(-100), Decimal(45), None),
    (Decimal(4500), Decimal(45), None),  # 100c a contract: not a price a contract can be bought at
    (Decimal(900), Decimal(0), None),
])
def test_usable_cost_when_not_a_price_then_none_never_an_invented_entry(
        cost: Decimal | None, size: Decimal, usable: Decimal | None) -> None:
    assert usable_cost(cost, size) == usable


def test_adopted_entry_when_adopted_sold_and_adopted_again_then_average_of_what_is_held() -> None:
    d = Decimal
    assert adopted_entry([(d(5), d(40))]) == d(40)
    assert adopted_entry([(d(5), d(40)), (d(5), d(50))]) == d(45)  # averaged in
    assert adopted_entry([(d(5), d(40)), (d(-2), None)]) == d(40)  # contracts leave at the average
    assert adopted_entry([(d(5), d(40)), (d(-5), None), (d(3), d(60))]) == d(60)  # flat, then a new episode
    assert adopted_entry([(d(5), d(40)), (d(-5), None)]) is None  # nothing held
    assert adopted_entry([(d(5), None), (d(5), d(50))]) is None  # part of it without a cost: unknown
    assert adopted_entry([(d(5), None), (d(-5), None), (d(2), d(50))]) == d(50)
    assert adopted_entry([(d(-3), None), (d(5), d(40))]) == d(40)  # a removal below zero, then adopted


def test_adopted_entry_when_the_average_repeats_then_it_is_kept_exact() -> None:
    # 100 cents for 3 contracts, then 3 more at 40: exactly (100 + 120) / 6, no digit lost to a rounded third
    d = Decimal
    assert adopted_entry([(d(3), Fraction(100, 3))]) == Fraction(100, 3)
    assert adopted_entry([(d(3), Fraction(100, 3)), (d(3), d(40))]) == Fraction(220, 6)
