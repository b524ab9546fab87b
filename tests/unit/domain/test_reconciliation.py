"""Reconciliation (trading §7): keying, drift bands, run status, internal position aggregation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paulp.domain.reconciliation import (
    DriftSeverity,
    FilledOrder,
    InvalidPosition,
    Position,
    RunStatus,
    drift_severity,
    internal_positions,
    reconcile,
)


def test_reconcile_when_ticker_contains_dashes_and_venue_side_is_lower_case_then_keys_match() -> None:
    # Arrange
    ticker = "KXHIGHNY-26MAR01-T50"
    # Act
    run = reconcile([Position(ticker, "YES", 10)], [Position(ticker, "yes", 10)])
    # Assert
    assert run.matched == 1
    assert run.status is RunStatus.OK
    assert run.drifts[0].market_id == ticker


def test_reconcile_when_venue_holds_an_unknown_position_then_it_is_a_critical_orphan() -> None:
    run = reconcile([], [Position("M", "NO", 3)])

    assert run.drifts[0].drift_pct == 100.0
    assert run.status is RunStatus.CRITICAL_DRIFT
    assert run.alert_severity == "critical"


def test_reconcile_when_only_major_drift_then_warning_alert() -> None:
    run = reconcile([Position("M", "YES", 100)], [Position("M", "YES", 97)])

    assert run.status is RunStatus.MAJOR_DRIFT
    assert run.alert_severity == "warning"
    assert run.total_absolute_drift == 3
    assert run.recorded_drifts == run.drifts


@pytest.mark.parametrize(
    ("pct", "severity"),
    [(0.1, DriftSeverity.NONE), (0.11, DriftSeverity.MINOR), (2.0, DriftSeverity.MAJOR),
     (-5.0, DriftSeverity.CRITICAL), (4.99, DriftSeverity.MAJOR)],
)
def test_drift_severity_when_on_band_edges_then_bands_are_inclusive_above_minor(
    pct: float, severity: DriftSeverity
) -> None:
    assert drift_severity(pct) is severity


def test_internal_positions_when_orders_were_reconciled_then_they_still_count_until_archived() -> None:
    # Arrange
    orders = [
        FilledOrder("A", "YES", "FILLED", 10, 50),
        FilledOrder("A", "yes", "RECONCILED", 30, 54),
        FilledOrder("A", "YES", "RECONCILIATION_DRIFT", 10, 50),
        FilledOrder("A", "YES", "ARCHIVED", 99, 10),
        FilledOrder("A", "YES", "PARTIAL_FILL", 99, 10),
    ]
    # Act
    [position] = internal_positions(orders)
    # Assert
    assert (position.market_id, position.side, position.size) == ("A", "YES", 50)
    assert position.avg_price == pytest.approx((10 * 50 + 30 * 54 + 10 * 50) / 50)


def test_internal_positions_when_a_fill_price_is_missing_then_average_is_unknown() -> None:
    [position] = internal_positions([FilledOrder("A", "NO", "FILLED", 5, None)])

    assert position.avg_price is None


def test_reconcile_when_side_is_not_yes_or_no_then_invalid_position() -> None:
    with pytest.raises(InvalidPosition) as err:
        reconcile([Position("M", "MAYBE", 1)], [])
    assert err.value.code == "INVALID_POSITION"


sizes = st.integers(min_value=0, max_value=10_000)


@given(st.lists(st.tuples(st.sampled_from("ABC"), st.sampled_from(["YES", "no"]), sizes, sizes), max_size=12))
def test_reconcile_when_any_positions_then_every_key_appears_once_and_status_is_the_worst(
    rows: list[tuple[str, str, int, int]],
) -> None:
    internal = [Position(m, s, i) for m, s, i, _ in rows]
    venue = [Position(m, s, v) for m, s, _, v in rows]

    run = reconcile(internal, venue)

    keys = [(d.market_id, d.side) for d in run.drifts]
    assert len(keys) == len(set(keys)) == len({(m, s.upper()) for m, s, _, _ in rows})
    assert run.matched + run.drift_count == len(run.drifts)
    if any(d.severity is DriftSeverity.CRITICAL for d in run.drifts):
        assert run.status is RunStatus.CRITICAL_DRIFT
    if all(d.drift == 0 for d in run.drifts):
        assert run.status is RunStatus.OK
