"""A market's closing line (trading §4.2-4.3) from the books we read near its close, as events (ADR 0419).

Observations ``{timestamp, midPrice, depthYes, depthNo (USD), spread}`` are taken from the venue's order book
only for markets we hold or have orders in, and only inside the window the market's class needs before its
close: the closing line reads nothing else, so nothing else is kept. Once the market's outcome is known the
closing line is estimated once, from these observations, and each filled order of the market is given its CLV
against it in its own side's prices (a NO order against ``1 - YES mid``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.book_depth import BookLevels
from paulp.domain.clv import (
    CLOSING_LINE_WINDOWS,
    ClosingLineEstimate,
    MarketClass,
    Observation,
    estimate_closing_line,
    infer_market_class,
)
from paulp.domain.namespace import PAULP_NAMESPACE

# Sports has no window (§4.3 takes the last observation before the halt): its books are read in the last hour.
SPORTS_LEAD = timedelta(minutes=60)
# Read a little before the window opens, so the first read of a once-a-minute job is already inside it.
WINDOW_MARGIN = timedelta(minutes=1)


def observation_lead(market_class: MarketClass) -> timedelta:
    """How long before the close a market's book is worth reading for its closing line."""
    window = CLOSING_LINE_WINDOWS[market_class].window
    return (window or SPORTS_LEAD) + WINDOW_MARGIN


def observation_due(close_time: datetime | None, category: str | None, now: datetime) -> bool:
    """True when ``now`` is in the lead before the market's close (close inclusive); no close time -> never."""
    if close_time is None:
        return False
    return close_time - observation_lead(infer_market_class(category)) <= now <= close_time


def observation_from_book(book: BookLevels, at: datetime) -> Observation | None:
    """The YES mid and spread of a two-sided book (probabilities), and each side's depth in USD: what buying
    that side could take within the pre-trade band of its best ask (``BookLevels.depth``). A one-sided book
    has no mid: None."""
    yes_ask = book.asks("YES")
    no_ask = book.asks("NO")
    if not yes_ask or not no_ask:
        return None
    best_yes_ask, best_no_ask = yes_ask[0][0], no_ask[0][0]
    best_yes_bid = 100 - best_no_ask
    return Observation(
        timestamp=at,
        mid_price=(best_yes_bid + best_yes_ask) / 200,
        depth_yes=float(book.depth("YES", best_yes_ask).usd),
        depth_no=float(book.depth("NO", best_no_ask).usd),
        spread=(best_yes_ask - best_yes_bid) / 100,
    )


def side_price_cents(yes_probability: float, side: str) -> float:
    """A YES-space probability as the held side's price in cents: YES ``100p``, NO ``100 - 100p`` (§4.2)."""
    return yes_probability * 100 if side == "YES" else 100 - yes_probability * 100


class ClosingLine(Aggregate):
    """One market's observations near its close, then its closing line (estimated once)."""

    class Started(Aggregate.Created):
        ticker: str

    class Observed(Aggregate.Event):
        ticker: str
        at: datetime
        mid_price: float
        depth_yes: float
        depth_no: float
        spread: float
        close_time: datetime | None
        category: str | None
        evidence_hash: str | None

    class Estimated(Aggregate.Event):
        """The closing line of §4.3: YES-space price, quality and validity, with what it was made from."""

        ticker: str
        resolution_time: datetime
        market_class: str
        method: str
        closing_line_price: float
        quality_score: float
        is_valid: bool
        scores: dict[str, float]
        observation_count: int
        valid_observation_count: int
        at: datetime

    @staticmethod
    def create_id(ticker: str) -> UUID:
        return uuid5(PAULP_NAMESPACE, f"closing_line/{ticker}")

    @event(Started)
    def __init__(self, ticker: str) -> None:
        self.ticker = ticker
        self.observations: list[Observation] = []
        self.close_time: datetime | None = None
        self.category: str | None = None
        self.estimate: ClosingLineEstimate | None = None
        self.resolution_time: datetime | None = None

    @property
    def market_class(self) -> MarketClass:
        return infer_market_class(self.category)

    def observe(self, observation: Observation, close_time: datetime | None, category: str | None,
                evidence_hash: str | None) -> bool:
        """Keep a newer observation until the line is estimated; True if recorded."""
        if self.estimate is not None:
            return False
        if self.observations and observation.timestamp <= self.observations[-1].timestamp:
            return False
        o = observation
        self._observed(self.ticker, o.timestamp, o.mid_price, o.depth_yes, o.depth_no, o.spread, close_time, category,
                       evidence_hash)
        return True

    def close(self, resolved_at: datetime, now: datetime) -> ClosingLineEstimate:
        """Estimate the line once, at the last known close time (else when the outcome was seen); later calls
        return the recorded estimate. No usable observation gives §4.3's invalid result (quality 0)."""
        if self.estimate is not None:
            return self.estimate
        resolution = self.close_time or resolved_at
        market_class = self.market_class
        line = estimate_closing_line(self.observations, market_class, resolution)
        scores = {"depth": line.depth_score, "spread": line.spread_score, "samples": line.sample_score,
                  "stability": line.stability_score}
        self._estimated(self.ticker, resolution, market_class.value, line.method, line.closing_line_price,
                        line.quality_score, line.is_valid, scores, line.observation_count,
                        line.valid_observation_count, now)
        assert self.estimate is not None
        return self.estimate

    @event(Observed)
    def _observed(self, ticker: str, at: datetime, mid_price: float, depth_yes: float, depth_no: float, spread: float,
                  close_time: datetime | None, category: str | None, evidence_hash: str | None) -> None:
        self.observations.append(Observation(at, mid_price, depth_yes, depth_no, spread))
        self.close_time = close_time or self.close_time
        self.category = category or self.category

    @event(Estimated)
    def _estimated(self, ticker: str, resolution_time: datetime, market_class: str, method: str,
                   closing_line_price: float, quality_score: float, is_valid: bool, scores: dict[str, float],
                   observation_count: int, valid_observation_count: int, at: datetime) -> None:
        self.resolution_time = resolution_time
        self.estimate = ClosingLineEstimate(
            closing_line_price, quality_score, is_valid, method, scores["depth"], scores["spread"],
            scores["samples"], scores["stability"], observation_count, valid_observation_count)
