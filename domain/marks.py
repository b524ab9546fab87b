"""Market marks: the last observed quotes of a market, and what an open position is worth against them.

Prices are side-native (ADR 0161): a NO position is valued on the NO book, and PnL is
``(price - entry) * contracts`` for both sides. A position's current price is the mid of its own side's
book (a missing quote counts as 50 cents, as for execution, §5.3); with no quote on either side of
either book there is no mark, and the position is shown at its entry price (unrealised 0), as the
dashboard spec says ("current_price falls back to entry").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.errors import DomainError
from paulp.domain.namespace import PAULP_NAMESPACE
from paulp.domain.prices import execution_mid

SIDES = ("YES", "NO")


class InvalidMark(DomainError):
    """Raised when a quote is outside 0..100 cents or a bid is above its ask."""

    code = "invalid_mark"


@dataclass(frozen=True)
class Quotes:
    """Both books of a binary market in cents; any quote may be missing."""

    yes_bid: int | None = None
    yes_ask: int | None = None
    no_bid: int | None = None
    no_ask: int | None = None

    def check(self) -> Quotes:
        for name in ("yes_bid", "yes_ask", "no_bid", "no_ask"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 100:
                raise InvalidMark(f"{name} {value} is outside 0..100 cents")
        for bid, ask, side in ((self.yes_bid, self.yes_ask, "YES"), (self.no_bid, self.no_ask, "NO")):
            if bid is not None and ask is not None and bid > ask:
                raise InvalidMark(f"{side} bid {bid} is above its ask {ask}")
        return self

    def side_price(self, side: str) -> float | None:
        """The side's own mid, else the complement of the other side's mid, else None (no mark)."""
        own = (self.yes_bid, self.yes_ask) if side == "YES" else (self.no_bid, self.no_ask)
        other = (self.no_bid, self.no_ask) if side == "YES" else (self.yes_bid, self.yes_ask)
        if own != (None, None):
            return execution_mid(*own)
        if other != (None, None):
            return 100 - execution_mid(*other)
        return None


def unrealized_pnl_usd(avg_entry_cents: Decimal, current_cents: Decimal, contracts: int) -> Decimal:
    """(current - entry) * contracts, in dollars; the same formula for YES and NO (side-native prices)."""
    return (current_cents - avg_entry_cents) * contracts / 100


class MarketMark(Aggregate):
    """One market's observed quotes; an observation that changes nothing is not an event."""

    class Observed(Aggregate.Created):
        ticker: str

    class Quoted(Aggregate.Event):
        ticker: str
        yes_bid: int | None
        yes_ask: int | None
        no_bid: int | None
        no_ask: int | None
        at: datetime
        evidence_hash: str | None

    @staticmethod
    def create_id(ticker: str) -> UUID:
        return uuid5(PAULP_NAMESPACE, f"market_mark/{ticker}")

    @event(Observed)
    def __init__(self, ticker: str) -> None:
        self.ticker = ticker
        self.quotes = Quotes()
        self.at: datetime | None = None

    def observe(self, quotes: Quotes, at: datetime, evidence_hash: str | None) -> bool:
        """Record the quotes if they differ from the last ones and are not older; True if recorded."""
        quotes.check()
        if self.at is not None and (at <= self.at or quotes == self.quotes):
            return False
        self._quoted(self.ticker, quotes.yes_bid, quotes.yes_ask, quotes.no_bid, quotes.no_ask, at, evidence_hash)
        return True

    @event(Quoted)
    def _quoted(self, ticker: str, yes_bid: int | None, yes_ask: int | None, no_bid: int | None, no_ask: int | None,
                at: datetime, evidence_hash: str | None) -> None:
        self.quotes = Quotes(yes_bid, yes_ask, no_bid, no_ask)
        self.at = at
