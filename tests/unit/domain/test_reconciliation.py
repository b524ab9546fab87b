"""Reconciliation (trading §7): keying, drift bands, run status, internal position aggregation."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paulp.domain.reconciliation import (
    DriftSeverity,
    FilledOrder,
    InvalidPosition,
    Position,
    RunStatus,
    compare,
    drift_severity,
    exact,
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


# -- exact sizes (ADR 0362): Kalshi's fixed-point counts graded by the §7 bands, never by float artefacts ---------

BANDS = ((Fraction(5), DriftSeverity.CRITICAL), (Fraction(2), DriftSeverity.MAJOR))
RANK = {s: i for i, s in enumerate(DriftSeverity)}
contracts = st.decimals(min_value=0, max_value=1_000_000, places=2, allow_nan=False, allow_infinity=False)


def _oracle(internal: str, venue: str) -> DriftSeverity:
    """§7 written out again on fractions of the decimal texts: an independent reading of the bands."""
    i, v = Fraction(internal), Fraction(venue)
    pct = abs((v - i) * 100 / i) if i > 0 else Fraction(100 if v > 0 else 0)
    return next((s for edge, s in BANDS if pct >= edge),
                DriftSeverity.MINOR if pct > Fraction(1, 10) else DriftSeverity.NONE)


@pytest.mark.parametrize(("internal", "venue", "severity", "pct"), [
    (3, "3.15", DriftSeverity.CRITICAL, 5),  # float: 4.9999999999999964
    (5, "5.10", DriftSeverity.MAJOR, 2),  # float: 1.9999999999999927
    (1000, "1001", DriftSeverity.NONE, Fraction(1, 10)),  # the minor edge is exclusive
    (1000, "1001.01", DriftSeverity.MINOR, Fraction(101, 1000)),
    (1000, "1000.50", DriftSeverity.NONE, Fraction(1, 20)),  # ADR 0331 called this critical
    (0, "0.50", DriftSeverity.CRITICAL, 100),  # a fraction held at the venue only: an orphan
    ("0.50", 0, DriftSeverity.CRITICAL, -100),
])
def test_compare_when_a_size_is_fractional_then_severity_follows_the_bands_on_the_exact_values(
        internal: object, venue: str, severity: DriftSeverity, pct: object) -> None:
    drift = compare("KX-A", "YES", Decimal(str(internal)), Decimal(venue))
    assert drift.severity is severity
    assert Fraction(drift.drift_pct) == pct and drift.drift == Decimal(venue) - Decimal(str(internal))


def test_reconcile_when_a_fractional_position_is_equal_on_both_sides_then_matched_and_reported_as_numbers() -> None:
    run = reconcile([Position("KX-A", "YES", Decimal("12.5"))], [Position("KX-A", "yes", Decimal("12.50"))])

    assert (run.matched, run.drift_count, run.status) == (1, 0, RunStatus.OK)
    assert run.drifts[0].to_dict() == {"marketId": "KX-A", "side": "YES", "internalSize": 12.5, "venueSize": 12.5,
                                       "drift": 0, "driftPct": 0, "severity": "none"}


def test_drift_to_dict_when_whole_then_ints_and_when_fractional_then_floats() -> None:
    whole = compare("KX-A", "NO", 40, 50).to_dict()
    half = compare("KX-A", "NO", 40, Decimal("40.50")).to_dict()

    assert [type(whole[k]) for k in ("internalSize", "venueSize", "drift", "driftPct")] == [int] * 4
    assert (half["venueSize"], half["drift"], half["driftPct"], half["severity"]) == (40.5, 0.5, 1.25, "minor")
    assert json.loads(json.dumps(half)) == half


@pytest.mark.parametrize("size", [True, float("nan"), float("inf"), Decimal("NaN"), "forty", None])
def test_position_when_size_is_not_a_finite_number_then_invalid_position(size: object) -> None:
    with pytest.raises(InvalidPosition) as err:
        Position("KX-A", "YES", size)  # type: ignore[arg-type]
    assert err.value.code == "INVALID_POSITION"


def test_exact_when_float_then_read_as_the_decimal_it_prints_as() -> None:
    assert exact(40.1) == Decimal("40.1") and exact(3) == Decimal(3) and exact("12.50") == Decimal("12.50")


@given(contracts)
def test_compare_when_sizes_equal_then_always_matched(size: Decimal) -> None:
    for venue in (size, size.normalize(), exact(float(size))):
        drift = compare("KX-A", "YES", size, venue)
        assert (drift.severity, drift.drift, drift.drift_pct) == (DriftSeverity.NONE, 0, 0)


@given(contracts, contracts)
def test_compare_when_any_two_sizes_then_severity_is_the_exact_band_and_floats_read_alike(
        internal: Decimal, venue: Decimal) -> None:
    expected = _oracle(str(internal), str(venue))

    assert compare("KX-A", "YES", internal, venue).severity is expected
    assert compare("KX-A", "YES", float(internal), float(venue)).severity is expected


@given(st.fractions(min_value=-1000, max_value=1000), st.fractions(min_value=-1000, max_value=1000))
def test_drift_severity_when_drift_grows_in_magnitude_then_severity_never_falls(a: Fraction, b: Fraction) -> None:
    small, large = sorted((a, b), key=abs)

    assert RANK[drift_severity(small)] <= RANK[drift_severity(large)]
    assert drift_severity(small) is drift_severity(-small)
