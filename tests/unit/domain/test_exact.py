"""One helper takes every figure as written for the exact threshold rules (ADRs 0452, 0456, 0460)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from paulp.domain.exact import as_decimal, as_written, as_written_decimal, herfindahl


def test_as_written_when_a_float_then_its_shortest_repr_not_its_binary_value() -> None:
    assert as_written(0.07) == Fraction(7, 100)
    assert as_written(0.07) != Fraction(0.07)


def test_as_written_when_exact_kinds_then_taken_as_they_are() -> None:
    third = Fraction(1, 3)

    assert as_written(third) is third
    assert as_written(Decimal("33.33333333333333333333")) == Fraction(3333333333333333333333, 10**20)
    assert as_written(2**60 + 1) == 2**60 + 1  # an int past float precision is not rounded through a float


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_as_written_when_not_finite_then_raises(value: float) -> None:
    with pytest.raises((ValueError, OverflowError)):
        as_written(value)


def test_as_decimal_when_a_float_then_its_shortest_repr_and_other_kinds_as_they_are() -> None:
    exact = Decimal("33.33333333333333333333")

    assert as_decimal(0.07) == Decimal("0.07")
    assert as_decimal(0.07) != Decimal.from_float(0.07)
    assert as_decimal(exact) is exact
    assert as_decimal("1.10") == Decimal("1.10")
    assert as_decimal(2**60 + 1) == Decimal(2**60 + 1)
    assert as_written_decimal(2**60 + 1) != Decimal(2**60 + 1)  # why the two helpers differ: this one floats it


def test_as_decimal_when_not_finite_then_kept_for_the_caller_to_refuse() -> None:
    assert as_decimal(float("inf")).is_infinite()
    assert as_decimal(float("nan")).is_nan()


def test_herfindahl_when_shares_repeat_then_the_index_is_exact() -> None:
    assert herfindahl([Fraction(80), Fraction(20), Fraction(20)]) == Fraction(1, 2)  # shares 2/3, 1/6, 1/6
    assert herfindahl([Fraction(1)] * 4) == Fraction(1, 4)


def test_herfindahl_when_nothing_to_share_then_none() -> None:
    assert herfindahl([]) is None
    assert herfindahl([Fraction(0), Fraction(0)]) is None
