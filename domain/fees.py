"""Trading fees (ADR 0437): Kalshi's published general taker fee for PAPER fills, the increment of a LIVE
order's cumulative venue fees that a new fill carries, and the later correction of fees that stayed unknown
(ADR 0448).

Fees are cents as exact ``Decimal``s. A fee that is not known (the venue's answer carried no fee field, or the
fill was recorded before fees were) is ``None``, never 0: sums count it as 0 and say how many were unknown.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from enum import StrEnum

from paulp.domain.errors import DomainError
from paulp.domain.exact import as_decimal as exact  # a float by its repr: 0.07, not 0.0700000000000000066

DEFAULT_TAKER_FEE_RATE = 0.07  # Kalshi's general taker fee rate (fee schedule: 0.07 x C x P x (1 - P))
CENTS = Decimal(100)


class InvalidFeeInput(DomainError):
    """Raised when a fee is asked for a count, price or rate that no fill can have."""

    code = "INVALID_FEE_INPUT"


def taker_fee_cents(count: int | Decimal, price_cents: int | float | Decimal, rate: float | Decimal) -> Decimal:
    """``ceil_to_cent(rate x C x P x (1 - P))`` dollars for ``count`` contracts at ``price_cents``, in whole cents.

    Computed exactly, so a fee that is a whole number of cents (100 at 50c, rate 0.07: $1.75) is not pushed up a
    cent by binary float error. Fractional counts are allowed (Kalshi's fixed-point contracts)."""
    c, p, r = exact(count), exact(price_cents) / CENTS, exact(rate)
    if not (c.is_finite() and p.is_finite() and r.is_finite()) or c < 0 or not 0 <= p <= 1 or not 0 <= r <= 1:
        raise InvalidFeeInput(f"fee of {count} contracts at {price_cents}c, rate {rate}")
    return (r * c * p * (1 - p) * CENTS).to_integral_value(rounding=ROUND_CEILING)


def fee_increment(cumulative_cents: Decimal | None, recorded_cents: Decimal) -> Decimal | None:
    """The part of an order's cumulative venue fees not yet recorded on its fills; None when the venue did not
    say. A cumulative below what is recorded (never expected) adds nothing rather than a negative fee."""
    if cumulative_cents is None:
        return None
    return max(cumulative_cents - recorded_cents, Decimal(0))


def cents_to_usd(cents: Decimal | int) -> float:
    """Cents as US dollars for a JSON figure (sub-cent venue fees kept to 1e-6)."""
    return round(float(Decimal(cents) / CENTS), 6)


class FeeCorrection(StrEnum):
    """What a look at Kalshi's order did for the fills of ours whose fee was unknown (ADR 0448)."""

    CORRECTED = "corrected"  # Kalshi's cumulative fee settled them
    NOTHING_UNKNOWN = "nothing_unknown"  # every fill's fee is known already: nothing to do (a re-run)
    NO_FEE_REPORTED = "no_fee_reported"  # Kalshi's answer carried no fee field
    COUNT_DIFFERS = "count_differs"  # Kalshi's filled count is not ours: its fee may not cover the same fills


def fee_correction(unknown_fills: int, filled: int, known_cents: Decimal, venue_filled: int,
                   venue_cumulative_cents: Decimal | None) -> tuple[FeeCorrection, Decimal | None]:
    """Whether Kalshi's answer settles an order's unknown fees, and by how much: Kalshi's cumulative fee less the
    fees already known on the order (never negative), only when Kalshi has filled exactly what we hold. Kalshi
    behind us would give a figure without some fills' fees that reads as complete; ahead, fees of a fill we have
    not recorded (the polling paths record that fill with its fee)."""
    if unknown_fills <= 0:
        return FeeCorrection.NOTHING_UNKNOWN, None
    if venue_cumulative_cents is None:
        return FeeCorrection.NO_FEE_REPORTED, None
    if venue_filled != filled:
        return FeeCorrection.COUNT_DIFFERS, None
    return FeeCorrection.CORRECTED, fee_increment(venue_cumulative_cents, known_cents)
