"""The reconcile run's fee step (ADR 0448): LIVE orders whose fills left a fee unknown (a webhook fill whose lookup
failed or whose Kalshi copy was behind, a Kalshi answer without a fee field) read again from Kalshi, and settled
with ``OrderRecord.FeesCorrected`` when Kalshi has filled exactly what we hold.

Candidates come from the views (LIVE by the Kalshi venue record, as the run's internal side; a fill with no fee in
``views.order_fills`` within the last ``WINDOW``, newest first, at most ``MAX_ORDERS`` a run); each decision is the
order's own, loaded from its events, so a view behind the log never makes a correction twice. One Kalshi session
serves the step, opened at its first lookup; after a failed lookup the step asks no more (the rest wait for the next
run). Nothing here fails the run: what it did and why an order was left unknown go into the run's result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from paulp.api.webhook_fees import VenueOrderLookup
from paulp.domain.fees import FeeCorrection, cents_to_usd
from paulp.domain.services.venue_answers import correct_unknown_fees
from paulp.domain.venue_orders import VenueOrder

log = logging.getLogger("paulp.reconcile.fees")
VENUE = "kalshi"
WINDOW = timedelta(days=7)  # the rolling week the I7 loss figure reads (ADR 0442): the fees that still count
MAX_ORDERS = 25  # Kalshi reads a run may make for fees (one GET /portfolio/orders/{id} each)
CANDIDATES = (
    "SELECT o.order_id FROM views.order_fills f JOIN views.orders o ON o.order_uuid = f.order_uuid"
    " JOIN views.kalshi_orders k ON k.order_id = o.order_id"
    " WHERE f.fee_cents IS NULL AND k.execution_mode = 'LIVE' AND f.filled_at >= %s"
    " GROUP BY o.order_id ORDER BY max(f.filled_at) DESC, o.order_id LIMIT %s"
)


@dataclass
class FeeStep:
    """What the step did: settled orders with the fee added, and the orders left unknown with why."""

    corrected: list[dict[str, Any]] = field(default_factory=list)
    unknown: list[dict[str, Any]] = field(default_factory=list)

    def note(self, order_id: str, reason: str, detail: str) -> None:
        self.unknown.append({"orderId": order_id, "reason": reason, "detail": detail})

    def as_result(self) -> dict[str, Any]:
        return {"checked": len(self.corrected) + len(self.unknown), "corrected": self.corrected,
                "leftUnknown": self.unknown}


def fee_candidates(container: Any) -> list[str]:
    """LIVE orders with a fill of unknown fee inside the window, the most recent fills first."""
    since = container.clock.now() - WINDOW
    with container.pool.connection() as conn:
        return [r[0] for r in conn.execute(CANDIDATES, (since, MAX_ORDERS)).fetchall()]


def correct_fees(container: Any, run_id: str) -> dict[str, Any] | None:
    """The step for one run: None when no order needed it (the run's result then reads as it did before)."""
    try:
        candidates = fee_candidates(container)
    except Exception:
        log.exception("reconcile %s: fee candidates could not be read; the next run tries again", run_id)
        return None
    if not candidates:
        return None
    step = FeeStep()
    with VenueOrderLookup(container.settings, purpose="correct unknown LIVE fees") as lookup:
        for order_id in candidates:
            try:
                _correct_one(container, order_id, lookup, run_id, step)
            except Exception as exc:  # one order's trouble never stops the run or the other orders
                log.exception("reconcile %s: fee correction of %s failed", run_id, order_id)
                step.note(order_id, "error", type(exc).__name__)
    if not (step.corrected or step.unknown):  # every candidate was settled already (the views behind the log)
        return None
    log.info("reconcile %s: fees corrected on %d orders, %d left unknown", run_id, len(step.corrected),
             len(step.unknown))
    return step.as_result()


def _correct_one(container: Any, order_id: str, lookup: VenueOrderLookup, run_id: str, step: FeeStep) -> None:
    orders = container.orders
    order = orders.find(order_id)
    record = _record(container, order_id)
    if order is None or record is None:
        step.note(order_id, "not_found", "no order or Kalshi venue record in the log")
        return
    if order.fee_unknown_fills == 0:  # settled since the view was read (a run before this one): nothing to ask
        return
    answer = lookup.order(record)
    if answer is None:
        why = lookup.failure or "Kalshi does not list the order"
        step.note(order_id, "lookup_failed", why)
        return
    now = container.clock.now()
    unknown, known = order.fee_unknown_fills, order.fees_cents
    outcome = correct_unknown_fees(order, record, answer, now, run_id)
    if outcome is not FeeCorrection.CORRECTED:
        step.note(order_id, str(outcome), _why(outcome, order.filled_size, answer.fill_count))
        return
    try:
        orders.save(order, record)
    except IntegrityError:  # another writer (a webhook fill) changed the order: the next run decides again
        step.note(order_id, "changed_concurrently", "the order changed while Kalshi was read; next run")
        return
    step.corrected.append({"orderId": order_id, "feeUsd": cents_to_usd(order.fees_cents - known),
                           "fills": unknown, "kalshiFeesUsd": cents_to_usd(answer.fees_cents or 0),
                           "evidenceHash": answer.evidence_hash})


def _why(outcome: FeeCorrection | str, ours: int, kalshi: int) -> str:
    if outcome is FeeCorrection.COUNT_DIFFERS:
        return f"Kalshi has filled {kalshi} contracts, we hold {ours}: its fee may not cover the same fills"
    if outcome is FeeCorrection.NO_FEE_REPORTED:
        return "Kalshi's answer carries no fee field"
    if outcome == "not_live":
        return "the venue record is not LIVE"
    if outcome == "no_evidence":
        return "Kalshi's answer has no stored body"
    return str(outcome)


def _record(container: Any, order_id: str) -> VenueOrder | None:
    try:
        record: VenueOrder = container.orders.repository.get(VenueOrder.id_for(VENUE, order_id))
    except AggregateNotFoundError:
        return None
    return record
