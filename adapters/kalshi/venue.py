"""Kalshi as an execution venue: the operations the order pipeline needs, on top of `KalshiClient`.

Submission is idempotent by client order id (the lifecycle order id): a duplicate id answers with
the order the venue already holds, and an unknown outcome is resolved with
`get_order_by_client_order_id`, which says "absent" only after reading every page (ADR 0230).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, TypeVar

from paulp.adapters.kalshi.client import KalshiClient, KalshiResponse
from paulp.adapters.kalshi.client_errors import (
    KalshiError,
    VenueConflict,
    VenueOutcomeUnknown,
    VenueResponseInvalid,
)
from paulp.adapters.kalshi.market_fields import (
    MarketFieldInvalid,
    book_level,
    contracts,
    count,
    money_cents,
    price_cents,
    quote_cents,
    whole_contracts,
)
from paulp.domain.execution_orders import MAX_PRICE_CENTS, MIN_PRICE_CENTS, MarketSnapshot, VenueOrder

log = logging.getLogger("paulp.kalshi")
T = TypeVar("T")
R = TypeVar("R")


class VenueOrderInvalid(KalshiError):
    """Raised before sending when an order could never be valid at the venue."""

    code = "venue_order_invalid"


class VenueLookupIncomplete(KalshiError):
    """Raised when the order list was not read to its end, so "not found" cannot be claimed."""

    code = "venue_lookup_incomplete"


class VenueOrderStatus(StrEnum):
    OPEN = "open"
    FILLED = "filled"
    CANCELLED = "cancelled"
    PENDING = "pending"


_STATUS = {
    "resting": VenueOrderStatus.OPEN, "open": VenueOrderStatus.OPEN, "pending": VenueOrderStatus.PENDING,
    "executed": VenueOrderStatus.FILLED, "filled": VenueOrderStatus.FILLED,
    "canceled": VenueOrderStatus.CANCELLED, "cancelled": VenueOrderStatus.CANCELLED,
    "closed": VenueOrderStatus.CANCELLED,
}


@dataclass(frozen=True)
class Evidenced(Generic[T]):
    """A venue answer and the evidence hashes of every body it was read from."""

    value: T
    evidence_hashes: tuple[str, ...]


@dataclass(frozen=True)
class VenueOrderRecord:
    order_id: str
    client_order_id: str | None
    ticker: str
    status: VenueOrderStatus
    side: str
    action: str
    type: str
    yes_price: int | None
    no_price: int | None
    count: int
    filled_count: int
    remaining_count: int
    created_time: str | None
    raw: dict[str, Any]
    # what the filled contracts cost, in cents of the order's own side (taker + maker fills); None when the
    # answer carries no fill cost. The venue fills at the resting price, so this is the real cost, not the limit.
    fill_cost_cents: Decimal | None = None
    # the order's fees so far (taker + maker), cents, sub-cent kept; None when the answer carries no fee field
    # (ADR 0437): unknown, not free
    fees_cents: Decimal | None = None


@dataclass(frozen=True)
class SubmitResult:
    order: VenueOrderRecord
    evidence_hashes: tuple[str, ...]
    duplicate: bool  # True: the venue already held this client order id; nothing new was placed


@dataclass(frozen=True)
class VenuePosition:
    """What Kalshi says the account holds in one market, exactly: a fraction of a contract is kept, so that
    reconciliation can flag it (ADR 0331)."""

    ticker: str
    yes_contracts: Decimal
    no_contracts: Decimal
    realized_pnl: Decimal | None  # cents
    resting_orders_count: int | None
    raw: dict[str, Any]
    # Kalshi's cost of the position in cents (``market_exposure_dollars`` / ``market_exposure``), exactly; None when
    # not sent or unreadable: a DR rebuild then records no cost and the exit monitor leaves the contracts alone
    # (ADR 0450)
    market_exposure: Decimal | None = None


@dataclass(frozen=True)
class OrderBook:
    """Bids on each side as (price cents, contracts), best first; asks are the other side's bids mirrored.
    A level's size is kept exactly: it is depth, not a holding (ADR 0331)."""

    ticker: str
    yes_bids: tuple[tuple[int, Decimal], ...]
    no_bids: tuple[tuple[int, Decimal], ...]

    @property
    def best_yes_bid(self) -> int | None:
        return self.yes_bids[0][0] if self.yes_bids else None

    @property
    def best_yes_ask(self) -> int | None:
        return 100 - self.no_bids[0][0] if self.no_bids else None


def _int(value: Any, default: int = 0) -> int:
    if value is None or isinstance(value, bool):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _opt_int(value: Any) -> int | None:
    return None if value is None else _int(value)


def fill_cost_cents(raw: dict[str, Any]) -> Decimal | None:
    """Taker plus maker fill cost of an order object (Trade API v2 ``taker_fill_cost``/``maker_fill_cost``,
    or their ``*_dollars`` forms), in cents; None when the order object reports neither."""
    parts = [c for c in (money_cents(raw, "taker_fill_cost"), money_cents(raw, "maker_fill_cost")) if c is not None]
    return sum(parts, Decimal(0)) if parts else None


def fees_cents(raw: dict[str, Any]) -> Decimal | None:
    """Taker plus maker fees of an order object, cumulative over its fills (Trade API v2 ``taker_fees`` /
    ``maker_fees`` integer cents, or ``taker_fees_dollars`` / ``maker_fees_dollars`` fixed-point dollars, read
    first), in cents; None when the object reports neither (ADR 0437)."""
    parts = [c for c in (money_cents(raw, "taker_fees"), money_cents(raw, "maker_fees")) if c is not None]
    return sum(parts, Decimal(0)) if parts else None


def _require_obj(resp: KalshiResponse, key: str) -> dict[str, Any]:
    value = resp.data.get(key)
    if not isinstance(value, dict):
        raise VenueResponseInvalid(f"response has no '{key}' object", status=resp.status,
                                   evidence_hash=resp.evidence_hash, fetch=resp.fetch)
    return value


def _require_list(resp: KalshiResponse, key: str) -> list[dict[str, Any]]:
    value = resp.data.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise VenueResponseInvalid(f"response '{key}' is not a list of objects", status=resp.status,
                                   evidence_hash=resp.evidence_hash, fetch=resp.fetch)
    return value


def _evidenced(resp: KalshiResponse, parse: Callable[[T], R], raw: T) -> R:
    """``parse(raw)``; a refusal carries the status and evidence hash of the body ``raw`` came from."""
    try:
        return parse(raw)
    except VenueResponseInvalid as exc:
        raise type(exc)(str(exc), status=resp.status, evidence_hash=resp.evidence_hash, fetch=resp.fetch) from None


def parse_order(raw: dict[str, Any]) -> VenueOrderRecord:
    """An order object; counts ``*_fp`` and prices ``*_dollars`` first (ADR 0330). Our orders are whole
    contracts: a fractional count is refused (`FractionalContracts`), as is any field that cannot be read."""
    status = _STATUS.get(str(raw.get("status", "")).lower())
    if status is None or not raw.get("order_id") or not raw.get("ticker"):
        raise VenueResponseInvalid(f"unreadable order record (status {raw.get('status')!r})")
    filled = _first_count(raw, "fill_count", "filled_count") or 0
    remaining = whole_contracts(raw, "remaining_count") or 0
    placed = _first_count(raw, "initial_count", "order_count")
    return VenueOrderRecord(
        order_id=str(raw["order_id"]), client_order_id=raw.get("client_order_id"), ticker=str(raw["ticker"]),
        status=status, side=str(raw.get("side", "")), action=str(raw.get("action", "")),
        type=str(raw.get("type", "")), yes_price=price_cents(raw, "yes_price"), no_price=price_cents(raw, "no_price"),
        count=filled + remaining if placed is None else placed, filled_count=filled, remaining_count=remaining,
        created_time=raw.get("created_time"), raw=raw, fill_cost_cents=fill_cost_cents(raw),
        fees_cents=fees_cents(raw),
    )


def _first_count(raw: dict[str, Any], *names: str) -> int | None:
    """The first of ``names`` the object sends (Trade API v2 name, then the reference's), in whole contracts."""
    return next((n for n in (whole_contracts(raw, name) for name in names) if n is not None), None)


def parse_position(raw: dict[str, Any]) -> VenuePosition:
    """Published shape: signed ``position_fp`` / ``position`` (positive YES, negative NO), fixed point first and a
    fraction kept; the reference's yes/no_contracts also read. Money ``*_dollars`` first, in cents."""
    net = contracts(raw, "position", signed=True)
    if net is not None:
        yes, no = max(net, Decimal(0)), max(-net, Decimal(0))
    else:
        yes, no = contracts(raw, "yes_contracts") or Decimal(0), contracts(raw, "no_contracts") or Decimal(0)
    return VenuePosition(str(raw.get("ticker", "")), yes, no, money_cents(raw, "realized_pnl"),
                         _opt_int(raw.get("resting_orders_count")), raw, _exposure(raw))


def _exposure(raw: dict[str, Any]) -> Decimal | None:
    """The position's cost, or None when Kalshi sent none we can read: only a DR rebuild's cost basis reads it
    (ADR 0450), so an unreadable one must not fail the positions read that reconciliation depends on."""
    try:
        return money_cents(raw, "market_exposure")
    except MarketFieldInvalid:
        log.warning("position %s: market_exposure unreadable; no cost taken", raw.get("ticker"))
        return None


def parse_orderbook(ticker: str, data: dict[str, Any]) -> OrderBook:
    """GET /markets/{ticker}/orderbook: ``orderbook_fp`` {``yes_dollars``, ``no_dollars``: [["0.4200", "13.00"]]}
    (today's API) or the legacy ``orderbook`` {``yes``, ``no``: [[42, 13]]}, either object possibly carrying
    both pairs; fixed point first. Levels come in any order and leave best (highest) first, empty ones dropped."""
    book = data.get("orderbook_fp") if isinstance(data.get("orderbook_fp"), dict) else data.get("orderbook")
    if not isinstance(book, dict):
        raise VenueResponseInvalid("response has no 'orderbook_fp' or 'orderbook' object")

    def side(name: str) -> tuple[tuple[int, Decimal], ...]:
        field = f"{name}_dollars" if book.get(f"{name}_dollars") is not None else name
        levels = book.get(field)
        if levels is None:
            return ()
        if not isinstance(levels, list):
            raise MarketFieldInvalid(f"field {field}: {levels!r} is not a list of levels")
        read = (book_level(level, field, fixed_point=field != name) for level in levels)
        return tuple(sorted(((p, n) for p, n in read if n > 0), reverse=True))

    return OrderBook(ticker, side("yes"), side("no"))


@dataclass(frozen=True)
class VenueTrade:
    """One public trade: YES price in whole cents, exact contracts, and the taker's side when Kalshi names it."""

    yes_price: int
    count: Decimal
    taker_side: str | None


def parse_trade(raw: dict[str, Any]) -> VenueTrade:
    """GET /markets/trades item: ``count_fp`` / ``yes_price_dollars`` first (ADRs 0321, 0330); a trade without a
    readable price or count, or priced outside 1..99, is refused rather than guessed."""
    price, size = price_cents(raw, "yes_price"), contracts(raw, "count")
    if price is None or size is None or not MIN_PRICE_CENTS <= price <= MAX_PRICE_CENTS or size <= 0:
        raise MarketFieldInvalid(f"trade {raw.get('trade_id')!r}: no price in 1..99 cents and positive count")
    side = str(raw.get("taker_side") or "").lower()
    return VenueTrade(price, size, side if side in ("yes", "no") else None)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def parse_market(raw: dict[str, Any]) -> MarketSnapshot:
    """The market object's quotes in whole cents, ``*_dollars`` preferred (ADR 0321); an empty side (bid 0,
    ask 100) is a missing quote (ADR 0305). Raises `MarketFieldInvalid` for a price it cannot read exactly."""
    return MarketSnapshot(
        ticker=str(raw.get("ticker", "")), status=str(raw.get("status", "")),
        yes_bid=quote_cents(raw, "yes_bid"), yes_ask=quote_cents(raw, "yes_ask"),
        no_bid=quote_cents(raw, "no_bid"), no_ask=quote_cents(raw, "no_ask"),
        volume_24h=count(raw, "volume_24h"),
        settlement_time=_time(raw.get("expected_expiration_time")), close_time=_time(raw.get("close_time")),
        category=raw.get("category"),
        result=_result(raw.get("result")),
    )


def _result(value: Any) -> str | None:
    """The market's determined outcome; an empty or unknown value means not determined yet."""
    text = str(value or "").strip().lower()
    return text if text in ("yes", "no", "void") else None


def order_body(order: VenueOrder) -> dict[str, Any]:
    """The POST body of §3.2; refuses orders the venue could only reject."""
    if not order.client_order_id:
        raise VenueOrderInvalid("client_order_id is required (it makes submission idempotent)")
    if order.side not in ("yes", "no") or order.action not in ("buy", "sell"):
        raise VenueOrderInvalid(f"side/action must be yes|no and buy|sell, got {order.side!r}/{order.action!r}")
    if order.count < 1:
        raise VenueOrderInvalid(f"count must be at least 1, got {order.count}")
    if order.type != "limit":
        raise VenueOrderInvalid(f"only limit orders are sent, got {order.type!r}")
    price = order.yes_price if order.side == "yes" else order.no_price
    other = order.no_price if order.side == "yes" else order.yes_price
    if price is None or other is not None or not MIN_PRICE_CENTS <= price <= MAX_PRICE_CENTS:
        raise VenueOrderInvalid(f"a {order.side} limit needs exactly its own price in 1..99 cents")
    # the integer fields and their fixed-point forms, equal: Kalshi will stop accepting the integers (ADR 0330)
    return {"ticker": order.ticker, "client_order_id": order.client_order_id, "side": order.side,
            "action": order.action, "count": order.count, "count_fp": f"{order.count}.00", "type": "limit",
            f"{order.side}_price": price, f"{order.side}_price_dollars": f"{Decimal(price) / 100:.4f}"}


class KalshiVenue:
    """Venue operations for the order pipeline; every result carries its evidence hashes."""

    def __init__(self, client: KalshiClient, *, page_limit: int = 100, max_pages: int = 50) -> None:
        self.client = client
        self.page_limit = page_limit
        self.max_pages = max_pages

    async def submit_order(self, order: VenueOrder) -> SubmitResult:
        """Place once. `VenueOutcomeUnknown` propagates; a duplicate id returns the venue's existing order, and
        one the venue reports in use but cannot show is an unknown outcome too (never a failure to resend on)."""
        body = order_body(order)
        try:
            resp = await self.client.create_order(body)
        except VenueConflict as conflict:  # the venue may hold this id: its order, or nothing we can name
            try:
                found = await self.get_order_by_client_order_id(order.client_order_id, ticker=order.ticker)
            except KalshiError as exc:
                raise VenueOutcomeUnknown(f"order {order.client_order_id}: id in use, lookup failed ({exc.code})",
                                          status=conflict.status, evidence_hash=conflict.evidence_hash,
                                          fetch=conflict.fetch) from exc
            if found.value is None:
                raise VenueOutcomeUnknown(f"order {order.client_order_id}: id in use but not listed",
                                          status=conflict.status, evidence_hash=conflict.evidence_hash,
                                          fetch=conflict.fetch) from conflict
            hashes = (conflict.evidence_hash,) if conflict.evidence_hash else ()
            return SubmitResult(found.value, hashes + found.evidence_hashes, duplicate=True)
        try:
            placed = self._order(resp)
        except VenueResponseInvalid as exc:  # accepted, but unreadable (a fractional fill too): it may well exist
            raise VenueOutcomeUnknown(f"order {order.client_order_id}: {exc}", status=resp.status,
                                      evidence_hash=resp.evidence_hash, fetch=resp.fetch,
                                      reason_code=exc.code) from None
        return SubmitResult(placed, (resp.evidence_hash,), duplicate=False)

    async def get_order_by_client_order_id(
        self, client_order_id: str, *, ticker: str | None = None
    ) -> Evidenced[VenueOrderRecord | None]:
        """Walk every page of our orders (narrowed by ticker); None only once the list is exhausted."""
        hashes: list[str] = []
        cursor: str | None = None
        for _ in range(self.max_pages):
            resp = await self.client.get_orders(ticker=ticker, limit=self.page_limit, cursor=cursor)
            hashes.append(resp.evidence_hash)
            for raw in _require_list(resp, "orders"):
                if raw.get("client_order_id") == client_order_id:
                    return Evidenced(_evidenced(resp, parse_order, raw), tuple(hashes))
            cursor = resp.data.get("cursor") or None
            if cursor is None:
                return Evidenced(None, tuple(hashes))
        raise VenueLookupIncomplete(
            f"client order id {client_order_id}: {self.max_pages} pages read without reaching the end")

    async def get_order(self, order_id: str) -> Evidenced[VenueOrderRecord]:
        resp = await self.client.get_order(order_id)
        return Evidenced(self._order(resp), (resp.evidence_hash,))

    async def cancel_order(self, order_id: str) -> Evidenced[VenueOrderRecord]:
        resp = await self.client.cancel_order(order_id)
        return Evidenced(self._order(resp), (resp.evidence_hash,))

    async def list_positions(
        self, *, ticker: str | None = None, event_ticker: str | None = None
    ) -> Evidenced[tuple[VenuePosition, ...]]:
        hashes: list[str] = []
        positions: list[VenuePosition] = []
        cursor: str | None = None
        for _ in range(self.max_pages):
            resp = await self.client.get_positions(ticker=ticker, event_ticker=event_ticker,
                                                   limit=self.page_limit, cursor=cursor)
            hashes.append(resp.evidence_hash)
            positions.extend(_evidenced(resp, parse_position, raw) for raw in _require_list(resp, "market_positions"))
            cursor = resp.data.get("cursor") or None
            if cursor is None:
                return Evidenced(tuple(positions), tuple(hashes))
        raise VenueLookupIncomplete(f"positions: {self.max_pages} pages read without reaching the end")

    async def list_markets(self, *, max_pages: int = 1) -> Evidenced[tuple[dict[str, Any], ...]]:
        """The raw market catalogue, at most ``max_pages`` pages (a bounded scan, not a full crawl)."""
        hashes: list[str] = []
        markets: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(max(1, min(max_pages, self.max_pages))):
            resp = await self.client.get_markets(limit=self.page_limit, cursor=cursor)
            hashes.append(resp.evidence_hash)
            markets.extend(_require_list(resp, "markets"))
            cursor = resp.data.get("cursor") or None
            if cursor is None:
                break
        return Evidenced(tuple(markets), tuple(hashes))

    async def get_market(self, ticker: str) -> Evidenced[MarketSnapshot]:
        resp = await self.client.get_market(ticker)  # evidenced: a refused body is stored, its prices are not used
        return Evidenced(_evidenced(resp, parse_market, _require_obj(resp, "market")), (resp.evidence_hash,))

    async def get_orderbook(self, ticker: str, *, depth: int | None = None) -> Evidenced[OrderBook]:
        resp = await self.client.get_orderbook(ticker, depth=depth)
        return Evidenced(_evidenced(resp, lambda data: parse_orderbook(ticker, data), resp.data),
                         (resp.evidence_hash,))

    async def get_trades(self, ticker: str, *, limit: int = 1000) -> Evidenced[tuple[VenueTrade, ...]]:
        """The market's latest trades (one page, newest first as Kalshi sends them)."""
        resp = await self.client.get_trades(ticker, limit=limit)
        items = _require_list(resp, "trades")
        return Evidenced(_evidenced(resp, lambda raw: tuple(parse_trade(t) for t in raw), items),
                         (resp.evidence_hash,))

    @staticmethod
    def _order(resp: KalshiResponse) -> VenueOrderRecord:
        return _evidenced(resp, parse_order, _require_obj(resp, "order"))
