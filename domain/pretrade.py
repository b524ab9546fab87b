"""Pre-trade microstructure check (trading §1.4 step 1): spread, depth, VPIN and price move."""

from __future__ import annotations

from dataclasses import dataclass

from paulp.domain.execution_orders import Side
from paulp.domain.order_values import PreTradeCheck
from paulp.domain.ports import MarketFacts


@dataclass(frozen=True)
class PreTradeThresholds:
    """Defaults of the cross-venue spec: spread <= 0.08, depth >= $100, VPIN <= 0.6, move <= 0.05."""

    max_spread: float = 0.08
    min_depth_usd: float = 100.0
    max_vpin: float = 0.6
    max_price_move: float = 0.05


def pre_trade_check(facts: MarketFacts | None, side: str, signal_price: float,
                    t: PreTradeThresholds = PreTradeThresholds()) -> PreTradeCheck:
    """Fail closed: a market we cannot see, or a missing quote, blocks."""
    if facts is None:
        return PreTradeCheck(False, block_reason="Market data unavailable")
    spread = facts.spread(side)
    if spread is None:
        return PreTradeCheck(False, block_reason="No two-sided quote")
    depth, vpin = facts.depth_usd, facts.vpin_score
    reason = None
    if spread > t.max_spread:
        reason = f"Spread {spread:.2f} exceeds {t.max_spread:.2f}"
    elif depth is not None and depth < t.min_depth_usd:
        reason = f"Depth ${depth:.0f} below ${t.min_depth_usd:.0f}"
    elif vpin is not None and vpin > t.max_vpin:
        reason = f"VPIN {vpin:.2f} exceeds {t.max_vpin:.2f}"
    else:
        _, ask = facts.snapshot.quotes(Side(side))
        if ask is not None and abs(ask / 100 - signal_price) > t.max_price_move:
            reason = f"Price moved {abs(ask / 100 - signal_price):.2f} since signal"
    return PreTradeCheck(reason is None, spread, depth, vpin, reason)

