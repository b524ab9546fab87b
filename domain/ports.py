"""Ports the order pipeline calls: market facts, the portfolio, and the venue. Adapters implement them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from paulp.domain.book_depth import BookLevels
from paulp.domain.execution_orders import MarketSnapshot, VenueOrder
from paulp.domain.prices import NO_QUOTE_SPREAD
from paulp.domain.risk_input import PortfolioSnapshot
from paulp.domain.scoring_inputs import MarketScoring


@dataclass(frozen=True)
class MarketFacts:
    """What pre-trade, risk and execution need to know about one market at one moment. ``book`` is the order book
    read with the quotes (None: not read, and the pre-trade check blocks); ``vpin_score`` is None when too little
    has traded to fill one bucket (ADR 0373)."""

    snapshot: MarketSnapshot
    category: str
    book: BookLevels | None = None
    vpin_score: float | None = None
    settlement_date: datetime | None = None
    last_price_update: datetime | None = None

    def spread(self, side: str) -> float | None:
        """Quoted spread of the side's book in probability units."""
        bid, ask = (self.snapshot.yes_bid, self.snapshot.yes_ask) if side == "YES" else (
            self.snapshot.no_bid, self.snapshot.no_ask)
        return None if bid is None or ask is None else (ask - bid) / 100

    def risk_spread(self, side: str) -> float:
        """The spread the risk check (I10) is given: a side without both quotes is as wide as a book can be,
        never 0 (fail closed; ADR 0305)."""
        spread = self.spread(side)
        return NO_QUOTE_SPREAD if spread is None else spread


class MarketDataPort(Protocol):
    def facts(self, ticker: str) -> MarketFacts | None: ...


class ScoringPort(Protocol):
    def market_scoring(self, market_id: str) -> MarketScoring:
        """The market's LLM scoring runs as recorded (the read model; ADR 0425). Raises when they cannot be read:
        the gate then refuses and I12/I13 fail, never read as "no run"."""
        ...


class PortfolioPort(Protocol):
    def snapshot(self, strategy: str, market_id: str, mode: str, category: str | None = None) -> PortfolioSnapshot:
        """The book an order of ``strategy`` in ``market_id`` (judged in ``category``), executed in ``mode`` (PAPER
        | LIVE), is checked against; ``correlated_markets`` is None when the lookup failed: the risk check then
        fails closed."""
        ...

    def recent_slippage_ratio(self, market_id: str, mode: str, since: datetime, until: datetime) -> float | None:
        """I18's input: the highest slippage-vs-edge ratio of the market's ``mode`` executions in (since, until],
        None when there are none (ADR 0387). Raises when the history cannot be read."""
        ...


@dataclass(frozen=True)
class VenueSubmission:
    venue_order_id: str
    status: str  # venue status: "submitted" | "filled" | "rejected" | ...
    fill_count: int = 0
    fill_price: float | None = None  # cents of the order's side, cost-weighted over its fills (ADR 0282)
    evidence_hash: str | None = None
    reason: str | None = None  # why a "rejected" submission was refused (codes and status only)
    fees_cents: Decimal | None = None  # the order's fees so far (taker + maker), cents; None: the venue did not say
    # the order as the answer names it (ADR 0519); None where the answer does not say
    ticker: str | None = None
    side: str | None = None  # yes | no
    action: str | None = None  # buy | sell
    client_order_id: str | None = None


class SubmissionOutcomeUnknown(Exception):
    """Raised by a venue when an order submission may or may not have happened (timeout, 5xx)."""


class VenuePort(Protocol):
    def submit(self, order: VenueOrder) -> VenueSubmission: ...

    def find_by_client_order_id(self, client_order_id: str) -> VenueSubmission | None: ...

    def cancel(self, venue_order_id: str) -> VenueSubmission: ...
