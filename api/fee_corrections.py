"""The reconcile run's fee step (ADR 0448): LIVE orders whose fills left a fee unknown (a webhook fill whose lookup
failed or whose Kalshi copy was behind, a Kalshi answer without a fee field) read again from Kalshi, and settled
with ``OrderRecord.FeesCorrected`` when Kalshi has filled exactly what we hold; LIVE exit sells filled with an
unknown fee likewise, with ``PositionExit.FeesCorrected`` (ADR 0449).

Candidates come from the views (orders: LIVE by the Kalshi venue record, as the run's internal side, with a fill
with no fee in ``views.order_fills``; exits: LIVE, FILLED, no fee in ``views.position_exits``; both within the last
``WINDOW``), at most ``MAX_READS`` a run (one Kalshi read each, the budget shared). Those no run has asked about yet
go first, newest fill first; then those asked about longest ago (by the reconcile runs' ``leftUnknown`` in
``views.job_runs``), so a fee Kalshi cannot settle for days (a count that keeps differing) does not take a read from
every run while older ones wait (ADR 0457). Each decision is the order's or exit's own, loaded from its events, so a
view behind the log never makes a correction twice. One Kalshi session serves the step, opened at its first lookup;
after a failed lookup the step asks no more (the rest wait for the next run). Nothing here fails the run: what it
did and why an order or exit was left unknown go into the run's result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from paulp.api.webhook_fees import VenueOrderLookup
from paulp.domain.fees import FeeCorrection, cents_to_usd
from paulp.domain.position_exits import ExitState, PositionExit
from paulp.domain.services.venue_answers import correct_unknown_exit_fee, correct_unknown_fees
from paulp.domain.venue_orders import VenueOrder

log = logging.getLogger("paulp.reconcile.fees")
VENUE = "kalshi"
WINDOW = timedelta(days=7)  # the rolling week the I7 loss figure reads (ADR 0442): the fees that still count
MAX_READS = 25  # Kalshi reads a run may make for fees (one GET /portfolio/orders/{id} each), orders and exits
SCAN = 1000  # candidates of each kind ranked per run: the newest this many, so the step's reads stay bounded
CANDIDATES = (
    "SELECT o.order_id, max(f.filled_at) FROM views.order_fills f JOIN views.orders o ON o.order_uuid = f.order_uuid"
    " JOIN views.kalshi_orders k ON k.order_id = o.order_id"
    " WHERE f.fee_cents IS NULL AND k.execution_mode = 'LIVE' AND f.filled_at >= %s"
    " GROUP BY o.order_id ORDER BY max(f.filled_at) DESC, o.order_id LIMIT %s"
)
EXIT_CANDIDATES = (  # an exit row's updated_at is its fill's time once FILLED (the state is terminal)
    "SELECT exit_uuid, updated_at FROM views.position_exits"
    " WHERE mode = 'LIVE' AND state = 'FILLED' AND fee_cents IS NULL AND updated_at >= %s"
    " ORDER BY updated_at DESC, exit_uuid LIMIT %s"
)
LAST_ASKED = (  # when a run last read each candidate from Kalshi and left its fee unknown, within the window
    "SELECT u->>'kind', CASE WHEN u->>'kind' = 'exit' THEN u->>'exitId' ELSE u->>'orderId' END, max(r.started_at)"
    " FROM views.job_runs r"
    " CROSS JOIN LATERAL jsonb_array_elements(coalesce(r.result->'feeCorrections'->'leftUnknown', '[]'::jsonb)) u"
    " WHERE r.job = 'reconcile' AND r.started_at >= %s GROUP BY 1, 2"
)


@dataclass(frozen=True)
class Candidate:
    """An order (by our order id) or an exit (by its id) with a fee unknown, and its latest such fill's time."""

    kind: str  # "order" | "exit"
    key: str
    filled_at: datetime


@dataclass
class FeeStep:
    """What the step did: settled orders with the fee added, and the orders left unknown with why."""

    corrected: list[dict[str, Any]] = field(default_factory=list)
    unknown: list[dict[str, Any]] = field(default_factory=list)

    def note(self, order_id: str, reason: str, detail: str, exit_id: str | None = None) -> None:
        """``order_id`` is our order's id, or for an exit its sell's client order id (``exit_id`` then set)."""
        which = {"kind": "order"} if exit_id is None else {"kind": "exit", "exitId": exit_id}
        self.unknown.append({"orderId": order_id, **which, "reason": reason, "detail": detail})

    def as_result(self) -> dict[str, Any]:
        return {"checked": len(self.corrected) + len(self.unknown), "corrected": self.corrected,
                "leftUnknown": self.unknown}


def fee_candidates(container: Any) -> list[Candidate]:
    """LIVE orders and exits with a fill of unknown fee inside the window, at most ``MAX_READS`` of both together:
    those never asked about first (the most recent fills first), then those asked about longest ago."""
    since = container.clock.now() - WINDOW
    with container.pool.connection() as conn:
        found = [Candidate("order", r[0], r[1]) for r in conn.execute(CANDIDATES, (since, SCAN)).fetchall()]
        found += [Candidate("exit", str(r[0]), r[1]) for r in conn.execute(EXIT_CANDIDATES, (since, SCAN)).fetchall()]
        asked = last_asked(conn, since)
    found.sort(key=lambda c: (c.filled_at, c.kind, c.key), reverse=True)  # newest fill first among equals
    return sorted(found, key=lambda c: _asked_rank(asked.get((c.kind, c.key))))[:MAX_READS]


def last_asked(conn: Any, since: datetime) -> dict[tuple[str, str], datetime]:
    """(kind, candidate key) -> the start of the latest reconcile run since ``since`` that left its fee unknown."""
    return {(r[0], r[1]): r[2] for r in conn.execute(LAST_ASKED, (since,)).fetchall()}


def _asked_rank(asked: datetime | None) -> tuple[int, float]:
    """Never asked sorts first; then the longest ago (a stable sort keeps newest fill first within a rank)."""
    return (0, 0.0) if asked is None else (1, asked.timestamp())


def correct_fees(container: Any, run_id: str) -> dict[str, Any] | None:
    """The step for one run: None when no order or exit needed it (the run's result then reads as before)."""
    try:
        candidates = fee_candidates(container)
    except Exception:
        log.exception("reconcile %s: fee candidates could not be read; the next run tries again", run_id)
        return None
    if not candidates:
        return None
    step = FeeStep()
    with VenueOrderLookup(container.settings, purpose="correct unknown LIVE fees") as lookup:
        for c in candidates:
            try:
                if c.kind == "exit":
                    _correct_exit(container, UUID(c.key), lookup, run_id, step)
                else:
                    _correct_one(container, c.key, lookup, run_id, step)
            except Exception as exc:  # one order's trouble never stops the run or the other orders
                log.exception("reconcile %s: fee correction of %s %s failed", run_id, c.kind, c.key)
                if c.kind == "exit":
                    step.note("", "error", type(exc).__name__, c.key)
                else:
                    step.note(c.key, "error", type(exc).__name__)
    if not (step.corrected or step.unknown):  # every candidate was settled already (the views behind the log)
        return None
    log.info("reconcile %s: fees corrected on %d orders/exits, %d left unknown", run_id, len(step.corrected),
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
        step.note(order_id, str(outcome), _why(outcome, f"we hold {order.filled_size}", answer.fill_count))
        return
    try:
        orders.save(order, record)
    except IntegrityError:  # another writer (a webhook fill) changed the order: the next run decides again
        step.note(order_id, "changed_concurrently", "the order changed while Kalshi was read; next run")
        return
    step.corrected.append({"orderId": order_id, "kind": "order", "feeUsd": cents_to_usd(order.fees_cents - known),
                           "fills": unknown, "kalshiFeesUsd": cents_to_usd(answer.fees_cents or 0),
                           "evidenceHash": answer.evidence_hash})


def _correct_exit(container: Any, exit_id: UUID, lookup: VenueOrderLookup, run_id: str, step: FeeStep) -> None:
    """One LIVE exit filled with an unknown fee: its sell read from Kalshi and, at the exit's count, its fee
    recorded on the exit and on the sell's venue record, saved together (ADR 0449)."""
    exits = container.exits
    ex: PositionExit | None = exits.app.get_or_none(exit_id)
    if ex is None:
        step.note("", "not_found", "no exit in the log", str(exit_id))
        return
    if ex.state is not ExitState.FILLED or ex.fee_cents is not None:  # settled since the view was read
        return
    sell = ex.client_order_id
    record = _record(container, sell)
    if record is None:
        step.note(sell, "not_found", "no Kalshi venue record of the exit's sell in the log", str(exit_id))
        return
    answer = lookup.order(record)
    if answer is None:
        step.note(sell, "lookup_failed", lookup.failure or "Kalshi does not list the order", str(exit_id))
        return
    outcome = correct_unknown_exit_fee(ex, record, answer, container.clock.now(), run_id)
    if outcome is not FeeCorrection.CORRECTED:
        step.note(sell, str(outcome), _why(outcome, f"the exit sold {ex.contracts}", answer.fill_count), str(exit_id))
        return
    try:
        exits.save(ex, record)
    except IntegrityError:  # another writer changed the exit or its record: the next run decides again
        step.note(sell, "changed_concurrently", "the exit changed while Kalshi was read; next run", str(exit_id))
        return
    step.corrected.append({"orderId": sell, "kind": "exit", "exitId": str(exit_id),
                           "feeUsd": cents_to_usd(ex.fee_cents or 0), "fills": 1,
                           "kalshiFeesUsd": cents_to_usd(answer.fees_cents or 0), "evidenceHash": answer.evidence_hash})


def _why(outcome: FeeCorrection | str, ours: str, kalshi: int) -> str:
    if outcome is FeeCorrection.COUNT_DIFFERS:
        return f"Kalshi has filled {kalshi} contracts, {ours}: its fee may not cover the same fills"
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
