"""Applies relayed venue events from ``webhook_inbox`` (api-and-security §1.6; ADR 0261).

The route stores and de-duplicates; this consumer, run on every scheduler tick, applies what arrived in
order of receipt. Rows are claimed with ``FOR UPDATE SKIP LOCKED``, so several processes can run it; a
crash between applying an event and marking its row is harmless, because applying it again is a no-op
(cumulative fill counts, merge-only venue records).

- ``order_update``: the venue record of our order takes the status, fill count and fill price (as the
  reference's executor does), and a LIVE order at the venue takes the new part of its fill, or its
  cancellation or expiry. Paper orders never were at the venue and are not touched.
- ``fill``: kept as received (evidence and inbox row) for reconciliation; positions are not changed (§1.6).
- ``market_update``: kept; marks come from the venue's quotes (ADR 0166), not from a relayed price.
"""

from __future__ import annotations

import logging
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from paulp.domain.venue_orders import VenueOrder
from paulp.domain.venue_updates import OrderUpdate, apply_order_update

log = logging.getLogger("paulp.webhooks.inbox")
BATCH = 200
VENUE = "kalshi"
PENDING = ("SELECT dedupe_key, event_type, payload FROM webhook_inbox WHERE processed_at IS NULL"
           " ORDER BY received_at, dedupe_key LIMIT %s FOR UPDATE SKIP LOCKED")


def process_inbox(container: Any, limit: int = BATCH) -> dict[str, int]:
    """Apply up to ``limit`` pending events; counts per outcome."""
    counts: dict[str, int] = {}
    with container.pool.connection() as conn, conn.transaction():
        for key, event_type, body in conn.execute(PENDING, (limit,)).fetchall():
            payload = body.get("payload") if isinstance(body, dict) else None
            try:
                outcome = _apply(container, event_type, payload if isinstance(payload, dict) else {})
            except Exception:
                log.exception("inbox event %s (%s) could not be applied; it stays pending", key, event_type)
                counts["pending"] = counts.get("pending", 0) + 1
                continue
            conn.execute("UPDATE webhook_inbox SET processed_at = now(), outcome = %s WHERE dedupe_key = %s",
                         (outcome, key))
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def _apply(container: Any, event_type: str, payload: dict[str, Any]) -> str:
    if event_type == "order_update":
        update = OrderUpdate.parse(payload)
        outcome: str = container.orders.retry_on_conflict(lambda: _order_update(container, update))
        return outcome
    if event_type == "fill":
        return "recorded"
    return "kept"


def _order_update(container: Any, update: OrderUpdate) -> str:
    orders = container.orders
    try:
        record: VenueOrder = orders.repository.get(VenueOrder.id_for(VENUE, update.order_id))
    except AggregateNotFoundError:
        return "unknown_order"
    now = container.clock.now()
    known = record.record.get("fill_count")
    if update.filled_count is not None and isinstance(known, int) and update.filled_count < known:
        return "unchanged"  # older than what we hold: the record does not go back
    changes: dict[str, Any] = {"status": update.status}
    if update.filled_count is not None:
        changes["fill_count"] = update.filled_count
        if update.filled_price is not None:
            changes["fill_price"] = update.filled_price
    record.update(changes, now)
    order = orders.find(update.order_id)
    outcome = "recorded"
    if order is not None and str(record.record.get("execution_mode", "")).upper() == "LIVE":
        outcome = apply_order_update(order, update, now)
        if outcome.startswith("refused:"):
            log.warning("order_update for %s refused: %s", update.order_id, outcome)
            orders.save(record)
            return outcome
        orders.save(order, record)
        return outcome
    orders.save(record)
    return outcome
