"""The order pipeline's (synchronous) venue port over the async Kalshi venue.

The async client runs on a private event loop in one background thread; calls are bounded by a timeout.
An ambiguous submission (timeout/5xx after sending) becomes the domain's ``SubmissionOutcomeUnknown`` so the
order goes "in doubt" and is resolved by client order id — never by sending again.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable
from concurrent.futures import Future
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from paulp.adapters.kalshi.client_errors import VenueNotFound, VenueOutcomeUnknown, VenueRequestRejected
from paulp.adapters.kalshi.venue import (
    Evidenced,
    KalshiVenue,
    OrderBook,
    VenueOrderRecord,
    VenueOrderStatus,
    VenueTrade,
)
from paulp.domain.execution_orders import MarketSnapshot, VenueOrder
from paulp.domain.ports import SubmissionOutcomeUnknown, VenueSubmission
from paulp.domain.reconciliation import Position

T = TypeVar("T")
log = logging.getLogger("paulp.kalshi.port")
CALL_TIMEOUT_S = 30.0
REFUSED = (VenueRequestRejected, VenueNotFound)  # 4xx answers: the venue placed nothing


def fill_price(record: VenueOrderRecord) -> float | None:
    """What the order's filled contracts went for each on average, in cents of the order's side (a NO order: NO
    cents); None when nothing filled (ADRs 0282, 0296).

    Kalshi fills a limit at the resting price when that is better and reports the fills' money
    (``taker_fill_cost`` + ``maker_fill_cost``), so a fill is booked at that money / count, the average over the
    price levels it took: what a buy paid, what a sell received. That money is read in the order side's cents.
    The limit is booked only where it cannot be such a price: an answer without a fill cost, or an average no
    fill at this limit could have (a buy above its limit, a sell below it: logged)."""
    if not record.filled_count:
        return None
    limit = record.yes_price if record.side.lower() == "yes" else record.no_price
    cost = record.fill_cost_cents
    if cost is None:
        return limit
    average = cost / record.filled_count
    if limit is None:
        low, high = 1, 99
    else:
        low, high = (1, limit) if record.action.lower() == "buy" else (limit, 99)
    if not low <= average <= high:
        log.warning("order %s: fill money %s for %d contracts is not a price a %s %s limited at %s can fill at;"
                    " booked at the limit", record.order_id, cost, record.filled_count, record.side,
                    record.action, limit)
        return limit
    return float(average)


def _submission(record: VenueOrderRecord, evidence: tuple[str, ...]) -> VenueSubmission:
    status = {VenueOrderStatus.FILLED: "filled", VenueOrderStatus.CANCELLED: "cancelled"}.get(
        record.status, "submitted")
    return VenueSubmission(record.order_id, status, record.filled_count, fill_price(record),
                           evidence[0] if evidence else None, fees_cents=record.fees_cents,
                           ticker=record.ticker, side=record.side.lower() or None,
                           action=record.action.lower() or None, client_order_id=record.client_order_id)


@dataclass(frozen=True)
class VenuePositions:
    """What the venue says we hold, and the evidence hashes of the bodies it was read from."""

    positions: tuple[Position, ...]
    evidence_hashes: tuple[str, ...]
    # Kalshi's cost of each held (market, SIDE) in cents, where it sent one (``market_exposure``; ADR 0450)
    costs: dict[tuple[str, str], Decimal] = field(default_factory=dict)


async def _cancel_others(wait_s: float = 5.0) -> None:
    """Cancel every task of the running loop but this one, and let them end (at most ``wait_s``)."""
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in others:
        task.cancel()
    if others:
        await asyncio.wait(others, timeout=wait_s)


class KalshiVenuePort:
    def __init__(self, venue: KalshiVenue, timeout_s: float = CALL_TIMEOUT_S) -> None:
        self.venue, self.timeout_s = venue, timeout_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="kalshi-venue", daemon=True)
        self._thread.start()

    def _run(self, coro: Awaitable[T]) -> T:
        """Wait at most ``timeout_s``; a call given up on is cancelled, so it sends nothing after we stopped waiting."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)  # type: ignore[arg-type]
        try:
            return future.result(self.timeout_s)
        except TimeoutError:
            future.cancel()
            raise

    def submit(self, order: VenueOrder) -> VenueSubmission:
        """A submission given up on mid-flight is as unknown as a lost answer: in doubt, never failed."""
        try:
            result = self._run(self.venue.submit_order(order))
        except VenueOutcomeUnknown as e:  # an accepted answer we refused to read names why, and its evidence
            why = getattr(e, "reason_code", None)  # or, not evidenced, its status: the only trace of it (ADR 0516)
            seen = f", evidence {e.evidence_hash}" if e.evidence_hash else f", HTTP {e.status}" if e.status else ""
            detail = f" ({why}{seen})" if why else ""
            raise SubmissionOutcomeUnknown(f"{e.code}: venue outcome unknown{detail}") from e
        except TimeoutError as e:
            raise SubmissionOutcomeUnknown(f"no venue answer within {self.timeout_s:g}s: venue outcome unknown") from e
        except REFUSED as e:  # a definitive refusal: nothing was placed, the order is REJECTED (§1.4 step 4)
            code = f", {e.venue_code}" if e.venue_code else ""
            return VenueSubmission("", "rejected", evidence_hash=e.evidence_hash,
                                   reason=f"Kalshi refused the order: {e.code} (HTTP {e.status}{code})")
        return _submission(result.order, result.evidence_hashes)

    def find_by_client_order_id(self, client_order_id: str) -> VenueSubmission | None:
        found = self._run(self.venue.get_order_by_client_order_id(client_order_id))
        return None if found.value is None else _submission(found.value, found.evidence_hashes)

    def order(self, venue_order_id: str) -> VenueSubmission:
        """One order as Kalshi holds it now, by Kalshi's order id: fills, fill price and cumulative fees (ADR 0443)."""
        found = self._run(self.venue.get_order(venue_order_id))
        return _submission(found.value, found.evidence_hashes)

    def cancel(self, venue_order_id: str) -> VenueSubmission:
        """Cancel what is left of an order; the answer carries what had filled by then."""
        done = self._run(self.venue.cancel_order(venue_order_id))
        return _submission(done.value, done.evidence_hashes)

    def positions(self) -> VenuePositions:
        """Every position the account holds (all pages), one row per non-zero side, in exact contracts: a fraction
        is passed on as Kalshi wrote it, for reconciliation to grade (ADRs 0331, 0362)."""
        found = self._run(self.venue.list_positions())
        rows: list[Position] = []
        costs: dict[tuple[str, str], Decimal] = {}
        for p in found.value:
            held = [Position(p.ticker, side, n) for side, n in (("YES", p.yes_contracts), ("NO", p.no_contracts)) if n]
            rows.extend(held)
            if len(held) == 1 and p.market_exposure is not None:  # one net side per market: its cost is that side's
                costs[held[0].key] = p.market_exposure
        return VenuePositions(tuple(rows), found.evidence_hashes, costs)

    def market(self, ticker: str) -> Evidenced[MarketSnapshot]:
        return self._run(self.venue.get_market(ticker))

    def markets(self, max_pages: int) -> Evidenced[tuple[dict[str, Any], ...]]:
        return self._run(self.venue.list_markets(max_pages=max_pages))

    def orderbook(self, ticker: str) -> Evidenced[OrderBook]:
        return self._run(self.venue.get_orderbook(ticker))

    def trades(self, ticker: str) -> Evidenced[tuple[VenueTrade, ...]]:
        return self._run(self.venue.get_trades(ticker))

    def close(self, client: Any | None = None) -> None:
        """Stop the port's loop. A call still going on there (its caller was interrupted: Ctrl-C or SIGTERM
        during a one-shot command) is cancelled first, so it sends nothing more and is not left pending for the
        garbage collector to report ("Task was destroyed but it is pending!"; ADR 0515)."""
        try:
            self._run(_cancel_others())
            if client is not None:
                self._run(client.aclose())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
