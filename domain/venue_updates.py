"""Venue order updates relayed by webhook (api-and-security §1.6 ``order_update``; ADR 0261).

A relayed update names the order as Kalshi does — ``orderId`` is Kalshi's order id and ``clientOrderId``
(Kalshi's ``client_order_id``; optional) ours (ADR 0318) — with the venue's status and, optionally, the
*cumulative* filled count and its price. Only the part of the count beyond what the order already holds is
a new fill, so a duplicate, a replay or an update that arrives after the submission's own answer changes
nothing. The payload's numbers (integers, or Kalshi's fixed-point strings) are read at the edge
(``adapters/kalshi/relayed_events``, ADR 0332): the domain sees whole contracts and a price in cents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from paulp.domain.errors import DomainError
from paulp.domain.order_states import WORKING_STATES
from paulp.domain.orders import Order

CANCELLED = frozenset({"canceled", "cancelled"})


CLIENT_ORDER_ID_KEYS = ("clientOrderId", "client_order_id")  # the relay's spelling, then Kalshi's


def client_order_id(payload: dict[str, Any]) -> str | None:
    """Our order id as the update carries it, if it does."""
    for key in CLIENT_ORDER_ID_KEYS:
        value = payload.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


@dataclass(frozen=True)
class OrderUpdate:
    order_id: str  # as the relay names the order: Kalshi's order id (ours from relays and records before 0294)
    status: str  # lower-cased venue status
    filled_count: int | None
    filled_price: float | None
    client_order_id: str | None = None  # ours, when the update carries it


def apply_order_update(order: Order, update: OrderUpdate, now: datetime) -> str:
    """What the update did to the order: ``filled``, ``cancelled``, ``expired``, ``unchanged``, or
    ``refused:<code>`` when the order's state does not allow it (the order is left as it was)."""
    outcome = "unchanged"
    try:
        if update.filled_count is not None and update.filled_count > order.filled_size:
            if update.filled_price is None or not 0 < update.filled_price < 100:
                return "refused:fill_without_price"
            order.record_fill(update.filled_count - order.filled_size, update.filled_price, now)
            outcome = "filled"
        if order.state in WORKING_STATES:
            if update.status in CANCELLED:
                order.record_venue_cancelled(now)
                outcome = "cancelled"
            elif update.status == "expired":
                order.record_venue_expired(now)
                outcome = "expired"
    except DomainError as exc:
        return f"refused:{exc.code}"
    return outcome
