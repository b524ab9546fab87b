"""Execution requests and their venue orders (trading spec §5.3): what exactly goes to the venue.

Limit prices are integer cents with a one-cent tick, and NO is symmetric to YES on NO quotes:
the source's fractional ticks and mirrored NO branch are bugs the spec corrects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from paulp.domain.exact import as_written_decimal as _dec
from paulp.domain.execution_policy import ExecutionPolicy
from paulp.domain.prices import MISSING_QUOTE_CENTS, execution_mid

MIN_PRICE_CENTS = 1
MAX_PRICE_CENTS = 99
AGGRESSIVE_CONFIDENCE = 0.7


class Side(StrEnum):
    YES = "YES"
    NO = "NO"


class LimitPriceMethod(StrEnum):
    MID_MINUS_EDGE = "mid_minus_edge"
    BEST_BID_IMPROVE = "best_bid_improve"
    MODEL_FAIR_VALUE = "model_fair_value"
    AGGRESSIVE_CROSS = "aggressive_cross"


@dataclass(frozen=True)
class ExecutionSignal:
    market_id: str
    side: Side
    model_probability: float
    market_price: float
    edge: float  # probability units: 0.15 = 15 cents
    confidence: float


@dataclass(frozen=True)
class ExecutionRequest:
    order_id: str
    signal: ExecutionSignal
    requested_size: int
    max_price: int  # cents
    order_type: str = "limit"
    source: str = ""
    limit_price_method: LimitPriceMethod | None = None


@dataclass(frozen=True)
class MarketSnapshot:
    """A venue market as the execution service sees it; quotes in cents, any of them may be missing."""

    ticker: str
    status: str = "active"
    yes_bid: int | None = None
    yes_ask: int | None = None
    no_bid: int | None = None
    no_ask: int | None = None
    volume_24h: float | None = None
    settlement_time: datetime | None = None
    close_time: datetime | None = None
    category: str | None = None
    result: str | None = None  # "yes" | "no" | "void" once the venue has determined the outcome

    def quotes(self, side: Side) -> tuple[int | None, int | None]:
        """(bid, ask) of the side's own book."""
        return (self.yes_bid, self.yes_ask) if side is Side.YES else (self.no_bid, self.no_ask)


@dataclass(frozen=True)
class VenueOrder:
    ticker: str
    client_order_id: str
    side: str  # "yes" | "no"
    action: str
    count: int
    type: str
    yes_price: int | None
    no_price: int | None


def clamp_price(cents: float) -> int:
    return max(MIN_PRICE_CENTS, min(MAX_PRICE_CENTS, math.floor(cents)))


def _clamp_decimal(cents: Decimal) -> int:
    """floor and clamp taken in decimal (ADR 0452): p 0.57 is 57 cents, not binary's floor(56.99999999999999)."""
    if not cents.is_finite():
        raise ValueError(f"Limit price is not a finite number: {cents}")
    return max(MIN_PRICE_CENTS, min(MAX_PRICE_CENTS, math.floor(cents)))


def limit_price(method: LimitPriceMethod | None, market: MarketSnapshot, request: ExecutionRequest) -> int:
    """Limit in integer cents from the side's own quotes (missing quote = 50); no method = maxPrice."""
    if method is None:
        return request.max_price
    signal = request.signal
    bid, ask = market.quotes(signal.side)
    safe_bid = MISSING_QUOTE_CENTS if bid is None else bid
    safe_ask = MISSING_QUOTE_CENTS if ask is None else ask
    mid = execution_mid(bid, ask)
    if method is LimitPriceMethod.MID_MINUS_EDGE:
        dmid = _dec(mid)
        return _clamp_decimal(dmid - dmid * _dec(signal.edge) / 2)
    if method is LimitPriceMethod.BEST_BID_IMPROVE:
        return clamp_price(min(safe_bid + 1, safe_ask, MAX_PRICE_CENTS))
    if method is LimitPriceMethod.MODEL_FAIR_VALUE:
        p = _dec(signal.model_probability)
        return _clamp_decimal((p if signal.side is Side.YES else 1 - p) * 100)
    if signal.confidence >= AGGRESSIVE_CONFIDENCE:
        return clamp_price(min(safe_ask, MAX_PRICE_CENTS))
    return clamp_price(mid)


def to_venue_order(request: ExecutionRequest, market: MarketSnapshot, policy: ExecutionPolicy) -> VenueOrder:
    """Buy-only venue order; the count is capped at the policy's single-order size."""
    price = limit_price(request.limit_price_method, market, request)
    is_yes = request.signal.side is Side.YES
    return VenueOrder(
        ticker=request.signal.market_id,
        client_order_id=request.order_id,
        side=request.signal.side.value.lower(),
        action="buy",
        count=min(request.requested_size, policy.max_single_order_size),
        type=request.order_type,
        yes_price=price if is_yes else None,
        no_price=None if is_yes else price,
    )
