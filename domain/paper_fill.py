"""Paper fill model (trading spec §1.6, §5.3): the simulated venue's only pricing rule.

The paper venue adapter calls :func:`paper_fill` and nothing else, so paper results are a pure
function of the request, the market snapshot, the policy's slippage and fee rate, and the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from paulp.domain.execution_orders import MAX_PRICE_CENTS, ExecutionRequest, MarketSnapshot
from paulp.domain.fees import DEFAULT_TAKER_FEE_RATE, taker_fee_cents
from paulp.domain.prices import MISSING_QUOTE_CENTS


@dataclass(frozen=True)
class PaperFill:
    order_id: str
    ticker: str
    side: str  # "yes" | "no"
    action: str
    count: int
    fill_price: int  # cents
    slippage: int  # cents above the ask
    filled_at: datetime
    fee_cents: int = 0  # Kalshi's general taker fee at the policy's rate (ADR 0437)


def paper_fill(
    request: ExecutionRequest, market: MarketSnapshot, slippage_cents: int, now: datetime,
    fee_rate: float = DEFAULT_TAKER_FEE_RATE,
) -> PaperFill:
    """Immediate full fill at ``min(ask + slippage, 99)``; the count is the requested size, uncapped. A paper
    order takes liquidity, so it pays the taker fee ``ceil_to_cent(rate x C x P x (1 - P))``."""
    _, ask = market.quotes(request.signal.side)
    ask_cents = MISSING_QUOTE_CENTS if ask is None else ask
    fill = min(ask_cents + slippage_cents, MAX_PRICE_CENTS)
    return PaperFill(
        order_id=request.order_id,
        ticker=request.signal.market_id,
        side=request.signal.side.value.lower(),
        action="buy",
        count=request.requested_size,
        fill_price=fill,
        slippage=fill - ask_cents,
        filled_at=now,
        fee_cents=int(taker_fee_cents(request.requested_size, fill, fee_rate)),
    )
