"""Figures as written, for judging thresholds exactly (ADRs 0444, 0452, 0456, 0460).

A float carries the binary neighbour of what an operator, a venue or the spec wrote (0.07 is 0.0700000000000000066…),
and a sum or quotient of such neighbours can land a crumb beside an edge the true figures sit on. Rules that compare
against an edge therefore take each float by its shortest repr and work in exact rationals.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction


def as_written(value: float | int | Decimal | Fraction) -> Fraction:
    """The exact rational a figure is written as: a float by its shortest repr (0.07 is 7/100, not its binary
    neighbour); an int, a Decimal or a Fraction as it is. A non-finite float raises (it has no exact value)."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, float):
        return Fraction(Decimal(repr(value)))
    return Fraction(value)


def as_written_decimal(value: float) -> Decimal:
    """The decimal a figure is written as (its float's shortest repr), for rules whose arithmetic is written in
    Decimal: one body for what nine modules each spelled ``Decimal(repr(float(x)))``."""
    return Decimal(repr(float(value)))


def as_decimal(value: float | int | str | Decimal) -> Decimal:
    """The decimal a figure is written as, whatever type carries it: a float by its shortest repr, an int, a
    numeric string or a Decimal as it is. Unlike ``as_written_decimal`` an int or Decimal never passes through a
    float (2**60 + 1 stays exact); one body for what seven modules each spelled
    ``Decimal(repr(v)) if isinstance(v, float) else Decimal(v)``."""
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def herfindahl(values: Iterable[Fraction]) -> Fraction | None:
    """Σ share² of non-negative exact values, with no rounding: repeating shares (a sixth, a third) summed in
    decimals land one digit beside an edge the index sits on (ADRs 0452, 0456, 0459). None when the values sum to
    nothing, whose reading (compliant, fully concentrated, zero) is each rule's own."""
    exact = list(values)
    total = sum(exact, Fraction(0))
    if total <= 0:
        return None
    return sum(((v / total) ** 2 for v in exact), Fraction(0))
