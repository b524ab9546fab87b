"""The scan and execute steps of §7.1 over the one order pipeline (trading §1.7).

- scan: each enabled strategy (capital allocation, §5.7) is asked for signals; each executable signal
  becomes one order in PENDING (no stage runs yet). A strategy whose inputs are unavailable is skipped and
  says why; when no strategy could be scanned the job fails.
- execute: the ≤ 10 oldest orders in PENDING / VALIDATED / RISK_APPROVED are resumed through
  ``OrderPipeline.advance`` with market facts read from Kalshi now. An order whose market cannot be read
  is left untouched (a transient outage must not fail it for good); an exception inside the pipeline puts
  that order in ERROR with the message (§7.1), except a lost optimistic-concurrency race: the writer that
  saved first (e.g. another run that got the venue's answer) stands. A LIVE strategy's order with no
  credentials fails the job before anything is touched.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from paulp.adapters.eventstore.codec import decode
from paulp.adapters.kalshi.market_fields import MarketFieldInvalid, count, last_price_cents, quote_cents
from paulp.adapters.kalshi.port import KalshiVenuePort
from paulp.adapters.kalshi.venue import OrderBook, VenueTrade, parse_market
from paulp.api.venue_session import (
    JobFailed,
    kalshi_port,
    nothing_read,
    require_credentials,
    venue_call,
    venue_failure,
)
from paulp.api.weather_scan import scan_weather
from paulp.domain.book_depth import BookLevels
from paulp.domain.capital import StrategyAllocation
from paulp.domain.execution import execution_priority, throttle_wait_ms
from paulp.domain.execution_orders import MarketSnapshot
from paulp.domain.execution_policy import ExecutionMode, mode_for_strategy
from paulp.domain.execution_quality import taker_flow, vpin_or_none
from paulp.domain.order_states import OPEN_STATES, TERMINAL_STATES, WORKING_STATES, OrderState
from paulp.domain.order_workflow import requested_size_from_target
from paulp.domain.orders import Order
from paulp.domain.ports import MarketFacts
from paulp.domain.prices import prob_to_cents
from paulp.domain.risk import foreseeable_refusals
from paulp.domain.risk_input import UNKNOWN_CATEGORY, Position, RiskRequest
from paulp.domain.risk_limits import adjusted_limits
from paulp.domain.services.fair_values import FairValueService
from paulp.domain.services.pipeline import EXECUTE_STATES, OrderPipeline
from paulp.domain.strategies.bonding import allocate
from paulp.domain.strategies.bonding_signals import (
    BondingSignal,
    CatalogueMarket,
    bond_candidates,
    bonding_signals,
    tail_candidates,
)
from paulp.domain.strategies.weather import VENUE as WEATHER_VENUE
from paulp.domain.strategies.weather import WeatherSignal
from paulp.domain.throttle import throttle_scope

log = logging.getLogger("paulp.orders.execute")
EXECUTE_BATCH = 10
MAX_THROTTLE_WAIT_S = 30.0  # a batch waits out its throttle up to this much in all, then defers the rest
CATALOGUE_PAGES = 5
CHANGED_CONCURRENTLY = "order changed concurrently by another writer; left as that writer recorded it"
ORDER_CREATED = get_topic(Order.Created)
EXECUTED = frozenset({OrderState.SUBMITTED, OrderState.ORDER_ACKNOWLEDGED, OrderState.PARTIAL_FILL,
                      OrderState.FILLED})


class StrategyUnavailable(Exception):
    """Raised by a strategy scanner whose inputs cannot be had; the strategy is skipped with this reason."""


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


# ----------------------------------------------------------------------------------------------- scan


def catalogue_market(raw: dict[str, Any]) -> CatalogueMarket | None:
    """A Kalshi market as the bonding screen reads it: the two-sided YES mid, else the last trade; None when it
    has no usable price. Prices are read as the execute step reads them (``*_dollars`` first, ADR 0321) under the
    one no-quote rule (an empty side is no quote, ADR 0305); a market whose prices cannot be read exactly is left
    out."""
    try:
        bid, ask = quote_cents(raw, "yes_bid"), quote_cents(raw, "yes_ask")
        last = last_price_cents(raw)
        volume_24h, volume = count(raw, "volume_24h"), count(raw, "volume")
    except MarketFieldInvalid as exc:
        log.warning("catalogue market %s left out: %s", raw.get("ticker"), exc)
        return None
    book = (bid, ask) if bid is not None and ask is not None and bid <= ask else None
    cents = (book[0] + book[1]) / 2 if book else last
    if cents is None or not 0 < cents < 100 or not raw.get("ticker"):
        return None
    return CatalogueMarket(
        market_id=str(raw["ticker"]), active=str(raw.get("status", "")).lower() in ("active", "open"),
        yes_price=cents / 100, average_spread=(book[1] - book[0]) / 100 if book else 1.0,
        peak_volume_24h=volume_24h or 0.0, volume=volume or 0.0,
        category=str(raw.get("category") or ""), description=str(raw.get("title") or ""),
    )


def catalogue_reader(port: KalshiVenuePort) -> Callable[[], tuple[dict[str, Any], ...]]:
    """One catalogue read per scan, shared by the strategies; a read that failed is tried again by the next."""
    read: list[tuple[dict[str, Any], ...]] = []

    def catalogue() -> tuple[dict[str, Any], ...]:
        if not read:
            read.append(venue_call("market catalogue read", port.markets, CATALOGUE_PAGES).value)
        return read[0]

    return catalogue


def scan_bonding(read_catalogue: Callable[[], tuple[dict[str, Any], ...]], capital: float, now: datetime,
                 fair_values: FairValueService) -> tuple[list[BondingSignal], int]:
    """Signals with the operators' fair probabilities current at ``now``, read from the log for the allocated
    markets (ADR 0277): none current, no bond has edge and only tails are signalled."""
    found = read_catalogue()
    catalogue = [m for m in (catalogue_market(raw) for raw in found) if m is not None]
    allocation = allocate(capital, bond_candidates(catalogue), tail_candidates(catalogue))
    allocated = [p.bond.market_id for p in allocation.bond_positions]
    allocated += [p.tail.market_id for p in allocation.tail_positions]
    return bonding_signals(allocation, now, fair_values.current(allocated, now)), len(found)


# Orders created in the log after the last event the orders view applied: the view does not show them yet (ADR 0517).
NOT_YET_VIEWED = (
    "SELECT originator_id, originator_version, topic, state FROM paulp_events WHERE notification_id >"
    " coalesce((SELECT last_notification_id FROM projection_tracking WHERE name = %s), 0) AND topic = %s"
    " ORDER BY notification_id"
)


def _not_yet_viewed(container: Any) -> list[Any]:
    """The ``Order.Created`` events the orders view has not applied yet (a run just before this one, a lagging or
    stopped projector): each is an open order for the scan, whatever it became since (ADR 0517). Without them a
    scan right after another one, a retried trigger, made every order of the first again under new signal ids."""
    mapper = container.orders.mapper
    with container.pool.connection() as conn:
        rows = conn.execute(NOT_YET_VIEWED, (container.projections["orders"].name, ORDER_CREATED)).fetchall()
    return [decode(mapper, o, v, t, bytes(s)) for o, v, t, s in rows]


def _open_keys(container: Any, unseen: Iterable[Any] = ()) -> set[tuple[str, str, str]]:
    with container.pool.connection() as conn:
        rows = conn.execute("SELECT strategy, ticker, side FROM views.orders WHERE state = ANY(%s)",
                            ([s.value for s in OPEN_STATES],)).fetchall()
    return {(s, t, d) for s, t, d in rows} | {(e.strategy, e.ticker, e.side) for e in unseen}


def _terms(sig: BondingSignal | WeatherSignal) -> tuple[str, str, float, float, float, float]:
    """(venue, side, price of that side, model P(YES), edge, confidence): a NO order is limited at 1 - YES."""
    if isinstance(sig, WeatherSignal):
        e = sig.edge
        price = e.market_price if e.side == "YES" else 1 - e.market_price
        return WEATHER_VENUE, e.side, price, e.model_probability, e.edge, e.confidence
    edge = sig.fair_probability - sig.market_price  # §6.3: a fraction, as the queue priority reads it
    return sig.venue, sig.side, sig.market_price, sig.fair_probability, edge, sig.confidence


def max_position_usd(container: Any, strategy: str, breaker_state: str) -> float:
    """§5.7's largest position for ``strategy``: its allocation's capital * max position % (both go-live's once
    approved, read where the risk check reads its portfolio value, ADR 0389), within what the risk check will
    allow in the breaker's current state (§2.1: CAUTION halves I1's limit, RECOVERY takes 75 %, HALT zero; I15's
    order maximum likewise); 0 for a strategy without an allocation, so nothing is sized for it."""
    allocation: StrategyAllocation | None = container.capital_allocation(strategy)
    if allocation is None:
        return 0.0
    limits = adjusted_limits(container.risk_limits(), breaker_state)
    return min(allocation.capital * min(allocation.max_position_pct, limits.max_position_pct) / 100,
               limits.max_order_size)


def create_orders(container: Any, strategy: str, signals: Iterable[BondingSignal | WeatherSignal],
                  now: datetime, markets: Mapping[str, MarketFacts] | None = None) -> tuple[int, Counter[str]]:
    """One PENDING order per executable signal: contracts = floor(USD / limit), at most one open order per
    (strategy, market, side) (§1.7, §1.8); a signal already turned into an order is a no-op. Returns the
    orders created and, per invariant, the signals left out because the book has no room for them.

    The USD is capped at the strategy's maximum position (§5.7: capital * max position %, the limit I1 then
    checks): a bond's barbell slot (20 % of the bond bucket, 18 % of capital) sent whole would be refused by
    I1 every time, and three such refusals in a row halt all trading (ADR 0288). For the same reason a signal
    whose order would break an exposure limit (I1-I4) against the book as it will stand when this scan's
    orders and the open ones have filled, or whose market settles within I11's horizon, is not turned into
    an order (ADR 0316). ``markets`` holds the catalogue's facts per ticker, read as the execute step reads
    a market (``market_facts``): category (missing: "unknown") and settlement date."""
    markets = markets or {}
    unseen = _not_yet_viewed(container)
    open_keys, created, skipped = _open_keys(container, unseen), 0, Counter[str]()
    limits, breaker_state = container.risk_limits(), container.breaker.get().state.value
    cap_usd = max_position_usd(container, strategy, breaker_state)
    mode = container.execution_mode(strategy).value
    book_at, pending = container.portfolio().snapshots(strategy, mode), _open_exposure(container, markets, unseen)
    for sig in signals:
        venue, side, price, model, edge, confidence = _terms(sig)
        limit = prob_to_cents(price)
        usd = min(sig.target_size, cap_usd)
        size = requested_size_from_target(usd, limit) if 1 <= limit <= 99 else 0
        key = (strategy, sig.market_id, side)
        if breaker_state == "HALT" and venue == "kalshi" and key not in open_keys:
            skipped["I16_CIRCUIT_BREAKER_STATE"] += 1  # HALT sizes every order to zero: say why none was made
            continue
        if size < 1 or venue != "kalshi" or key in open_keys:
            continue
        known = markets.get(sig.market_id)
        category = known.category if known else UNKNOWN_CATEGORY
        request = RiskRequest(market_id=sig.market_id, size=size * limit / 100, category=category, side=side,
                              price=limit / 100, strategy=strategy, market_price=limit / 100,
                              settlement_date=known.settlement_date if known else None)
        book = book_at(sig.market_id, category)
        refusals = foreseeable_refusals(request, replace(book, positions=book.positions + tuple(pending)), limits,
                                        breaker_state, now)
        if refusals:
            skipped.update(str(v.invariant_id) for v in refusals)
            log.info("%s signal %s on %s left out: %s", strategy, sig.signal_id, sig.market_id,
                     "; ".join(v.message for v in refusals))
            continue
        order = Order.create(signal_id=sig.signal_id, strategy=strategy, ticker=sig.market_id, side=side,
                             requested_size=size, max_price=limit, now=now,
                             signal_model_probability=model, signal_edge=edge,
                             signal_confidence=confidence, signal_expires_at=sig.expires_at)
        if container.orders.find(order.order_id) is None:
            container.orders.save(order)
            open_keys.add(key)
            pending.append(Position(sig.market_id, category, request.size))
            created += 1
    return created, skipped


def _open_exposure(container: Any, markets: Mapping[str, MarketFacts], unseen: Iterable[Any] = ()) -> list[Position]:
    """Open orders' unfilled contracts as the positions they become when they fill (their filled part is in
    views.positions already): the book the next orders will be checked against. Orders the view does not show
    yet count whole (``unseen``)."""
    with container.pool.connection() as conn:
        rows = conn.execute(
            "SELECT ticker, category, (requested_size - coalesce(filled_size, 0)) * max_price FROM views.orders"
            " WHERE state = ANY(%s) AND requested_size > coalesce(filled_size, 0)",
            ([s.value for s in OPEN_STATES],)).fetchall()
    rows += [(e.ticker, None, e.requested_size * e.max_price) for e in unseen]
    return [Position(t, c or (markets[t].category if t in markets else UNKNOWN_CATEGORY), float(cents) / 100)
            for t, c, cents in rows]


def _scan_one(container: Any, read_catalogue: Callable[[], tuple[dict[str, Any], ...]],
              read_facts: Callable[[], dict[str, MarketFacts]], alloc: StrategyAllocation,
              now: datetime) -> dict[str, Any]:
    row: dict[str, Any] = {"strategy": alloc.strategy, "capital": alloc.capital, "signalCount": 0}
    signals: list[BondingSignal] | list[WeatherSignal]
    try:
        if alloc.strategy == "bonding":
            signals, markets = scan_bonding(read_catalogue, alloc.capital, now, container.fair_values)
            row["marketsScanned"] = markets
        elif alloc.strategy == "weather":
            signals, figures = scan_weather(container, read_catalogue, alloc.capital, now)
            row.update(figures)
        else:
            raise StrategyUnavailable(f"no signal source is wired for {alloc.strategy}")
    except JobFailed as exc:
        return {**row, "error": exc.message}
    except StrategyUnavailable as exc:
        return {**row, "error": str(exc)}
    row["signalCount"] = len(signals)
    created, skipped = create_orders(container, alloc.strategy, signals, now, read_facts())
    row["ordersCreated"], row["skippedAtRiskLimits"] = created, dict(skipped)
    return row


def scan_signals(container: Any) -> dict[str, Any]:
    """§7.1 resolution: the strategies whose allocation is enabled, each sized with its allocation's capital
    (the capital-allocation view; §5.7's static row only where no allocation event exists). An unreadable view
    fails the run before anything is read or made: the static table is never a silent fallback (ADR 0389)."""
    started, now = time.monotonic(), container.clock.now()
    try:
        enabled = [a for a in container.capital_allocations().values() if a.enabled]
    except Exception as exc:
        log.exception("scan: capital allocations unreadable")
        raise JobFailed("capital_allocations_unavailable", "The capital allocations could not be read"
                        f" ({type(exc).__name__}); no strategy was scanned") from exc
    with kalshi_port(container.settings) as (port, _):
        read_catalogue = catalogue_reader(port)
        facts: list[dict[str, MarketFacts]] = []  # the catalogue parsed once per scan, for every strategy

        def read_facts() -> dict[str, MarketFacts]:
            if not facts:
                facts.append(catalogue_facts(read_catalogue(), now))
            return facts[0]

        rows = [_scan_one(container, read_catalogue, read_facts, alloc, now) for alloc in enabled]
    # §7.1: "a failing strategy is skipped" — each row carries its own error and the report is the job's
    # result; the job itself fails only on an exception (502), not because every strategy was skipped.
    return {"scanned": True, "strategies": rows, "totalSignals": sum(r["signalCount"] for r in rows),
            "ordersCreated": sum(r.get("ordersCreated", 0) for r in rows), "durationMs": _ms(started)}


# -------------------------------------------------------------------------------------------- execute


def market_facts(snap: MarketSnapshot, read_at: datetime, book: BookLevels | None = None,
                 vpin_score: float | None = None) -> MarketFacts:
    """A Kalshi market as the pre-trade and risk checks see it: one reading for the execute step and the scans
    (which read no order book: their facts only pre-check exposure and settlement)."""
    return MarketFacts(snapshot=snap, category=snap.category or UNKNOWN_CATEGORY, book=book, vpin_score=vpin_score,
                       settlement_date=snap.settlement_time or snap.close_time, last_price_update=read_at)


def book_levels(book: OrderBook) -> BookLevels:
    return BookLevels.of(book.yes_bids, book.no_bids)


def recent_vpin(snap: MarketSnapshot, trades: Iterable[VenueTrade]) -> float | None:
    """§5.6 VPIN over the latest page of the market's trades (sent newest first), oldest first as buckets fill;
    a trade without a taker side is judged against the YES mid now (a missing quote counts as 50, §4.7). None
    when they fill no $1000 bucket (ADR 0373)."""
    mid = ((snap.yes_bid if snap.yes_bid is not None else 50) + (snap.yes_ask if snap.yes_ask is not None else 50)) / 2
    flow = [taker_flow(t.yes_price, float(t.count), t.taker_side, mid) for t in reversed(tuple(trades))]
    return vpin_or_none(flow)


def catalogue_facts(catalogue: Iterable[dict[str, Any]], read_at: datetime) -> dict[str, MarketFacts]:
    """The catalogue's markets as facts, by ticker; a market whose record cannot be read is left out (its
    signal, if any, is then checked only at execution, as before)."""
    out: dict[str, MarketFacts] = {}
    for raw in catalogue:
        try:
            snap = parse_market(raw)
        except Exception:  # one odd record must not stop the scan; the check still runs at execution
            log.warning("catalogue market %r unreadable for the scan's pre-check", raw.get("ticker"))
            continue
        if snap.ticker:
            out[snap.ticker] = market_facts(snap, read_at)
    return out


class VenueMarketData:
    """Market facts read from Kalshi for this run only; a market that could not be read has no facts."""

    def __init__(self, port: KalshiVenuePort, now: datetime) -> None:
        self.port, self.now = port, now
        self._facts: dict[str, MarketFacts] = {}

    def load(self, tickers: Iterable[str]) -> dict[str, str]:
        """Read each market, its order book and its latest trades once; returns ticker -> failure code for those
        that could not be read whole (an unread book or trade page is no market data: the order waits)."""
        failed: dict[str, str] = {}
        for ticker in sorted(set(tickers)):
            what = "market read"
            try:
                snap = self.port.market(ticker).value
                what = "order book read"
                book = book_levels(self.port.orderbook(ticker).value)
                what = "trades read"
                vpin = recent_vpin(snap, self.port.trades(ticker).value)
            except Exception as exc:
                failed[ticker] = venue_failure(exc, what).code
                continue
            self._facts[ticker] = market_facts(snap, self.now, book, vpin)
        return failed

    def facts(self, ticker: str) -> MarketFacts | None:
        return self._facts.get(ticker)


def resumable_orders(container: Any, limit: int = EXECUTE_BATCH) -> list[tuple[str, str, str]]:
    """The oldest orders to drive on, and any LIVE submission left SUBMITTING by a process that died."""
    with container.pool.connection() as conn:
        rows = conn.execute("SELECT order_id, strategy, ticker FROM views.orders WHERE state = ANY(%s)"
                            " ORDER BY created_at, order_id LIMIT %s",
                            ([s.value for s in EXECUTE_STATES], limit)).fetchall()
    return [(o, s, t) for o, s, t in rows]


def _record_error(container: Any, order_id: str, message: str) -> None:
    """§1.4.12 for an order the step failed on, as the log holds it (not the half-driven copy). An order that
    may be at Kalshi (SUBMITTING, or working there) keeps the error without going to ERROR: ERROR is
    retryable, and a retry would send it again; ``advance`` settles it by client order id (ADR 0293)."""
    order = container.orders.find(order_id)
    if order is None or order.state in TERMINAL_STATES:
        return
    now = container.clock.now()
    if order.state == OrderState.SUBMITTING or order.state in WORKING_STATES:
        order.note_error(message, now)
    else:
        order.record_error(message, now)
    try:
        container.orders.save(order)
    except Exception:  # the store that failed the step may fail this too: the batch goes on
        log.exception("order %s: its error could not be recorded", order_id)


def by_priority(rows: list[tuple[str, str, str]], orders: Mapping[str, Order | None]) -> list[tuple[str, str, str]]:
    """§5.2 queue order: priority (edge and confidence of the order's signal) desc, then first created (the
    rows come oldest first and the sort is stable)."""
    def priority(row: tuple[str, str, str]) -> int:
        order = orders.get(row[0])
        return 0 if order is None else execution_priority(order.signal_edge or 0.0, order.signal_confidence or 0.5)
    return sorted(rows, key=priority, reverse=True)


def _submitting(order: Order | None) -> bool:
    """A cut-off submission is only looked up, never sent: it does not wait for the throttle."""
    return order is not None and order.state == OrderState.SUBMITTING


def throttle_wait_s(container: Any, strategy: str, modes: Mapping[str, ExecutionMode]) -> float:
    """Seconds before the throttle this strategy's next order counts on (its mode's, shared by every strategy,
    ADR 0307: spacing, per-minute and per-hour counts, read from its log) would let it through."""
    mode = mode_for_strategy(strategy, modes)
    throttle = container.orders.throttle(throttle_scope(mode))
    if throttle is None or mode is ExecutionMode.DISABLED:  # a disabled strategy's order is rejected, not held
        return 0.0
    now = container.clock.now()
    return throttle_wait_ms(throttle.current(now), container.execution_policy(strategy, mode), now) / 1000


# Where an unanswered risk question leaves an order, and what the report says when the order names no error:
# RISK_CHECK waits for the order timers' retry, RISK_APPROVED for the next execute run's re-check.
UNANSWERED = {OrderState.RISK_CHECK: "risk check not answered", OrderState.RISK_APPROVED: "risk re-check not answered"}


def execute_pending(container: Any, max_wait_s: float = MAX_THROTTLE_WAIT_S) -> dict[str, Any]:
    """Drive the resumable orders in queue order, waiting out each strategy's throttle between them (order
    spacing, §5.2; a full minute or hour) so that a batch never has its own throttle reject a valid order.
    An order whose wait would take the run past ``max_wait_s`` in all stays PENDING for the next run
    ("deferred")."""
    started = time.monotonic()
    report: dict[str, Any] = {"processed": 0, "executed": [], "rejected": [], "errors": [], "deferred": []}
    rows = resumable_orders(container)
    if not rows:
        return {**report, "durationMs": _ms(started)}
    modes = container.execution_modes()
    live = any(mode_for_strategy(strategy, modes) is ExecutionMode.LIVE for _, strategy, _ in rows)
    with kalshi_port(container.settings) as (port, client):
        if live:
            require_credentials(client, "a LIVE strategy's order cannot be submitted")
        market = VenueMarketData(port, container.clock.now())
        unread = market.load(t for _, _, t in rows)
        if len(unread) == len({t for _, _, t in rows}):
            raise nothing_read(unread.values())
        pipeline = OrderPipeline(container.orders, container.breaker, container.execution, market,
                                 container.portfolio(), port if live else None,
                                 modes=modes, limits=container.limit_settings, policies=container.execution_policies,
                                 scoring=container.scoring())
        waited = 0.0
        loaded = {order_id: container.orders.find(order_id) for order_id, _, _ in rows}  # read once for both
        for order_id, strategy, ticker in by_priority(rows, loaded):
            if ticker in unread:
                report["errors"].append({"orderId": order_id, "error": f"market data unavailable ({unread[ticker]})"})
                continue
            wait = 0.0 if _submitting(loaded[order_id]) else throttle_wait_s(container, strategy, modes)
            if wait > 0:
                if waited + wait > max_wait_s:
                    report["deferred"].append(order_id)
                    continue
                container.clock.sleep(wait)
                waited += wait
            report["processed"] += 1
            try:
                outcome = pipeline.advance(order_id)
                state = OrderState(outcome.state)
            except IntegrityError:  # another writer saved the order first: what it recorded stands (not ERROR)
                report["errors"].append({"orderId": order_id, "error": CHANGED_CONCURRENTLY})
                continue
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}"[:300]
                _record_error(container, order_id, message)
                report["errors"].append({"orderId": order_id, "error": message})
                continue
            if state in EXECUTED:
                report["executed"].append(order_id)
            elif state in TERMINAL_STATES:
                report["rejected"].append(order_id)
            elif state in UNANSWERED:  # the governor did not answer (ADRs 0319, 0334)
                report["errors"].append({"orderId": order_id, "error": outcome.last_error or UNANSWERED[state]})
    return {**report, "durationMs": _ms(started)}
