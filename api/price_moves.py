"""Price-move cancel of resting orders (trading §1.4 step 7, §1.5 ``cancel_on_price_move``; ADR 0382), one step
of the order-timers job.

Each run reads the market of every SUBMITTED / ORDER_ACKNOWLEDGED order once from Kalshi (public data; the
client keeps the body as evidence before parsing it), once the compliance gate allows Kalshi market data, and
at most ``MAX_MARKETS`` markets a run (oldest orders first). An order whose side's ask stands more than the
threshold from its limit is cancelled: in the log at once when it is not at a venue (paper), else through the
per-order cancel path (request recorded once, Kalshi's cancel, PRICE_MOVE_CANCEL on Kalshi's confirmation). An
order whose submission is in doubt is first looked up by client order id (ADR 0100/0280): never a second order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from paulp.api.cancel_job import at_venue, cancel_order, resolve_doubt
from paulp.api.compliance_gate import BLOCKED, admit
from paulp.api.venue_session import venue_failure
from paulp.domain.execution_orders import Side
from paulp.domain.order_timers import PriceMove, cancel_for_price_move, price_move_due
from paulp.domain.order_values import LifecyclePolicy
from paulp.domain.orders import PRICE_MOVE_CANCELLABLE, PRICE_MOVE_REASON, Order

log = logging.getLogger("paulp.orders.price_moves")
MAX_MARKETS = 50  # reads a run may make; LIVE policy (5 orders/min) x the 300 s stale timer rests at most 25
PRICE_MOVE_OUTCOMES = ("price_move_cancelled", "price_move_cancelled_at_venue")


def watched(order: Order) -> bool:
    """An order the price-move rule can concern: resting unfilled with no cancel pending."""
    return order.state in PRICE_MOVE_CANCELLABLE and order.cancel_requested_at is None


@dataclass
class MarketAsks:
    """This run's market reads: ticker -> (YES ask, NO ask, evidence hash), and why the others have none."""

    quotes: dict[str, tuple[int | None, int | None, str | None]] = field(default_factory=dict)
    unread: dict[str, str] = field(default_factory=dict)

    def due(self, order: Order, policy: LifecyclePolicy) -> tuple[PriceMove, str | None] | None:
        """The move to cancel ``order`` for, with the evidence it was read from; None when not due or unread."""
        if order.ticker not in self.quotes:
            return None
        yes_ask, no_ask, evidence = self.quotes[order.ticker]
        move = price_move_due(order, yes_ask if order.side == Side.YES else no_ask, policy)
        return None if move is None else (move, evidence)

    def report(self) -> dict[str, Any]:
        return {"marketsRead": len(self.quotes), "marketsUnread": dict(self.unread)}


def read_asks(container: Any, port: Any, orders: list[Order]) -> MarketAsks:
    """Read the market of each watched order (distinct tickers, oldest orders first, at most ``MAX_MARKETS``)."""
    asks = MarketAsks()
    tickers = list(dict.fromkeys(o.ticker for o in orders if watched(o)))
    if not tickers:
        return asks
    if port is None:
        asks.unread = dict.fromkeys(tickers, "venue_unavailable")
        return asks
    if not admit(container, "kalshi", "fetch_markets", "order-timers").allowed:  # audited by the gate
        asks.unread = dict.fromkeys(tickers, BLOCKED)
        return asks
    for ticker in tickers[MAX_MARKETS:]:
        asks.unread[ticker] = "deferred: read limit of this run"
    for ticker in tickers[:MAX_MARKETS]:
        try:
            answer = port.market(ticker)
        except Exception as exc:  # one market's failure does not stop the others; its orders wait
            asks.unread[ticker] = venue_failure(exc, "market read").code
            continue
        snap = answer.value
        evidence = answer.evidence_hashes[0] if answer.evidence_hashes else None
        asks.quotes[ticker] = (snap.yes_ask, snap.no_ask, evidence)
    return asks


def cancel_on_move(container: Any, order: Order, move: PriceMove, evidence: str | None, policy: LifecyclePolicy,
                   port: Any, no_venue: str) -> str:
    """Cancel ``order`` for ``move``: ``price_move_cancelled`` (in the log, not at a venue),
    ``price_move_cancelled_at_venue`` (Kalshi confirmed), else what was left and why (retried next tick)."""
    if at_venue(order) and port is None:
        return f"left: may rest at Kalshi, which cannot be asked ({no_venue})"
    if order.submission_in_doubt and order.broker_order_id is None:
        resolved = resolve_doubt(container, order, port)  # §1.8: by client order id, before anything else
        if isinstance(resolved, str):
            return resolved
        order = resolved
        again = price_move_due(order, move.market_price, policy)
        if again is None:  # e.g. it filled in part at the venue: no longer a price-move cancel
            return f"resolved: {order.state.value}"
        move = again
    now = container.clock.now()
    log.info("order %s: %s moved %s points from its limit %s (threshold %s)", order.order_id, order.ticker,
             move.move_pct, move.reference_price, move.threshold)
    if evidence is not None:
        order.attach_evidence(evidence)
    if cancel_for_price_move(order, move, now, evidence):
        container.orders.save(order)
        return "price_move_cancelled"
    container.orders.save(order)  # the request is recorded before the venue is asked
    return cancel_order(container, order, order.cancel_reason or PRICE_MOVE_REASON, port)
