"""The governor's expected-vs-broker drift check (trading §7) judged on exact sizes (ADR 0362)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paulp.domain.drift import DriftSeverity, check_drift
from paulp.domain.reconciliation import InvalidPosition


def _one(expected: object, broker: object) -> DriftSeverity:
    report = check_drift([{"marketId": "KX-A", "side": "YES", "size": expected}],
                         [{"marketId": "KX-A", "side": "yes", "size": broker}])
    [drift] = report.drifts
    return drift.severity


@pytest.mark.parametrize(("expected", "broker", "severity", "recommendation"), [
    (3, 3.15, DriftSeverity.CRITICAL, "HALT"),  # exactly 5 %; 4.9999999999999964 in floats
    (5, Decimal("5.10"), DriftSeverity.WARNING, "CAUTION"),  # exactly 2 %; 1.9999999999999927 in floats
    (Decimal("12.50"), "12.5", DriftSeverity.NONE, "NORMAL"),
])
def test_check_drift_when_fractional_sizes_sit_on_a_band_edge_then_judged_exactly(
        expected: object, broker: object, severity: DriftSeverity, recommendation: str) -> None:
    report = check_drift([{"marketId": "KX-A", "side": "YES", "size": expected}],
                         [{"marketId": "KX-A", "side": "yes", "size": broker}])
    assert (report.drifts[0].severity, report.recommendation) == (severity, recommendation)
    assert report.verified is (severity is DriftSeverity.NONE)


def test_check_drift_when_a_size_is_not_a_number_then_invalid_position() -> None:
    with pytest.raises(InvalidPosition):
        _one(3, "three")


@given(st.decimals(min_value=0, max_value=100_000, places=2), st.decimals(min_value=0, max_value=100_000, places=2))
def test_check_drift_when_any_two_sizes_then_severity_is_the_exact_band(expected: Decimal, broker: Decimal) -> None:
    e, b = Fraction(expected), Fraction(broker)
    pct = abs(e - b) * 100 / e if e > 0 else Fraction(100 if b > 0 else 0)
    want = DriftSeverity.CRITICAL if pct >= 5 else DriftSeverity.WARNING if pct >= 2 else DriftSeverity.NONE
    assert _one(expected, broker) is want
    assert _one(float(expected), float(broker)) is want
