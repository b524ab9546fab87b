"""Kalshi's answers about our LIVE orders, applied to the order and to its venue record in one place.

Every answer that can change a LIVE order (the create-order answer, a lookup by client order id of a lost
submission, a cancel's answer) goes through ``apply_venue_answer``: the order takes the fills beyond those it
holds, at Kalshi's price and with the part of Kalshi's cumulative fees not yet recorded (ADR 0437), and is
closed if Kalshi cancelled it; its venue record (what ``GET /admin/trades`` lists, trading §1.6/§9) takes Kalshi's
status, fill count, fill price, fees and order id. The caller saves both in
one save (ADR 0317), so the trade view never shows "submitted" for an order Kalshi has cancelled or filled.
A LIVE exit's sell has its own path (``services/exits.py``) but the same rule of what an answer cannot say
(``impossible_sell_answer``, ADR 0520); a refused answer is an alert to the operator (``alert_impossible_answer``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from eventsourcing.application import AggregateNotFoundError

from paulp.domain.clock import iso_utc
from paulp.domain.fees import FeeCorrection, fee_increment
from paulp.domain.order_states import WORKING_STATES
from paulp.domain.order_values import ImpossibleVenueAnswer
from paulp.domain.orders import Order
from paulp.domain.ports import VenueSubmission
from paulp.domain.position_exits import PositionExit
from paulp.domain.reconciliation import json_number
from paulp.domain.services.base import PaulpApplication
from paulp.domain.services.breaker import BreakerService
from paulp.domain.venue_orders import VenueOrder

log = logging.getLogger("paulp.venue_answers")
IMPOSSIBLE_ANSWER_ALERT = "IMPOSSIBLE_VENUE_ANSWER"  # the breaker alert of a refused impossible answer (ADR 0520)


def venue_record(order: Order, status: str, mode: str, now: datetime, fill_count: int = 0,
                 fill_price: float | None = None, evidence_hash: str | None = None,
                 venue_order_id: str | None = None, fees_cents: Decimal | int | None = None) -> dict[str, object]:
    """The execution-order row of trading §1.6/§9 for ``order``: PAPER's ``order_id`` is our id; LIVE's is the
    venue's own order id, None until the venue has named it (ADR 0294); ``client_order_id`` is always ours.
    ``fees_cents`` (the order's fees so far: the venue's, or PAPER's modelled; ADR 0437) is added only when
    known, so a record of an answer without fees stays as it was."""
    stamp = iso_utc(now)
    fees = {} if fees_cents is None else {"fees_cents": json_number(Decimal(fees_cents))}
    return {
        "order_id": order.order_id if mode == "PAPER" else venue_order_id, "client_order_id": order.order_id,
        "ticker": order.ticker, "side": order.side.lower(), "action": "buy", "order_type": "limit",
        "requested_size": order.requested_size, "limit_price": int(order.max_price), "status": status,
        "fill_count": fill_count, "fill_price": fill_price, "source_strategy": order.strategy,
        "signal_id": order.signal_id, "execution_mode": mode, "created_at": stamp, "updated_at": stamp,
        "evidence_hash": evidence_hash, **fees,
    }


def kalshi_venue_record(app: PaulpApplication, record: dict[str, object], now: datetime) -> VenueOrder:
    """The Kalshi venue-order record (what ``/admin/trades`` lists) of our order ``record["client_order_id"]``
    (its key: known before Kalshi names the order): created, or updated with what changed. A venue order id
    once recorded is never replaced by an answer without one, and ``created_at`` stays when the record was
    first made. The caller saves it with the aggregate whose change it reports."""
    oid = str(record["client_order_id"])
    try:
        vo: VenueOrder = app.repository.get(VenueOrder.id_for("kalshi", oid))
    except AggregateNotFoundError:
        return VenueOrder("kalshi", oid, {**record, "venue": "kalshi"}, now)
    kept = {k: vo.record[k] for k in ("order_id", "created_at")
            if vo.record.get(k) is not None and (k == "created_at" or record.get(k) is None)}
    vo.update({**record, **kept, "venue": "kalshi"}, now)
    return vo


def _names_another(ours: dict[str, str], answer: VenueSubmission) -> str | None:
    """The first of market, side, action and client order id the answer names otherwise than ``ours``, or None. A
    field the answer leaves out is not held against it."""
    theirs = {"ticker": answer.ticker, "side": answer.side, "action": answer.action,
              "client_order_id": answer.client_order_id}
    for name, value in theirs.items():
        if value is not None and value != ours[name]:
            return f"the answer names {name} {value!r}, the order's is {ours[name]!r}"
    return None


def _count_goes_down(answer: VenueSubmission, held: int, holder: str) -> str | None:
    if answer.fill_count < held:
        return f"the answer has filled {answer.fill_count} in all, {holder} already holds {held}"
    return None


def impossible_answer(order: Order, answer: VenueSubmission) -> str | None:
    """Why Kalshi's ``answer`` cannot be about the LIVE ``order`` as we hold it, or None (ADR 0519): it names
    another market, side, action (our orders only buy) or client order id, or its cumulative fill count is below
    the fills the order already holds (Kalshi's count never goes down). A field the answer leaves out is not held
    against it."""
    ours = {"ticker": order.ticker, "side": order.side.lower(), "action": "buy", "client_order_id": order.order_id}
    return _names_another(ours, answer) or _count_goes_down(answer, order.filled_size, "the order")


def impossible_sell_answer(exit_: PositionExit, answer: VenueSubmission, held: int = 0,
                           limit: int | None = None) -> str | None:
    """Why Kalshi's ``answer`` cannot be about the LIVE exit's sell (its current attempt) as we sent it, or None
    (ADR 0520): it names another market, side, action (an exit only sells) or client order id; its cumulative fill
    count is below ``held``, what an earlier answer about the same sell already said had filled (a cancel's answer
    after the create-order answer); or it has filled at a price below ``limit``, the sell's limit in the held side's
    cents (a sell limited at L never fills below L; None: not known, not checked)."""
    ours = {"ticker": exit_.ticker, "side": exit_.side.lower(), "action": "sell",
            "client_order_id": exit_.client_order_id}
    if (why := _names_another(ours, answer) or _count_goes_down(answer, held, "an earlier answer")) is not None:
        return why
    if limit is not None and answer.fill_count >= 1 and answer.fill_price is not None \
            and float(answer.fill_price) < limit:
        return f"the answer sold at {answer.fill_price} cents, below the sell's limit of {limit}"
    return None


def alert_impossible_answer(breaker: BreakerService | None, message: str) -> None:
    """Tell the operator of an impossible answer that was refused (ADR 0520): an ``IMPOSSIBLE_VENUE_ANSWER`` alert
    on the breaker, a warning (trading §2.3: recorded, no transition; listed by ``paulp breaker status``, in
    ``views.breaker_alerts`` and in a postmortem's timeline). Once per ``message`` (ADR 0526): it names the order or
    sell, the reason and the body's evidence hash, so a run meeting the same stuck answer again adds nothing, and a
    changed answer is a new alert. The refusal stands whether or not the alert is saved."""
    if breaker is None:
        return
    try:
        breaker.raise_alert_once(IMPOSSIBLE_ANSWER_ALERT, "warning", message)
    except Exception:
        log.exception("the impossible-answer alert could not be recorded: %s", message)


def apply_venue_answer(app: PaulpApplication, order: Order, answer: VenueSubmission, now: datetime) -> VenueOrder:
    """Kalshi's ``answer`` about the LIVE ``order`` applied to it (the contracts filled beyond ours at Kalshi's
    price; CANCELLED when Kalshi cancelled a working order, fills first) and to its venue record (status, fill
    count and price, Kalshi's order id). Returns the record, to save with the order. An answer that cannot be
    about the order (``impossible_answer``) raises ``ImpossibleVenueAnswer`` before anything is applied: the
    caller saves nothing (a submission's answer leaves the order in doubt, a cancel's leaves it working; ADR 0519)
    and the body stays in the evidence store under ``answer.evidence_hash``."""
    why = impossible_answer(order, answer)
    if why is not None:
        raise ImpossibleVenueAnswer(f"Kalshi's answer about order {order.order_id} cannot be true of it: {why}"
                                    f" (evidence {answer.evidence_hash})")
    if answer.fill_count > order.filled_size and answer.fill_price and order.state in WORKING_STATES:
        order.record_fill(answer.fill_count - order.filled_size, float(answer.fill_price), now,
                          fee_cents=fee_increment(answer.fees_cents, order.fees_cents))
    if answer.status == "cancelled" and order.state in WORKING_STATES:
        order.record_venue_cancelled(now)
    record = venue_record(order, answer.status, "LIVE", now, answer.fill_count, answer.fill_price,
                          answer.evidence_hash, answer.venue_order_id or None, answer.fees_cents)
    return kalshi_venue_record(app, record, now)


def settle_lost_submission(app: PaulpApplication, order: Order, found: VenueSubmission | None,
                           now: datetime) -> VenueOrder:
    """Record what the venue, asked by client order id (§1.8), holds of a submission in doubt: found ->
    acknowledged, then its answer applied (``apply_venue_answer``); absent -> ERROR (it never got there). The one
    reading shared by ``resolve_in_doubt``, cancel-outstanding and the order timers; returns the order's venue
    record, to save with it."""
    order.resolve_submission_doubt(found is not None, now, found.venue_order_id if found else None)
    if found is None:
        return kalshi_venue_record(app, venue_record(order, "not_found", "LIVE", now), now)
    return apply_venue_answer(app, order, found, now)


def correct_unknown_fees(order: Order, record: VenueOrder, answer: VenueSubmission, now: datetime,
                         run_id: str | None = None) -> FeeCorrection | str:
    """Kalshi's later ``answer`` about a LIVE order applied to the fees its fills left unknown (ADR 0448): the order
    records ``FeesCorrected`` when Kalshi's count is ours, and its venue record (``/admin/trades``) takes Kalshi's
    cumulative fee. ``not_live`` for an order the venue record does not say is LIVE (PAPER fees are modelled and
    never read from Kalshi), ``no_evidence`` for an answer without a stored body; nothing is recorded then. The
    caller saves both in one save."""
    return _correct_from_answer(order.correct_fees, record, answer, now, run_id)


def correct_unknown_exit_fee(exit_: PositionExit, record: VenueOrder, answer: VenueSubmission, now: datetime,
                             run_id: str | None = None) -> FeeCorrection | str:
    """Kalshi's later ``answer`` about a LIVE exit's sell applied to the fee its fill left unknown (ADR 0449): the
    exit records ``FeesCorrected`` when Kalshi's count is the exit's, and the sell's venue record (``/admin/trades``)
    takes Kalshi's fee. ``not_live`` for a PAPER exit or a record not LIVE, ``no_evidence`` for an answer without
    a stored body; nothing is recorded then. The caller saves both in one save."""
    if exit_.mode != "LIVE":
        return "not_live"
    return _correct_from_answer(exit_.correct_fee, record, answer, now, run_id)


def _correct_from_answer(correct: Callable[..., FeeCorrection], record: VenueOrder, answer: VenueSubmission,
                         now: datetime, run_id: str | None) -> FeeCorrection | str:
    """The rule both corrections share: a LIVE venue record and an evidenced answer, then the aggregate's own
    ``correct``; a settled fee is also Kalshi's figure on the venue record."""
    if str(record.record.get("execution_mode", "")).upper() != "LIVE":
        return "not_live"
    if answer.evidence_hash is None:
        return "no_evidence"
    outcome = correct(answer.fill_count, answer.fees_cents, answer.evidence_hash, now, run_id)
    if outcome is FeeCorrection.CORRECTED and answer.fees_cents is not None:
        record.update({"fees_cents": json_number(answer.fees_cents)}, now)
    return outcome
