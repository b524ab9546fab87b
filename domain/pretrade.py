"""Pre-trade microstructure check (trading §1.4 step 1): spread, depth, VPIN and price move; then the size the
book can absorb (§5.4 market-impact sizing), decided here, before validation and risk (§1.7; ADR 0373)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from fractions import Fraction

from paulp.domain.exact import as_written
from paulp.domain.execution_orders import Side
from paulp.domain.execution_policy import ExecutionPolicy
from paulp.domain.execution_quality import classify_vpin
from paulp.domain.market_impact import MarketBook, apply_adjustment, assess_impact
from paulp.domain.order_values import PreTradeCheck
from paulp.domain.ports import MarketFacts
from paulp.domain.prices import prob_to_cents

log = logging.getLogger("paulp.orders.pretrade")

# §3.3 I9 reads a missing VPIN as 0, i.e. normal flow. Kept for the pre-trade check too, on purpose: a market
# with less than one $1000 bucket of trades has no toxic flow to measure (ADR 0373). Logged each time it applies.
UNKNOWN_VPIN = 0.0


@dataclass(frozen=True)
class PreTradeThresholds:
    """Defaults of the cross-venue spec: spread <= 0.08, depth >= $100, VPIN below 0.6 (§5.6: 0.6 is toxic),
    move <= 0.05; the first three, and §5.6's elevated band, are the strategy's execution policy (§1.4 step 1,
    §5.1; ADR 0433). The price move is the spec's reference constant (no policy field names it)."""

    max_spread: float = 0.08
    min_depth_usd: float = 100.0
    max_vpin: float = 0.6
    max_price_move: float = 0.05
    vpin_normal: float = 0.3
    elevated_edge_multiplier: float = 1.5

    @classmethod
    def of(cls, policy: ExecutionPolicy) -> PreTradeThresholds:
        return cls(max_spread=policy.max_spread_to_trade, min_depth_usd=policy.min_depth_to_trade,
                   max_vpin=policy.max_vpin_to_trade, vpin_normal=policy.vpin_normal_threshold,
                   elevated_edge_multiplier=policy.vpin_elevated_edge_multiplier)

    def edge_multiplier(self, vpin: float | None) -> float:
        """§5.6: how many times the edge a trade needs; 1 for normal or unknown flow, the policy's multiplier for
        elevated flow, infinite for toxic (which the check refuses before any sizing)."""
        judged = UNKNOWN_VPIN if vpin is None else vpin
        flow = classify_vpin(judged, self.vpin_normal, self.elevated_edge_multiplier, self.max_vpin)
        return math.inf if flow.pause else flow.edge_multiplier


def pre_trade_check(facts: MarketFacts | None, side: str, signal_price: float,
                    t: PreTradeThresholds = PreTradeThresholds()) -> PreTradeCheck:
    """Fail closed: a market we cannot see, a missing quote or an unread order book blocks. Depth is what a buy of
    ``side`` limited at the signal price could take (``BookLevels.depth``)."""
    if facts is None:
        return PreTradeCheck(False, block_reason="Market data unavailable")
    spread = facts.spread(side)
    if spread is None:
        return PreTradeCheck(False, block_reason="No two-sided quote")
    if facts.book is None:
        return PreTradeCheck(False, spread, block_reason="Order book unavailable")
    depth = float(facts.book.depth(side, prob_to_cents(signal_price)).usd)
    vpin = facts.vpin_score
    judged = UNKNOWN_VPIN if vpin is None else vpin
    if vpin is None:
        log.info("%s: VPIN unknown (less than one bucket traded); read as %s, normal flow (ADR 0373)",
                 facts.snapshot.ticker, UNKNOWN_VPIN)
    reason = None
    if spread > t.max_spread:
        reason = f"Spread {spread:.2f} exceeds {t.max_spread:.2f}"
    elif depth < t.min_depth_usd:
        reason = f"Depth ${depth:.2f} below ${t.min_depth_usd:.0f}"
    elif classify_vpin(judged, t.vpin_normal, t.elevated_edge_multiplier, t.max_vpin).pause:
        reason = f"VPIN {judged:.2f} is toxic (at or above {t.max_vpin:.2f})"
    else:
        _, ask = facts.snapshot.quotes(Side(side))
        if ask is not None and _moved_beyond(ask, signal_price, t.max_price_move):
            reason = f"Price moved {abs(ask / 100 - signal_price):.2f} since signal"
    return PreTradeCheck(reason is None, spread, depth, vpin, reason)


def _moved_beyond(ask_cents: int, signal_price: float, max_move: float) -> bool:
    """|ask - signal price| > max move on the figures as written, exactly (ADR 0460): an ask of 9 cents is
    exactly 0.05 from 0.14, which binary made 0.05000000000000002 and refused. Non-finite figures keep the float
    comparison they had."""
    if not (math.isfinite(signal_price) and math.isfinite(max_move)):
        return abs(ask_cents / 100 - signal_price) > max_move
    return abs(Fraction(ask_cents, 100) - as_written(signal_price)) > as_written(max_move)


def _exact_effective_edge(edge: float | None, edge_multiplier: float) -> float | Fraction:
    """edge x 100 / multiplier in exact rationals on the figures as written (ADR 0460): 0.29 x 100 is 29 cents, not
    binary's 28.999999999999996, which floored a safe size of 29 x 0.3 x 50 / 5 = 87 to 86. Non-finite figures are
    passed on as floats, for the assessment to refuse as before."""
    figures = (edge or 0.0, edge_multiplier)
    if not all(math.isfinite(v) for v in figures):
        return (edge or 0.0) * 100 / edge_multiplier
    edge_exact, multiplier = (as_written(v) for v in figures)
    return edge_exact * 100 / multiplier


def size_for_impact(check: PreTradeCheck, facts: MarketFacts, side: str, requested_size: int, limit_cents: int,
                    edge: float | None, min_order_usd: float, edge_multiplier: float = 1.0) -> PreTradeCheck:
    """§5.4 on a passed check: the order shrinks to what the side's book absorbs within 30 % of the edge
    (``adjusted_size``, applied by the risk step); shrunk below the minimum order it is refused here, before the
    governor, so a thin book never counts toward the breaker. Edge is the signal's, in probability (none: 0,
    as §1.7 sends it). Depth is the book's contracts within reach of the limit; no book: §5.4's volume estimate."""
    if not check.passed:
        return check
    snap = facts.snapshot
    book = MarketBook(snap.yes_bid, snap.yes_ask, snap.no_bid, snap.no_ask, float(snap.volume_24h or 0.0))
    depth = float(facts.book.depth(side, limit_cents).contracts) if facts.book is not None else None
    edge_cents = (edge or 0.0) * 100
    effective = edge_cents / edge_multiplier  # elevated flow (§5.6): the edge buys 1/multiplier the size
    a = assess_impact(requested_size, _exact_effective_edge(edge, edge_multiplier), side, book, depth)
    size = apply_adjustment(requested_size, a)
    impact = {"requestedSize": requested_size, "adjustedSize": size, "wasSized": a.was_sized,
              "maxSafeSize": a.max_safe_size, "depthContracts": a.depth_at_submission,
              "depthMeasured": depth is not None, "edgeCents": edge_cents, "edgeMultiplier": edge_multiplier,
              "effectiveEdgeCents": effective,
              "estimatedImpactCents": a.estimated_impact_cents, "ratioToEdge": a.ratio_to_edge}
    if size >= requested_size:
        return replace(check, market_impact=impact)
    usd = size * limit_cents / 100
    if usd < min_order_usd:
        reason = (f"Market impact: the book absorbs {size} of {requested_size} contracts (${usd:.2f}),"
                  f" below the ${min_order_usd:g} minimum order")
        return replace(check, passed=False, block_reason=reason, market_impact=impact)
    return replace(check, adjusted_size=size, market_impact=impact)
