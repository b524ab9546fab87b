"""Applies relayed venue events from ``webhook_inbox`` (api-and-security §1.6; ADR 0261).

The route stores and de-duplicates; this consumer, run on every scheduler tick, applies what arrived in
order of receipt. Rows are claimed with ``FOR UPDATE SKIP LOCKED``, so several processes can run it; a
crash between applying an event and marking its row is harmless, because applying it again is a no-op
(cumulative fill counts, merge-only venue records).

- ``order_update``: matched to our order by the client order id it carries, else by Kalshi's order id (the
  venue record's ``order_id`` since ADR 0294, looked up in ``views.kalshi_orders``), else by our id in
  ``orderId`` (relays and records from before; ADR 0318). The venue record of that order takes the status, fill
  count and fill price (as the reference's executor does), and a LIVE order at the venue takes the new part of
  its fill, with the fee Kalshi's order shows when asked (ADR 0443), or its cancellation or expiry. Paper orders
  never were at the venue and are not touched. An update that matches nothing (``unknown_order``), or whose two
  ids name different orders (``mismatch``), changes nothing: it stays in the inbox with its evidence and outcome,
  and is logged. One that only the view could match, while the view is behind the log, waits for the next tick.
- ``fill``: kept as received (evidence and inbox row) for reconciliation; positions are not changed (§1.6).
- ``market_update``: kept; marks come from the venue's quotes (ADR 0166), not from a relayed price.
"""

from __future__ import annotations

import logging
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from paulp.adapters.kalshi.market_fields import FractionalContracts
from paulp.adapters.kalshi.relayed_events import RelayedFieldInvalid, read_order_update
from paulp.api.webhook_fees import VenueOrderLookup
from paulp.domain.reconciliation import json_number
from paulp.domain.services.venue_answers import alert_impossible_answer
from paulp.domain.venue_orders import VenueOrder
from paulp.domain.venue_updates import (
    OrderUpdate,
    adds_fill,
    answer_covers,
    apply_order_update,
    impossible_sell_update,
    impossible_update,
    status_goes_back,
)

log = logging.getLogger("paulp.webhooks.inbox")
BATCH = 200
VENUE = "kalshi"
PENDING = ("SELECT dedupe_key, event_type, payload, evidence_hash FROM webhook_inbox WHERE processed_at IS NULL"
           " ORDER BY received_at, dedupe_key LIMIT %s FOR UPDATE SKIP LOCKED")
BY_KALSHI_ID = "SELECT order_id FROM views.kalshi_orders WHERE record->>'order_id' = %s ORDER BY order_id LIMIT 2"
LOG_HEAD = "SELECT coalesce(max(notification_id), 0) FROM paulp_events"
VIEW_AT = "SELECT last_notification_id FROM projection_tracking WHERE name = 'venue_orders'"
# A fee lookup waits inside the batch's transaction, ahead of every later update: bounded short, since a fee it
# misses stays unknown only until the next reconcile run settles it from Kalshi (ADR 0448).
INBOX_LOOKUP_TIMEOUT_S = 5.0


class NotYetVisible(Exception):
    """Raised when an update names a Kalshi order id the venue-orders view may not show yet (it lags the log)."""


def process_inbox(container: Any, limit: int = BATCH) -> dict[str, int]:
    """Apply up to ``limit`` pending events; counts per outcome (``pending``: left for the next tick). A LIVE fill's
    fee is asked of Kalshi in the same pass (one session for the batch, opened only if a fill needs it; ADR 0443)."""
    counts: dict[str, int] = {}
    with VenueOrderLookup(container.settings, INBOX_LOOKUP_TIMEOUT_S) as fees, container.pool.connection() as conn, \
            conn.transaction():
        row = conn.execute(LOG_HEAD).fetchone()
        head = int(row[0]) if row else 0  # the log before this batch: its own record updates name no new order
        for key, event_type, body, evidence in conn.execute(PENDING, (limit,)).fetchall():
            payload = body.get("payload") if isinstance(body, dict) else None
            try:
                outcome = _apply(container, event_type, payload if isinstance(payload, dict) else {}, head,
                                 evidence, fees)
            except NotYetVisible:
                counts["pending"] = counts.get("pending", 0) + 1
                continue
            except Exception:
                log.exception("inbox event %s (%s) could not be applied; it stays pending", key, event_type)
                counts["pending"] = counts.get("pending", 0) + 1
                continue
            conn.execute("UPDATE webhook_inbox SET processed_at = now(), outcome = %s WHERE dedupe_key = %s",
                         (outcome, key))
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def _apply(container: Any, event_type: str, payload: dict[str, Any], head: int, evidence: str,
           fees: VenueOrderLookup) -> str:
    if event_type == "order_update":
        try:
            update = read_order_update(payload)
        except (FractionalContracts, RelayedFieldInvalid) as exc:  # a fraction: ours are whole (ADR 0331, 0332)
            log.warning("order_update not applied (%s): orderId=%s %s; evidence %s kept in the inbox",
                        exc.code, payload.get("orderId"), exc, evidence)
            return f"refused:{exc.code}"
        outcome: str = container.orders.retry_on_conflict(
            lambda: _order_update(container, update, head, fees, evidence))
        return outcome
    if event_type == "fill":
        return "recorded"
    return "kept"


def _record(container: Any, client_order_id: str) -> VenueOrder | None:
    try:
        record: VenueOrder = container.orders.repository.get(VenueOrder.id_for(VENUE, client_order_id))
    except AggregateNotFoundError:
        return None
    return record


def _by_kalshi_id(container: Any, kalshi_order_id: str, head: int) -> list[str]:
    """Our client order ids whose Kalshi record carries ``kalshi_order_id``; with none, the view must have
    caught up with the log as it stood at ``head`` for that to be an answer (else ``NotYetVisible``)."""
    with container.pool.connection() as conn:
        ids = [r[0] for r in conn.execute(BY_KALSHI_ID, (kalshi_order_id,)).fetchall()]
        if ids:
            return ids
        row = conn.execute(VIEW_AT).fetchone()
    if row is None or row[0] is None or int(row[0]) < head:
        raise NotYetVisible(kalshi_order_id)
    return []


def match(container: Any, update: OrderUpdate, head: int) -> tuple[VenueOrder | None, str]:
    """The venue record the update is about, or None and why (``unknown_order`` | ``mismatch``): by our client
    order id first (``clientOrderId``; without one, ``orderId`` if it is ours), then by Kalshi's order id. A record
    whose Kalshi id differs from the update's ``orderId`` is never the match for a client order id, nor one
    Kalshi's id finds under another client order id: the update names two orders."""
    if update.client_order_id:
        record = _record(container, update.client_order_id)
        if record is not None:
            kalshi = record.record.get("order_id")
            if kalshi in (None, update.order_id, record.order_id):  # unnamed yet, the same, or ours (pre-0294)
                return record, ""
            return None, "mismatch"
    elif (record := _record(container, update.order_id)) is not None:
        return record, ""  # a relay naming our order by our id ("order-…", never a Kalshi uuid)
    found = _by_kalshi_id(container, update.order_id, head)
    if len(found) == 1:
        if update.client_order_id and found[0] != update.client_order_id:
            return None, "mismatch"
        return _record(container, found[0]), ""
    return (None, "mismatch") if found else (None, "unknown_order")


def _order_update(container: Any, update: OrderUpdate, head: int, fees: VenueOrderLookup,
                  evidence: str | None = None) -> str:
    orders = container.orders
    record, unmatched = match(container, update, head)
    if record is None:
        log.warning("order_update not applied (%s): orderId=%s clientOrderId=%s status=%s; kept in the inbox",
                    unmatched, update.order_id, update.client_order_id, update.status)
        return unmatched
    now = container.clock.now()
    known = record.record.get("fill_count")
    if update.filled_count is not None and isinstance(known, int) and update.filled_count < known:
        return "unchanged"  # older than what we hold: the record does not go back
    if status_goes_back(record.record.get("status"), update.status):
        return "unchanged"  # e.g. "resting" after "executed": older than what we hold (ADR 0519)
    order = orders.find(record.order_id)  # the record is keyed by our client order id
    live = order is not None and str(record.record.get("execution_mode", "")).upper() == "LIVE"
    # the update carries no fee: Kalshi's order does, asked once the update is known to add a fill (ADR 0443)
    impossible = impossible_sell_update(record.record, update)
    if impossible is None and live and order is not None:
        impossible = impossible_update(order, update)
    if impossible is not None:  # nothing of it recorded, on the order or its venue record (ADRs 0519, 0520)
        limit = record.record.get("limit_price")
        detail = (f"Kalshi's relayed update of {record.record.get('action', 'buy')} {record.order_id} cannot be"
                  f" true of it: {impossible}, filled at {update.filled_price} cents against a limit of {limit}"
                  f" (evidence {evidence})")
        log.warning("%s; nothing recorded", detail)
        alert_impossible_answer(container.breaker, detail)
        return impossible
    fills = live and order is not None and adds_fill(order, update)
    venue = fees.order(record) if fills else None
    changes: dict[str, Any] = {"status": update.status}
    if update.filled_count is not None:
        changes["fill_count"] = update.filled_count
        if update.filled_price is not None:
            changes["fill_price"] = update.filled_price
    if fills:  # the order's fees so far, as a poll records them; null, not a figure that leaves the fill out
        so_far = venue.fees_cents if venue is not None and answer_covers(update, venue) else None
        if so_far is not None or "fees_cents" in record.record:
            changes["fees_cents"] = None if so_far is None else json_number(so_far)
    record.update(changes, now)
    outcome = "recorded"
    if live and order is not None:
        outcome = apply_order_update(order, update, now, venue)
        if outcome.startswith("refused:"):
            log.warning("order_update for %s refused: %s", record.order_id, outcome)
            orders.save(record)
            return outcome
        orders.save(order, record)
        return outcome
    orders.save(record)
    return outcome
