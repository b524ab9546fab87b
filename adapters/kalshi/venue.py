"""Kalshi as an execution venue: the operations the order pipeline needs, on top of `KalshiClient`.

Submission is idempotent by client order id (the lifecycle order id): a duplicate id answers with
the order the venue already holds, and an unknown outcome is resolved with
`get_order_by_client_order_id`, which says "absent" only after reading every page (ADR 0230).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Generic, TypeVar

from paulp.adapters.kalshi.client import KalshiClient, KalshiResponse
from paulp.adapters.kalshi.client_errors import (
    KalshiError,
    VenueConflict,
    VenueOutcomeUnknown,
    VenueResponseInvalid,
)
from paulp.adapters.kalshi.market_fields import MarketFieldInvalid, count, quote_cents
from paulp.domain.execution_orders import MAX_PRICE_CENTS, MIN_PRICE_CENTS, MarketSnapshot, VenueOrder

T = TypeVar("T")


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


@dataclass(frozen=True)
class SubmitResult:
    order: VenueOrderRecord
    evidence_hashes: tuple[str, ...]
    duplicate: bool  # True: the venue already held this client order id; nothing new was placed


@dataclass(frozen=True)
class VenuePosition:
    ticker: str
    yes_contracts: int
    no_contracts: int
    realized_pnl: int | None
    resting_orders_count: int | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class OrderBook:
    """Bids on each side as (price cents, count), best first; asks are the other side's bids mirrored."""

    ticker: str
    yes_bids: tuple[tuple[int, int], ...]
    no_bids: tuple[tuple[int, int], ...]

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


def _money_cents(raw: dict[str, Any], name: str) -> Decimal | None:
    """A money field in cents: the fixed-point ``<name>_dollars`` string when present (exact, sub-cent), else
    the legacy integer ``<name>`` in cents; None when neither is there or it is unreadable."""
    dollars = raw.get(f"{name}_dollars")
    if isinstance(dollars, str | int | float) and not isinstance(dollars, bool):
        try:
            value = Decimal(str(dollars)) * 100
        except InvalidOperation:
            return None
        return value if value.is_finite() else None
    cents = raw.get(name)
    if isinstance(cents, int | float) and not isinstance(cents, bool):
        return Decimal(str(cents))
    return None


def _fixed(value: Any, scale: int = 1) -> int | None:
    """A fixed-point string of newer API versions (``"10.00"`` contracts; ``"0.520000"`` dollars with scale 100)
    as a whole number; None when absent, unreadable or not whole."""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value)) * scale
    except InvalidOperation:
        return None
    return int(number) if number.is_finite() and number == number.to_integral_value() else None


def _price(raw: dict[str, Any], side: str) -> int | None:
    """The order's ``<side>_price`` in cents; newer API versions send only ``<side>_price_dollars``."""
    if raw.get(f"{side}_price") is not None:
        return _opt_int(raw.get(f"{side}_price"))
    return _fixed(raw.get(f"{side}_price_dollars"), 100)


def fill_cost_cents(raw: dict[str, Any]) -> Decimal | None:
    """Taker plus maker fill cost of an order object (Trade API v2 ``taker_fill_cost``/``maker_fill_cost``,
    or their ``*_dollars`` forms), in cents; None when the order object reports neither."""
    parts = [c for c in (_money_cents(raw, "taker_fill_cost"), _money_cents(raw, "maker_fill_cost")) if c is not None]
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


def parse_order(raw: dict[str, Any]) -> VenueOrderRecord:
    status = _STATUS.get(str(raw.get("status", "")).lower())
    if status is None or not raw.get("order_id") or not raw.get("ticker"):
        raise VenueResponseInvalid(f"unreadable order record (status {raw.get('status')!r})")
    filled = _int(raw.get("fill_count", raw.get("filled_count", _fixed(raw.get("fill_count_fp")))))
    remaining = _int(raw.get("remaining_count", _fixed(raw.get("remaining_count_fp"))))
    count = _int(raw.get("initial_count", raw.get("order_count", _fixed(raw.get("initial_count_fp")))),
                 filled + remaining)
    return VenueOrderRecord(
        order_id=str(raw["order_id"]), client_order_id=raw.get("client_order_id"), ticker=str(raw["ticker"]),
        status=status, side=str(raw.get("side", "")), action=str(raw.get("action", "")),
        type=str(raw.get("type", "")), yes_price=_price(raw, "yes"), no_price=_price(raw, "no"),
        count=count, filled_count=filled, remaining_count=remaining,
        created_time=raw.get("created_time"), raw=raw, fill_cost_cents=fill_cost_cents(raw),
    )


def parse_position(raw: dict[str, Any]) -> VenuePosition:
    """Published shape: signed `position` (positive YES, negative NO); the reference's yes/no_contracts also read."""
    if "position" in raw:
        net = _int(raw.get("position"))
        yes, no = max(net, 0), max(-net, 0)
    else:
        yes, no = _int(raw.get("yes_contracts")), _int(raw.get("no_contracts"))
    return VenuePosition(str(raw.get("ticker", "")), yes, no, _opt_int(raw.get("realized_pnl")),
                         _opt_int(raw.get("resting_orders_count")), raw)


def _levels(raw: Any) -> tuple[tuple[int, int], ...]:
    """`[[price, count], …]` in any order → best (highest) first."""
    if not isinstance(raw, list):
        return ()
    levels = [(_int(p), _int(c)) for p, c, *_ in (lvl for lvl in raw if isinstance(lvl, list) and len(lvl) >= 2)]
    return tuple(sorted(((p, c) for p, c in levels if c > 0), reverse=True))


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
    return {"ticker": order.ticker, "client_order_id": order.client_order_id, "side": order.side,
            "action": order.action, "count": order.count, "type": "limit", f"{order.side}_price": price}


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
        except VenueResponseInvalid as exc:  # accepted, but unreadable: the order may well exist
            raise VenueOutcomeUnknown(f"order {order.client_order_id}: {exc}", status=resp.status,
                                      evidence_hash=resp.evidence_hash, fetch=resp.fetch) from None
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
                    return Evidenced(parse_order(raw), tuple(hashes))
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
            positions.extend(parse_position(raw) for raw in _require_list(resp, "market_positions"))
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
        resp = await self.client.get_market(ticker)
        try:
            snapshot = parse_market(_require_obj(resp, "market"))
        except MarketFieldInvalid as exc:  # evidenced: the body is stored, its prices are not used
            raise MarketFieldInvalid(str(exc), status=resp.status, evidence_hash=resp.evidence_hash,
                                     fetch=resp.fetch) from None
        return Evidenced(snapshot, (resp.evidence_hash,))

    async def get_orderbook(self, ticker: str, *, depth: int | None = None) -> Evidenced[OrderBook]:
        resp = await self.client.get_orderbook(ticker, depth=depth)
        book = _require_obj(resp, "orderbook")
        return Evidenced(OrderBook(ticker, _levels(book.get("yes")), _levels(book.get("no"))), (resp.evidence_hash,))

    @staticmethod
    def _order(resp: KalshiResponse) -> VenueOrderRecord:
        raw = _require_obj(resp, "order")
        try:
            return parse_order(raw)
        except VenueResponseInvalid as exc:
            raise VenueResponseInvalid(str(exc), status=resp.status, evidence_hash=resp.evidence_hash,
                                       fetch=resp.fetch) from None
