"""Order-book depth (trading §1.4 step 1, §5.4): how much an order of one side could take from the book now.

Kalshi rests bids only: a side's asks are the other side's bids mirrored (ask = 100 - bid). An order buys its
side, so its depth is the asks of that side it could reach: every ask priced at most ``DEPTH_BAND_CENTS`` above
its limit, the price move the pre-trade check tolerates (0.05). The band is anchored on the order's limit, not on
the best ask, so more resting contracts never make the depth smaller (ADR 0373). Counts are exact (fixed point,
ADR 0330); an empty side has no asks and so no depth (ADR 0305).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

DEPTH_BAND_CENTS = 5  # = the pre-trade price-move tolerance (0.05)
MIN_PRICE, MAX_PRICE = 1, 99


class InvalidBookLevel(ValueError):
    """Raised when a book level is not (whole cents 0..100, contracts >= 0)."""

    code = "invalid_book_level"


Level = tuple[int, Decimal]


def _levels(levels: Iterable[tuple[int, Decimal | int]]) -> tuple[Level, ...]:
    out: list[Level] = []
    for price, size in levels:
        if isinstance(price, bool) or not isinstance(price, int) or not 0 <= price <= 100:
            raise InvalidBookLevel(f"price {price!r} is not whole cents 0..100")
        n = Decimal(size)
        if not n.is_finite() or n < 0:
            raise InvalidBookLevel(f"size {size!r} is not a count of contracts")
        if n > 0:
            out.append((price, n))
    return tuple(sorted(out, reverse=True))


@dataclass(frozen=True)
class SideDepth:
    """Asks of one side within reach of a limit: contracts, and what taking them all would cost in USD."""

    contracts: Decimal
    usd: Decimal


@dataclass(frozen=True)
class BookLevels:
    """Resting bids per side as (cents, contracts), best first; build with ``BookLevels.of``."""

    yes_bids: tuple[Level, ...] = ()
    no_bids: tuple[Level, ...] = ()

    @classmethod
    def of(cls, yes_bids: Iterable[tuple[int, Decimal | int]],
           no_bids: Iterable[tuple[int, Decimal | int]]) -> BookLevels:
        return cls(_levels(yes_bids), _levels(no_bids))

    def asks(self, side: str) -> tuple[Level, ...]:
        """The side's asks, cheapest first; a mirrored bid of 0 or 100 is no tradable price and is left out."""
        other = self.no_bids if side == "YES" else self.yes_bids
        mirrored = ((100 - p, n) for p, n in other)
        return tuple(sorted((p, n) for p, n in mirrored if MIN_PRICE <= p <= MAX_PRICE))

    def depth(self, side: str, limit_cents: int, band_cents: int = DEPTH_BAND_CENTS) -> SideDepth:
        """What a ``side`` buy limited at ``limit_cents`` could take within the band; nothing in reach -> 0."""
        reach = [(p, n) for p, n in self.asks(side) if p <= limit_cents + band_cents]
        contracts = sum((n for _, n in reach), Decimal(0))
        usd = sum((n * p for p, n in reach), Decimal(0)) / 100
        return SideDepth(contracts, usd)
