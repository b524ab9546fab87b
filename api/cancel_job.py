"""Cancel every outstanding order (the runbook's rollback step 3, "Cancel outstanding orders"; ADR 0263).

Orders not yet at a venue are cancelled in the log at once, so no later ``execute`` sends them. Orders
working at Kalshi get a cancel request recorded first, then the venue's cancel; its answer decides: the
contracts filled by then are recorded as fills, and a confirmed cancel closes the order. An order whose
submission is in doubt is first looked up at Kalshi by its client order id (ADR 0280, amending 0263):
found, it is cancelled like any working order; absent, it never reached the venue and goes to ERROR; a
failed lookup leaves it in doubt and named. Running it again only retries what is left.
"""

from __future__ import annotations

import logging
from typing import Any

from eventsourcing.persistence import IntegrityError

from paulp.api.venue_session import credentialed_port_if
from paulp.domain.order_states import CANCELLABLE_STATES, OPEN_STATES, WORKING_STATES
from paulp.domain.order_values import ImpossibleVenueAnswer
from paulp.domain.orders import Order
from paulp.domain.ports import VenuePort
from paulp.domain.services.base import WriteConflict
from paulp.domain.services.venue_answers import alert_impossible_answer, apply_venue_answer, settle_lost_submission

log = logging.getLogger("paulp.orders.cancel")
OUTSTANDING = ("SELECT order_id FROM views.orders WHERE state = ANY(%s) ORDER BY created_at, order_id")


def outstanding_orders(container: Any) -> list[Order]:
    """Every order still open, read from its events (the view only says which ones to look at)."""
    with container.pool.connection() as conn:
        ids = [r[0] for r in conn.execute(OUTSTANDING, ([s.value for s in OPEN_STATES],)).fetchall()]
    orders = [container.orders.find(i) for i in ids]
    return [o for o in orders if o is not None and o.state in OPEN_STATES]


def at_venue(order: Order) -> bool:
    """Working at Kalshi, or perhaps (in doubt): either needs the venue."""
    return order.state in WORKING_STATES and (order.broker_order_id is not None or order.submission_in_doubt)


def cancel_outstanding(container: Any, reason: str) -> dict[str, Any]:
    orders = outstanding_orders(container)
    report: dict[str, Any] = {"outstanding": len(orders), "results": []}
    with credentialed_port_if(any(at_venue(o) for o in orders), container.settings,
                              "orders working at Kalshi cannot be cancelled") as port:
        for order in orders:
            outcome = _cancel_fresh(container, order, reason, port)
            report["results"].append({"orderId": order.order_id, "strategy": order.strategy,
                                      "ticker": order.ticker, "outcome": outcome})
    report["failed"] = sum(1 for r in report["results"] if r["outcome"].startswith(("failed", "in_doubt")))
    return report


def resolve_doubt(container: Any, order: Order, port: VenuePort | None) -> Order | str:
    """Ask Kalshi by client order id what became of a lost submission (a read) and record it (ADR 0280):
    found -> acknowledged with its fills, or closed if the venue cancelled it; absent -> ERROR (never sent).
    Returns the order to go on cancelling, or the outcome when there is nothing left to cancel."""
    if port is None:
        return "in_doubt: resolve the submission first (it may be at the venue)"
    try:
        found = port.find_by_client_order_id(order.order_id)
    except Exception as exc:
        log.exception("in-doubt lookup of order %s failed", order.order_id)
        return f"in_doubt: venue lookup failed ({type(exc).__name__})"
    try:
        container.orders.save(order, settle_lost_submission(container.orders, order, found, container.clock.now()))
    except ImpossibleVenueAnswer as exc:  # nothing saved: the order stays in doubt; the operator is told (ADR 0520)
        alert_impossible_answer(container.breaker, str(exc))
        return "in_doubt: Kalshi's answer cannot be true of the order (ImpossibleVenueAnswer)"
    if found is None:
        return "not_at_venue: the lost submission never reached Kalshi (ERROR)"
    return order if order.state in WORKING_STATES else f"resolved: {order.state.value}"


def _cancel_fresh(container: Any, order: Order, reason: str, port: VenuePort | None) -> str:
    """``_cancel_one``, decided again on the order as it is now when another writer (a fill from the webhook inbox,
    the order timers) saved it between this run's read and its save (ADR 0512)."""
    loaded = [order]

    def attempt() -> str:
        current = loaded.pop() if loaded else container.orders.find(order.order_id)
        return _cancel_one(container, current or order, reason, port)

    try:
        out: str = container.orders.retry_on_conflict(attempt)
    except WriteConflict:
        return "failed: changed by other writers on every attempt; run the command again"
    return out


def _cancel_one(container: Any, order: Order, reason: str, port: VenuePort | None) -> str:
    if order.submission_in_doubt and order.broker_order_id is None:
        resolved = resolve_doubt(container, order, port)
        if isinstance(resolved, str):
            return resolved
        order = resolved
    return cancel_order(container, order, reason, port)


def cancel_order(container: Any, order: Order, reason: str, port: VenuePort | None) -> str:
    """Cancel one order whose submission is not in doubt (the one per-order cancel path, shared with the
    order timers, ADR 0281): not at a venue -> CANCELLED in the log; working at Kalshi -> the cancel request
    recorded (once), then Kalshi's cancel, whose answer decides, for the order and its venue record alike. The
    order stays working unless Kalshi confirms; the outcome says what happened (``failed: ...`` when it is left
    for a retry).

    The cancel (or its request) is decided on ``order`` as the caller loaded it: when another writer saved the order
    meanwhile, that save's ``IntegrityError`` is raised, nothing having been sent, for the caller to decide again on
    the fresh order (an operator's cancel) or leave it to the next tick (the timers; ADR 0512). Kalshi's answer is
    applied to the order as it is when the answer comes, again on a conflict: the venue's word stands whatever else
    was recorded meanwhile."""
    now = container.clock.now()
    if order.state not in CANCELLABLE_STATES:
        return f"not_cancellable: {order.state.value}"
    try:
        if order.cancel(now, reason):
            container.orders.save(order)
            return "cancelled"
        container.orders.save(order)  # the request is recorded before the venue is asked
    except IntegrityError:
        raise
    except Exception as exc:  # one order's trouble does not stop the others
        log.exception("cancel of order %s failed", order.order_id)
        return f"failed: {type(exc).__name__}"
    try:
        broker_id = order.broker_order_id
        if port is None or broker_id is None:
            return "failed: no venue to cancel at"
        try:
            answer = port.cancel(broker_id)
        except Exception:
            # e.g. it executed meanwhile (Kalshi refuses to cancel what is not resting): ask what it is
            found = port.find_by_client_order_id(order.order_id)
            if found is None:
                raise
            answer = found

        def record_answer() -> Order:
            current = container.orders.find(order.order_id) or order
            # the answer reaches the order and its venue record (the trade view) in one save (ADR 0317)
            container.orders.save(current, apply_venue_answer(container.orders, current, answer, now))
            return current

        order = container.orders.retry_on_conflict(record_answer)
        if order.state.value == "FILLED":
            return "filled"
        if order.state.value == "PRICE_MOVE_CANCEL":  # the standing request was a price-move cancel (ADR 0382)
            return "price_move_cancelled_at_venue"
        return "cancelled_at_venue" if order.state.value == "CANCELLED" else "failed: still working at the venue"
    except Exception as exc:  # one order's trouble does not stop the others
        log.exception("cancel of order %s failed", order.order_id)
        if isinstance(exc, ImpossibleVenueAnswer):  # the operator is told (ADR 0520)
            alert_impossible_answer(container.breaker, str(exc))
        return f"failed: {type(exc).__name__}"
