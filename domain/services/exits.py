"""Exits context: close a position whose exit rule fired (trading §3.5; ADR 0260).

The decision is saved before a LIVE sell is sent, and a decision found unfinished is resolved by asking
the venue for its client order id before anything else is sent. Each attempt's venue answer is also a
``VenueOrder`` record (action ``sell``), so an exit shows in ``GET /admin/trades`` like any other order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from eventsourcing.persistence import IntegrityError

from paulp.domain.clock import iso_utc
from paulp.domain.execution_orders import VenueOrder as VenueOrderRequest
from paulp.domain.exits import ExitDecision
from paulp.domain.fees import DEFAULT_TAKER_FEE_RATE, taker_fee_cents
from paulp.domain.ports import SubmissionOutcomeUnknown, VenuePort, VenueSubmission
from paulp.domain.position_exits import ExitState, PositionExit
from paulp.domain.prices import half_up
from paulp.domain.reconciliation import json_number
from paulp.domain.services.base import PaulpApplication
from paulp.domain.services.breaker import BreakerService
from paulp.domain.services.pipeline import OrdersService
from paulp.domain.services.venue_answers import alert_impossible_answer, impossible_sell_answer, kalshi_venue_record
from paulp.domain.venue_orders import VenueOrder

log = logging.getLogger("paulp.exits")


@dataclass(frozen=True)
class ExitCandidate:
    """An open position as the monitor sees it: prices are the held side's own, in cents."""

    strategy: str
    ticker: str
    side: str  # "YES" | "NO"
    mode: str  # "PAPER" | "LIVE": the position's own (ADR 0262)
    opened_at: datetime
    exits_so_far: int  # earlier exits of this episode (a partial fill leaves the rest open)
    contracts: int
    entry_cents: float
    current_cents: float
    bid_cents: int | None  # the held side's best bid: the LIVE sell's limit


def _entry_now(c: ExitCandidate) -> float | None:
    """The position's average entry as this run read it: an exit's PnL is taken against the position as of its
    fill, which may have averaged in since the exit was decided (ADR 0306); an impossible one is not used."""
    return c.entry_cents if 0 < c.entry_cents < 100 else None


class ExitsService:
    """Exits are stored through the orders context's application: positions are made of its events, and
    a context of its own would hold one more database pool for a job that runs every five minutes."""

    def __init__(self, orders: OrdersService, paper_fee_rate: Callable[[str], float] | None = None,
                 breaker: BreakerService | None = None) -> None:
        self.app: PaulpApplication = orders
        self.clock = orders.clock
        self.breaker = breaker  # told of every impossible answer refused (ADR 0520)
        # a PAPER sell pays the taker fee at its strategy's PAPER policy's rate (ADR 0437)
        self.paper_fee_rate = paper_fee_rate or (lambda _strategy: DEFAULT_TAKER_FEE_RATE)

    def save(self, *aggregates: object) -> None:
        self.app.save(*aggregates)

    def find(self, c: ExitCandidate) -> PositionExit | None:
        found: PositionExit | None = self.app.get_or_none(PositionExit.create_id(
            c.strategy, c.ticker, c.side, c.mode, c.opened_at, c.exits_so_far))
        return found

    def exit_position(self, c: ExitCandidate, decision: ExitDecision | None,
                      venue: VenuePort | None, requested_by: str | None = None,
                      note: str | None = None) -> PositionExit | None:
        """Decide (or resume) this position's exit and carry it as far as it can go now.

        ``decision`` None means the rule does not fire now: only an unfinished exit is resumed. An operator's
        close (ADR 0440) names ``requested_by`` and ``note``; it takes the same path as a rule's exit."""
        now = self.clock.now()
        ex = self.find(c)
        if ex is None:
            if decision is None or (c.mode == "LIVE" and not self._previous_closed(c, venue)):
                return None
            ex = PositionExit.decide(c.strategy, c.ticker, c.side, c.opened_at, c.exits_so_far, c.contracts,
                                     c.entry_cents, decision.exit_price, decision.reason, c.mode, now,
                                     requested_by, note)
            try:
                self.save(ex)  # the intent is durable before any venue call
            except IntegrityError:
                return self.find(c)  # another run decided it first; it carries it
        elif ex.state is ExitState.FILLED:
            return ex
        elif ex.state is ExitState.FAILED:
            if decision is None or (ex.mode == "LIVE" and not self._nothing_resting(ex, venue)):
                return ex
            ex.redecide(c.contracts, decision.exit_price, decision.reason, now, requested_by, note)
            self.save(ex)
        elif ex.mode == "LIVE":  # DECIDED or IN_DOUBT from an earlier run: ask the venue first
            return self._resolve(ex, venue, c)
        if ex.mode == "PAPER":
            fee = taker_fee_cents(ex.contracts, ex.observed_price, self.paper_fee_rate(ex.strategy))
            ex.fill(ex.contracts, ex.observed_price, now, entry_price=_entry_now(c), fee_cents=fee)
            self.save(ex, self._sell_record(ex, "filled", now, ex.contracts, ex.observed_price, fees_cents=fee))
            return ex
        return self._submit(ex, venue, c)

    def finish_after_resolution(self, c: ExitCandidate, venue: VenuePort | None) -> PositionExit | None:
        """The market's outcome is known: an unfinished LIVE exit is settled by asking the venue for its client
        order id (found: its fill is booked), never by sending a sell; not found, it fails."""
        ex = self.find(c)
        if ex is None or ex.mode != "LIVE" or ex.state not in (ExitState.DECIDED, ExitState.IN_DOUBT) \
                or venue is None:
            return ex
        found = venue.find_by_client_order_id(ex.client_order_id)
        if found is not None:
            return self._apply(ex, found, None, venue, _entry_now(c))
        now = self.clock.now()
        if ex.state is ExitState.DECIDED:
            ex.fail("market resolved before the exit was sent", now)  # nothing sent: no venue record
            self.save(ex)
        else:
            ex.fail("not found at the venue after an ambiguous submission; market resolved", now)
            self.save(ex, self._sell_record(ex, "not_found", now))
        return ex

    def _previous_closed(self, c: ExitCandidate, venue: VenuePort | None) -> bool:
        """The episode's previous exit filled (in part, perhaps): what it left resting is cancelled first."""
        if c.exits_so_far < 1:
            return True
        previous: PositionExit | None = self.app.get_or_none(PositionExit.create_id(
            c.strategy, c.ticker, c.side, c.mode, c.opened_at, c.exits_so_far - 1))
        return previous is None or self._nothing_resting(previous, venue)

    @staticmethod
    def _nothing_resting(ex: PositionExit, venue: VenuePort | None) -> bool:
        """Before a LIVE exit sells again: the last attempt's sell, if it still rests at the venue (its cancel
        failed), is cancelled now; if that fails too, no second sell is sent beside it."""
        if venue is None:
            return True  # nothing can be sent either
        found = venue.find_by_client_order_id(ex.client_order_id)
        if found is None or found.status != "submitted":
            return True
        try:
            venue.cancel(found.venue_order_id)
        except Exception as exc:
            log.error("exit %s: its sell %s still rests and could not be cancelled (%s); not sold again",
                      ex.client_order_id, found.venue_order_id, type(exc).__name__)
            return False
        return True

    def _submit(self, ex: PositionExit, venue: VenuePort | None, c: ExitCandidate) -> PositionExit:
        now = self.clock.now()
        if venue is None:
            ex.fail("no venue to send a LIVE exit to", now)
            self.save(ex)
            return ex
        if c.bid_cents is None or not 1 <= c.bid_cents <= 99:
            ex.fail("no bid to sell into", now)  # nothing sent: no venue record
            self.save(ex)
            return ex
        price = int(c.bid_cents)
        side = ex.side.lower()
        order = VenueOrderRequest(ex.ticker, ex.client_order_id, side, "sell", ex.contracts, "limit",
                                  price if side == "yes" else None, price if side == "no" else None)
        try:
            sub = venue.submit(order)
        except SubmissionOutcomeUnknown as exc:
            ex.doubt(str(exc) or "venue outcome unknown", now)
            self.save(ex, self._sell_record(ex, "unknown", now, limit=price))
            return ex
        return self._apply(ex, sub, price, venue, _entry_now(c))

    def _resolve(self, ex: PositionExit, venue: VenuePort | None, c: ExitCandidate) -> PositionExit:
        if venue is None:
            return ex  # stays unfinished until a run with the venue
        found = venue.find_by_client_order_id(ex.client_order_id)
        if found is not None:
            return self._apply(ex, found, None, venue, _entry_now(c))
        if ex.state is ExitState.DECIDED:
            return self._submit(ex, venue, c)  # never sent under this id: send it now
        now = self.clock.now()
        ex.fail("not found at the venue after an ambiguous submission", now)
        self.save(ex, self._sell_record(ex, "not_found", now))
        return ex

    def _apply(self, ex: PositionExit, sub: VenueSubmission, limit: int | None,
               venue: VenuePort | None = None, entry: float | None = None) -> PositionExit:
        """Kalshi's answer about the exit's sell booked: its fill (what did not fill at once is cancelled first, and
        the cancel's answer booked), or the exit failed with nothing filled. An answer that cannot be about the sell
        (``impossible_sell_answer``; the limit, when not given, is the one the sell's record was sent with) books
        nothing: the exit is left in doubt for Kalshi's own record to settle (ADR 0520)."""
        limit = limit if limit is not None else self._sent_limit(ex)
        if (why := impossible_sell_answer(ex, sub, limit=limit)) is not None:
            return self._refuse(ex, sub, why, limit)
        note = ""
        if sub.status == "submitted" and sub.fill_count < ex.contracts and venue is not None:
            # what did not fill at once must not fill later behind the view's back
            try:
                cancelled = venue.cancel(sub.venue_order_id)
            except Exception as exc:  # the venue answer stays what it was; the note and the log say so
                note = (f"; {ex.contracts - sub.fill_count} left resting as {sub.venue_order_id}"
                        f" (cancel failed: {type(exc).__name__})")
                log.error("exit %s: remainder of venue order %s could not be cancelled%s", ex.client_order_id,
                          sub.venue_order_id, note)
            else:
                if (why := impossible_sell_answer(ex, cancelled, sub.fill_count, limit)) is not None:
                    return self._refuse(ex, cancelled, why, limit)
                sub = cancelled
        now = self.clock.now()
        if sub.fill_count >= 1:
            size = min(sub.fill_count, ex.contracts)
            price = float(sub.fill_price if sub.fill_price is not None else (limit or ex.observed_price))
            ex.fill(size, price, now, sub.venue_order_id, sub.evidence_hash, entry, sub.fees_cents)
            self.save(ex, self._sell_record(ex, "filled", now, size, price, sub.evidence_hash, limit,
                                            sub.venue_order_id or None, sub.fees_cents))
        else:
            ex.fail(f"venue answered {sub.status} with nothing filled (order {sub.venue_order_id}){note}", now)
            self.save(ex, self._sell_record(ex, sub.status, now, evidence=sub.evidence_hash, limit=limit,
                                            venue_order_id=sub.venue_order_id or None))
        return ex

    def _refuse(self, ex: PositionExit, answer: VenueSubmission, why: str, limit: int | None) -> PositionExit:
        """Nothing of an impossible answer is booked (ADR 0520): a sell may have gone out, so the exit goes in doubt
        (an exit already in doubt stays so, unchanged), its record "unknown" at the limit sent (none is written when
        the limit is not known: a made-up one would be read back as sent); the next run asks Kalshi by client order
        id, never sells again. The body is in the evidence store; the operator gets a breaker alert."""
        detail = (f"Kalshi's answer about exit sell {ex.client_order_id} cannot be true of it: {why}"
                  f" (evidence {answer.evidence_hash})")
        log.error("%s; nothing booked, the exit is left in doubt", detail)
        if ex.state is ExitState.DECIDED:
            now = self.clock.now()
            ex.doubt(detail, now)
            self.save(ex, *([] if limit is None else [self._sell_record(ex, "unknown", now, limit=limit)]))
        alert_impossible_answer(self.breaker, detail)
        return ex

    def _sent_limit(self, ex: PositionExit) -> int | None:
        """The limit the exit's current sell was sent with, as its venue record holds it, or None. While an exit is
        unfinished, a record of its attempt is only written with the limit sent (its answer lost or refused);
        relayed updates never change the limit."""
        found: VenueOrder | None = self.app.get_or_none(VenueOrder.id_for("kalshi", ex.client_order_id))
        limit = None if found is None else found.record.get("limit_price")
        return limit if isinstance(limit, int) else None

    def _sell_record(self, ex: PositionExit, status: str, now: datetime, fill_count: int = 0,
                     fill_price: float | None = None, evidence: str | None = None,
                     limit: int | None = None, venue_order_id: str | None = None,
                     fees_cents: Decimal | None = None) -> VenueOrder:
        """The sell's execution-order row: a LIVE one's ``order_id`` is Kalshi's, None until Kalshi has named
        the order (ADR 0294); a paper one's is the client order id. Its fees when known (ADR 0437)."""
        oid, stamp = ex.client_order_id, iso_utc(now)
        record: dict[str, object] = {
            "order_id": oid if ex.mode == "PAPER" else venue_order_id, "client_order_id": oid, "ticker": ex.ticker,
            "side": ex.side.lower(), "action": "sell", "order_type": "limit", "requested_size": ex.contracts,
            "limit_price": limit if limit is not None else half_up(ex.observed_price), "status": status,
            "fill_count": fill_count, "fill_price": fill_price, "source_strategy": ex.strategy,
            "signal_id": f"exit:{ex.reason.value}", "execution_mode": ex.mode, "created_at": iso_utc(ex.decided_at),
            "updated_at": stamp, "evidence_hash": evidence,
            **({} if fees_cents is None else {"fees_cents": json_number(Decimal(fees_cents))}),
        }
        return kalshi_venue_record(self.app, record, now)
