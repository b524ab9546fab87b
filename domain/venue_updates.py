"""Venue order updates relayed by webhook (api-and-security §1.6 ``order_update``; ADR 0261).

A relayed update names the order as Kalshi does — ``orderId`` is Kalshi's order id and ``clientOrderId``
(Kalshi's ``client_order_id``; optional) ours (ADR 0318) — with the venue's status and, optionally, the
*cumulative* filled count and its price. Only the part of the count beyond what the order already holds is
a new fill, so a duplicate, a replay or an update that arrives after the submission's own answer changes
nothing. The payload's numbers (integers, or Kalshi's fixed-point strings) are read at the edge
(``adapters/kalshi/relayed_events``, ADR 0332): the domain sees whole contracts and a price in cents. An update
carries no fee: the fill's fee comes from Kalshi's order, asked by the inbox consumer (ADR 0443).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from paulp.domain.errors import DomainError
from paulp.domain.fees import fee_increment
from paulp.domain.order_states import WORKING_STATES
from paulp.domain.orders import Order
from paulp.domain.ports import VenueSubmission

CANCELLED = frozenset({"canceled", "cancelled"})
FINAL = CANCELLED | {"executed", "filled", "expired"}  # Kalshi's order is done: its status never leaves these


def status_goes_back(held: object, update_status: str) -> bool:
    """Whether the update's status is a working one for an order whose record already holds a final status
    (executed -> resting): an older update arriving late, never a change (ADR 0519)."""
    return str(held or "").lower() in FINAL and update_status not in FINAL


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


def _priced(update: OrderUpdate) -> bool:
    return update.filled_price is not None and 0 < update.filled_price < 100


def adds_fill(order: Order, update: OrderUpdate) -> bool:
    """Whether applying the update records a fill on the order: a cumulative count beyond what it holds, at a
    price (the case whose fee the update does not carry, ADR 0443)."""
    return update.filled_count is not None and update.filled_count > order.filled_size and _priced(update)


def answer_covers(update: OrderUpdate, venue: VenueSubmission | None) -> bool:
    """Whether Kalshi's answer has filled at least the contracts the update says, so its fees include theirs."""
    return venue is not None and update.filled_count is not None and venue.fill_count >= update.filled_count


def fill_fee(order: Order, update: OrderUpdate, venue: VenueSubmission | None) -> Decimal | None:
    """The fee of the fill the update adds, from Kalshi's answer about the order asked after it arrived (ADR 0443):
    the part of the order's cumulative fees not yet recorded, as the polling path takes it (ADR 0437). None (not
    known, never 0) without an answer, without fees in it, or when the answer has filled fewer contracts than the
    update says: its fees may not include this fill yet. An answer that has filled more gives this fill the later
    fills' fees too; they then record the rest, so the order's total is Kalshi's either way."""
    if venue is None or not answer_covers(update, venue):
        return None
    return fee_increment(venue.fees_cents, order.fees_cents)


def impossible_update(order: Order, update: OrderUpdate) -> str | None:
    """``refused:fill_outside_limit`` when the update adds a fill priced above the order's limit: our orders only
    buy, and a buy limited at L never fills above L (ADR 0519); the update is then neither booked nor recorded."""
    if adds_fill(order, update) and update.filled_price is not None and update.filled_price > order.max_price:
        return "refused:fill_outside_limit"
    return None


def impossible_sell_update(record: dict[str, Any], update: OrderUpdate) -> str | None:
    """``refused:fill_outside_limit`` when the update has an exit's sell (a venue record with action ``sell``)
    filled at a price below the limit it was sent with: a sell limited at L never fills below L (ADR 0520). The
    record then takes nothing of it (an exit's sell has no order for the update to fill: only its record)."""
    limit = record.get("limit_price")
    if str(record.get("action", "")).lower() != "sell" or not isinstance(limit, int):
        return None
    if update.filled_count and update.filled_price is not None and update.filled_price < limit:
        return "refused:fill_outside_limit"
    return None


def apply_order_update(order: Order, update: OrderUpdate, now: datetime,
                       venue: VenueSubmission | None = None) -> str:
    """What the update did to the order: ``filled``, ``cancelled``, ``expired``, ``unchanged``, or
    ``refused:<code>`` when the order's state does not allow it (the order is left as it was). ``venue``: Kalshi's
    answer about the order, looked up for the fee an update does not carry (``fill_fee``)."""
    outcome = "unchanged"
    if (impossible := impossible_update(order, update)) is not None:
        return impossible
    try:
        if update.filled_count is not None and update.filled_count > order.filled_size:
            price = update.filled_price
            if price is None or not _priced(update):
                return "refused:fill_without_price"
            order.record_fill(update.filled_count - order.filled_size, price, now,
                              fee_cents=fill_fee(order, update, venue))
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
