"""Market marks: the last observed quotes of a market, and what an open position is worth against them.
An observation that changes no quote is not an event, unless the last one is ``CONFIRM_AFTER`` old: then
it is recorded again, so the mark's time says how recently the venue was read (ADR 0290).

Once the venue determines the outcome the mark is resolved for good: YES pays 100 cents to YES holders
and 0 to NO holders (and the reverse for NO); a void market refunds the entry price. Quotes after that
are ignored, and a different outcome reported later is refused loudly rather than overwritten.

Prices are side-native (ADR 0161): a NO position is valued on the NO book, and PnL is
``(price - entry) * contracts`` for both sides. A position's current price is the mid of its own side's
book, or its one quoted price when only a bid or only an ask is quoted (ADR 0329); with no quote on
either side of either book there is no mark, and the position is shown at its entry price (unrealised 0),
as the dashboard spec says ("current_price falls back to entry"). Kalshi's empty side (bid 0, ask 100) is a
missing quote, read so by ``Quotes`` itself, recorded events included (ADR 0305). An exit is judged only on
a two-sided book of the held side (``two_sided_price``): a one-sided book's lone price bounds a value,
it is not a price to sell at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.errors import DomainError
from paulp.domain.namespace import PAULP_NAMESPACE
from paulp.domain.prices import venue_quote

RESULTS = ("YES", "NO", "VOID")
_QUOTE_FIELDS = ("yes_bid", "yes_ask", "no_bid", "no_ask")
# Unchanged quotes read again are recorded once the last record is this old, so a quiet market's mark stays
# current for the exit monitor (trading §3.5 judges only marks at most 10 minutes old; ADR 0290).
CONFIRM_AFTER = timedelta(minutes=5)
# A read up to this much older than the last record lost a race with it and is dropped; one older still can only
# come from a wall clock stepped back, and is recorded: else the mark froze, looking fresh, until the wall caught up
# with it, and the exit monitor judged stops against it (ADR 0522).
LATE_READ = timedelta(minutes=5)


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

    def __post_init__(self) -> None:
        for name in _QUOTE_FIELDS:  # Kalshi's empty side, also in events recorded before ADR 0305
            object.__setattr__(self, name, venue_quote(getattr(self, name)))

    def check(self) -> Quotes:
        for name in _QUOTE_FIELDS:
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 100:
                raise InvalidMark(f"{name} {value} is outside 0..100 cents")
        for bid, ask, side in ((self.yes_bid, self.yes_ask, "YES"), (self.no_bid, self.no_ask, "NO")):
            if bid is not None and ask is not None and bid > ask:
                raise InvalidMark(f"{side} bid {bid} is above its ask {ask}")
        return self

    def side_price(self, side: str) -> float | None:
        """What one contract of ``side`` is worth now: the mid of its book (``side_book``: its own quotes,
        else the other book's complements) when it is bid and offered; with one of the two quoted, that one
        (a lone bid of 98 says the contract is worth at least 98, a lone ask of 3 at most 3); None when
        neither is (no mark). Not §5.3's execution mid, whose missing side counts as 50: that stand-in
        prices a limit order, and as a value it marked a bond bid at 98 at 74 (ADR 0329)."""
        bid, ask = self.side_book(side)
        if bid is not None and ask is not None:
            return (bid + ask) / 2
        one = bid if bid is not None else ask
        return None if one is None else float(one)

    def side_book(self, side: str) -> tuple[int | None, int | None]:
        """The side's (bid, ask): its own quotes, each else the complement of the other book's opposite one."""
        bid, ask = (self.yes_bid, self.yes_ask) if side == "YES" else (self.no_bid, self.no_ask)
        other_bid, other_ask = (self.no_bid, self.no_ask) if side == "YES" else (self.yes_bid, self.yes_ask)
        if bid is None and other_ask is not None:
            bid = 100 - other_ask
        if ask is None and other_bid is not None:
            ask = 100 - other_bid
        return bid, ask

    def side_bid(self, side: str) -> int | None:
        """What the side can be sold at now: its own bid, else the complement of the other side's ask."""
        return self.side_book(side)[0]

    def two_sided_price(self, side: str) -> float | None:
        """The side's mid only when someone bids and someone offers it; else None: no price to exit on."""
        bid, ask = self.side_book(side)
        return None if bid is None or ask is None else (bid + ask) / 2


def settlement_price_cents(result: str, side: str, avg_entry_cents: Decimal) -> Decimal:
    """What one contract of ``side`` is worth once the market resolved as ``result``."""
    if result == "VOID":
        return avg_entry_cents
    return Decimal(100) if result == side else Decimal(0)


def unrealized_pnl_usd(avg_entry_cents: Decimal, current_cents: Decimal, contracts: int | Decimal) -> Decimal:
    """(current - entry) * contracts, in dollars; the same formula for YES and NO (side-native prices)."""
    return (current_cents - avg_entry_cents) * contracts / 100


class MarketMark(Aggregate):
    """One market's observed quotes; an observation that changes nothing is not an event."""

    class Observed(Aggregate.Created):
        ticker: str

    class Resolved(Aggregate.Event):
        ticker: str
        result: str
        at: datetime
        evidence_hash: str | None

    class Quoted(Aggregate.Event):
        ticker: str
        yes_bid: int | None
        yes_ask: int | None
        no_bid: int | None
        no_ask: int | None
        at: datetime
        evidence_hash: str | None

    class Checkpointed(Aggregate.Event):
        """The mark at this version, so a first load starts here: a held market's mark gains an event whenever
        its quotes move and at least every ``CONFIRM_AFTER`` (up to 1,440 a day from the one-minute marks job),
        and replaying 30,000 of them (three weeks) took 1.1 s per ticker (ADR 0505). Chained like every other
        event; the ``market_marks`` view has nothing to learn from it."""

        ticker: str
        created_on: datetime
        yes_bid: int | None
        yes_ask: int | None
        no_bid: int | None
        no_ask: int | None
        quoted_at: datetime | None
        result: str | None
        resolved_at: datetime | None

    @staticmethod
    def create_id(ticker: str) -> UUID:
        return uuid5(PAULP_NAMESPACE, f"market_mark/{ticker}")

    @event(Observed)
    def __init__(self, ticker: str) -> None:
        self.ticker = ticker
        self.quotes = Quotes()
        self.at: datetime | None = None
        self.result: str | None = None
        self.resolved_at: datetime | None = None
        self.checkpointed_at = 0  # the version of the last Checkpointed event (0: none yet)

    def checkpoint_if_due(self, every: int) -> bool:
        """Restate the mark once ``every`` events have followed the last checkpoint (or the mark's start)."""
        if self.version - self.checkpointed_at < every:
            return False
        q = self.quotes
        self._checkpointed(self.ticker, self.created_on, q.yes_bid, q.yes_ask, q.no_bid, q.no_ask, self.at,
                           self.result, self.resolved_at)
        return True

    def observe(self, quotes: Quotes, at: datetime, evidence_hash: str | None) -> bool:
        """Record the quotes if they are newer and differ from the last ones, or repeat them once the last
        record is ``CONFIRM_AFTER`` old (ADR 0290), or whatever they are when ``at`` is more than ``LATE_READ``
        before the last record (the clock stepped back); True if recorded."""
        quotes.check()
        if self.result is not None:
            return False  # the outcome is known: quotes no longer value anything
        stepped_back = self.at is not None and self.at - at > LATE_READ  # re-anchors the mark's time (ADR 0522)
        if self.at is not None and not stepped_back and (
                at <= self.at or (quotes == self.quotes and at - self.at < CONFIRM_AFTER)):
            return False
        self._quoted(self.ticker, quotes.yes_bid, quotes.yes_ask, quotes.no_bid, quotes.no_ask, at, evidence_hash)
        return True

    def resolve(self, result: str, at: datetime, evidence_hash: str | None) -> bool:
        """Record the determined outcome once; True if recorded. A different outcome later is refused."""
        outcome = result.upper()
        if outcome not in RESULTS:
            raise InvalidMark(f"market result {result!r} is not one of {', '.join(RESULTS)}")
        if self.result is not None:
            if self.result != outcome:
                raise InvalidMark(f"{self.ticker} already resolved {self.result}; venue now says {outcome}")
            return False
        self._resolved(self.ticker, outcome, at, evidence_hash)
        return True

    @event(Resolved)
    def _resolved(self, ticker: str, result: str, at: datetime, evidence_hash: str | None) -> None:
        self.result = result
        self.resolved_at = at

    @event(Quoted)
    def _quoted(self, ticker: str, yes_bid: int | None, yes_ask: int | None, no_bid: int | None, no_ask: int | None,
                at: datetime, evidence_hash: str | None) -> None:
        self.quotes = Quotes(yes_bid, yes_ask, no_bid, no_ask)
        self.at = at

    @event(Checkpointed)
    def _checkpointed(self, ticker: str, created_on: datetime, yes_bid: int | None, yes_ask: int | None,
                      no_bid: int | None, no_ask: int | None, quoted_at: datetime | None, result: str | None,
                      resolved_at: datetime | None) -> None:
        """Sets the whole mark (``resume`` starts a load here); ``+ 1``: the library moves ``version`` after."""
        self.ticker = ticker
        self.quotes = Quotes(yes_bid, yes_ask, no_bid, no_ask)
        self.at, self.result, self.resolved_at = quoted_at, result, resolved_at
        self.checkpointed_at = self.version + 1
