"""A loopback Kalshi trade API for tests: real HTTP on 127.0.0.1, real RSA-PSS verification (ADR 0231).

Markets, order books and candlesticks come from recorded venue candles (tests/fakes/data/kalshi, a copy
of shared/data/kalshi, or `PAULP_KALSHI_DATA_DIR`). Markets, orders, positions and the order book are sent with
integer and fixed-point fields, or either alone (`shape`, ADRs 0321, 0330); order requests may carry both, which
must match. Orders are held in memory with client-order-id idempotency; book levels and positions may hold a
fraction of a contract (`set_book`, `set_position`). Faults (status codes, Retry-After, delays, "act then lose
the answer", a dripped, flooding or over-declared body, "act, then break something of ours") are queued with
`inject`.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paulp.adapters.kalshi.signing import (
    HEADER_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    load_public_key,
    requires_signature,
    signing_message,
    verify_signature,
)
from tests.fakes.hostile import HostileBody

API_PREFIX = "/trade-api/v2"
DATA_DIR_ENV = "PAULP_KALSHI_DATA_DIR"
DEFAULT_DATA_DIR = Path(__file__).resolve().parent / "data" / "kalshi"  # copy of shared/data/kalshi
Handler = Callable[[Request, Any], Response]


@dataclass
class SeenRequest:
    """One request as the fake received it (arrival time on the monotonic clock) and what it answered."""

    method: str
    path: str
    query: str
    body: bytes
    headers: dict[str, str]
    at: float
    verified: bool = False
    status: int = 0
    response_body: bytes = b""


@dataclass
class Fault:
    """Answer the next `times` matching requests with `status` after `delay_s`.

    `process=True` lets the exchange act first (an order is placed), then loses the answer: the
    ambiguous outcome of a timeout or 5xx after acceptance. `status=None` only delays.
    """

    status: int | None = 500
    delay_s: float = 0.0
    process: bool = False
    retry_after: str | None = None
    method: str | None = None
    path_contains: str | None = None
    times: int = 1
    body: dict[str, Any] | None = None
    hostile: HostileBody | None = None  # answer `status` with a dripped, flooding or over-declared body (ADR 0513)
    then: Callable[[], None] | None = None  # with `process`: run once the exchange acted, before it answers (0516)

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and (
            self.path_contains is None or self.path_contains in path)


def _cents(dollars: str | None) -> int | None:
    return None if dollars is None else int((Decimal(dollars) * 100).to_integral_value())


def _dollars(cents: int | Decimal) -> str:
    """Kalshi's fixed-point dollar string (`*_dollars` fields): 52 cents -> "0.520000"."""
    return f"{Decimal(cents) / 100:.6f}"


def _fp(contracts: int | Decimal) -> str:
    """Kalshi's fixed-point contract count (`*_fp` fields): 10 -> "10.00"."""
    return f"{Decimal(contracts):.2f}"


def _whole(number: int | Decimal) -> int | Decimal:
    """A count as an int when it is whole (so the in-memory order reads as before), else the exact fraction."""
    return int(number) if number == int(number) else Decimal(number)


TAKER_FEE_RATE = Decimal("0.07")  # Kalshi's general taker fee schedule
MAKER_FEE_RATE = Decimal("0.0175")  # Kalshi's maker fee on the series that charge one


def taker_fee(fills: list[tuple[int, int | Decimal]], rate: Decimal = TAKER_FEE_RATE) -> int:
    """Kalshi's general taker fee, cents: each fill (one resting level taken) pays
    ``ceil_to_cent(rate x C x P x (1 - P))`` dollars, P the level's price in dollars."""
    return sum(int((rate * Decimal(n) * Decimal(p) * (100 - p) / 100).to_integral_value(ROUND_CEILING))
               for p, n in fills)


def _iso(ts: int | float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _quote(candle: dict[str, Any], side: str, empty: int) -> int:
    cents = _cents(candle[side]["close"])
    return empty if cents is None else cents


def _market(ticker: str, candles: list[dict[str, Any]]) -> dict[str, Any]:
    """Quotes from the last two-sided candle (else the last one); an empty side (bid 0 / ask 100) stays empty.

    Recorded series end at settlement, where books are one-sided; trading against them needs a live book.
    """
    last = candles[-1]
    quoted = [c for c in candles if 0 < _quote(c, "yes_bid", 0) < _quote(c, "yes_ask", 100) < 100] or [last]
    yes_bid, yes_ask = _quote(quoted[-1], "yes_bid", 0), _quote(quoted[-1], "yes_ask", 100)
    traded = [c for c in candles if c["price"]["close"] is not None]
    return {
        "ticker": ticker, "event_ticker": ticker.rsplit("-", 1)[0], "series_ticker": ticker.split("-", 1)[0],
        "market_type": "binary", "status": "active", "title": ticker,
        "yes_bid": yes_bid, "yes_ask": yes_ask, "no_bid": 100 - yes_ask, "no_ask": 100 - yes_bid,
        "last_price": _cents(traded[-1]["price"]["close"]) if traded else 0,
        "volume": int(sum(Decimal(c["volume"]) for c in candles)),
        "volume_24h": int(sum(Decimal(c["volume"]) for c in candles)),
        "open_interest": int(Decimal(last["open_interest"])),
        "open_time": _iso(candles[0]["end_period_ts"] - 3600), "close_time": _iso(last["end_period_ts"] + 86400),
        "category": "unknown", "rules_primary": f"Recorded market {ticker}.",
    }


SHAPES = ("both", "cents", "dollars")
_PRICE_FIELDS = ("yes_bid", "yes_ask", "no_bid", "no_ask", "last_price")
_COUNT_FIELDS = ("volume", "volume_24h", "open_interest")
_ORDER_MONEY = ("yes_price", "no_price", "taker_fill_cost", "maker_fill_cost", "taker_fees", "maker_fees")
_ORDER_COUNTS = ("initial_count", "fill_count", "remaining_count", "taker_fill_count", "maker_fill_count")
_POSITION_MONEY = ("market_exposure", "realized_pnl", "fees_paid", "total_traded")


def _check_shape(shape: str) -> None:
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")


def wire_fields(obj: dict[str, Any], shape: str, money: tuple[str, ...], counts: tuple[str, ...],
                dollars: Callable[[Any], str] = _dollars) -> dict[str, Any]:
    """An object as Kalshi sends it: money in cents and as ``*_dollars`` strings, counts as integers and ``*_fp``
    strings ("both", today's API), only the legacy integers ("cents"), or only the fixed-point strings ("dollars",
    where Kalshi is moving). The fake keeps cents and (possibly fractional) counts; the shape is applied on the way
    out. A legacy integer count cannot say "10.50": it carries the whole contracts below it."""
    _check_shape(shape)
    out = {k: v for k, v in obj.items() if k not in money + counts}
    if shape != "dollars":
        out.update({k: int(v) if isinstance(v := obj[k], Decimal) else v for k in money + counts
                    if obj.get(k) is not None})
    if shape != "cents":
        out.update({f"{k}_dollars": dollars(obj[k]) for k in money if obj.get(k) is not None})
        out.update({f"{k}_fp": _fp(obj[k]) for k in counts if obj.get(k) is not None})
    return out


def wire_market(market: dict[str, Any], shape: str) -> dict[str, Any]:
    """A market object in ``shape`` (`wire_fields`; prices as "0.4200")."""
    return wire_fields(market, shape, _PRICE_FIELDS, _COUNT_FIELDS, lambda c: f"{Decimal(c) / 100:.4f}")


def wire_order(order: dict[str, Any], shape: str) -> dict[str, Any]:
    return wire_fields(order, shape, _ORDER_MONEY, _ORDER_COUNTS)


def wire_book(yes: list[list[Any]], no: list[list[Any]], shape: str) -> dict[str, Any]:
    """GET /markets/{ticker}/orderbook: legacy ``orderbook`` {yes, no: [[42, 13]]}, today's ``orderbook_fp``
    {yes_dollars, no_dollars: [["0.4200", "13.00"]]}, or both."""
    _check_shape(shape)
    out: dict[str, Any] = {}
    if shape != "dollars":
        out["orderbook"] = {"yes": [[p, int(n)] for p, n in yes], "no": [[p, int(n)] for p, n in no]}
    if shape != "cents":
        out["orderbook_fp"] = {"yes_dollars": [[f"{Decimal(p) / 100:.4f}", _fp(n)] for p, n in yes],
                               "no_dollars": [[f"{Decimal(p) / 100:.4f}", _fp(n)] for p, n in no]}
    return out


def _request_field(body: dict[str, Any], name: str, shape: str, *, dollars: bool) -> Decimal | str | None:
    """An order request's ``name`` (integer) and its fixed-point form (``name_fp`` / ``name_dollars``) as Kalshi
    reads them: both may be sent and must match; "cents" reads the integer only, "dollars" the fixed-point form
    only (the integers no longer accepted). A string is the reason for a 400."""
    fixed_name = f"{name}_dollars" if dollars else f"{name}_fp"
    integer, fixed = body.get(name), body.get(fixed_name)
    if integer is not None and (isinstance(integer, bool) or not isinstance(integer, int)):
        return f"{name} must be an integer"
    if fixed is not None and not isinstance(fixed, str):
        return f"{fixed_name} must be a string"
    try:
        fixed_value = None if fixed is None or shape == "cents" else Decimal(fixed) * (100 if dollars else 1)
    except InvalidOperation:
        return f"{fixed_name} is not a number"
    if integer is not None and fixed_value is not None and Decimal(integer) != fixed_value:
        return f"{name} {integer} and {fixed_name} {fixed!r} do not match"
    if shape == "dollars":
        return fixed_value
    return Decimal(integer) if integer is not None else fixed_value


def load_recorded_markets(data_dir: Path | None = None) -> tuple[dict[str, dict[str, Any]], dict[str, list[Any]]]:
    folder = Path(os.environ.get(DATA_DIR_ENV) or data_dir or DEFAULT_DATA_DIR)
    files = sorted(folder.glob("candlesticks-*.json"))
    if not files:
        raise FileNotFoundError(f"no candlesticks-*.json under {folder} (set {DATA_DIR_ENV})")
    candles: dict[str, list[Any]] = {}
    for file in files:
        for ticker, rows in json.loads(file.read_text()).items():
            candles.setdefault(ticker, []).extend(rows)
    for rows in candles.values():
        rows.sort(key=lambda c: c["end_period_ts"])
    markets = {t: _market(t, rows) for t, rows in sorted(candles.items()) if rows}
    return markets, candles


def _error(status: int, code: str, message: str, retry_after: str | None = None) -> Response:
    body = json.dumps({"error": {"code": code, "message": message, "service": "fake-kalshi"}}).encode()
    headers = {"Retry-After": retry_after} if retry_after is not None else None
    return Response(body, status, headers=headers, media_type="application/json")


def _ok(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(payload, separators=(",", ":")).encode(), status, media_type="application/json")


def _page(items: list[Any], request: Request, default_limit: int = 100) -> tuple[list[Any], str]:
    start = int(request.query_params.get("cursor") or 0)
    limit = max(1, min(1000, int(request.query_params.get("limit") or default_limit)))
    end = start + limit
    return items[start:end], (str(end) if end < len(items) else "")


class FakeKalshiExchange:
    """`with FakeKalshiExchange(public_key, key_id) as fake:` then point the client at `fake.base_url`."""

    def __init__(self, public_key: rsa.RSAPublicKey | str | bytes, key_id: str, *, data_dir: Path | None = None,
                 timestamp_tolerance_ms: int = 30_000, balance_cents: int = 1_000_000,
                 shape: str = "both") -> None:
        self._public_key = public_key if isinstance(public_key, rsa.RSAPublicKey) else load_public_key(public_key)
        self.key_id = key_id
        self.tolerance_ms = timestamp_tolerance_ms
        self.markets, self.candles = load_recorded_markets(data_dir)
        _check_shape(shape)
        self.shape = shape  # which price/count fields markets, orders, positions and books carry (`wire_fields`)
        self.balance_cents = balance_cents
        self._lock = threading.Lock()
        self._requests: list[SeenRequest] = []
        self._faults: list[Fault] = []
        self._orders: dict[str, dict[str, Any]] = {}
        self._by_client_id: dict[str, str] = {}
        self._positions: dict[str, int | Decimal] = {}  # signed: positive YES, negative NO
        # market_exposure (cents) set by a test for a position it set; None: the field is not sent. Without one,
        # a position's exposure is its contracts at the last price. Any order fill in the market drops it.
        self._exposure: dict[str, int | Decimal | None] = {}
        self._fees_paid: dict[str, int] = {}  # cents per market
        self.taker_fee_rate = TAKER_FEE_RATE  # a test may set another (0: no fees, as before ADR 0437)
        self._books: dict[str, dict[str, list[tuple[int, int | Decimal]]]] = {}
        self._trade_log: dict[str, list[dict[str, Any]]] = {}  # newest first, as Kalshi lists them
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = Starlette(routes=self._routes())

    # -- lifecycle ---------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    def start(self, timeout_s: float = 5.0) -> FakeKalshiExchange:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False,
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake Kalshi exchange did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeKalshiExchange:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls -----------------------------------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        """Kalshi answers normally again: faults not used up yet are dropped."""
        with self._lock:
            self._faults.clear()

    def set_book(self, ticker: str, yes: list[tuple[int, int | Decimal]], no: list[tuple[int, int | Decimal]]) -> None:
        """Rest these bids (price cents, count; a Decimal count may be fractional) on each side of ``ticker`` instead
        of the synthetic three levels; YES asks are the NO bids mirrored. The quote follows the best levels."""
        with self._lock:
            market = self.markets[ticker]
            self._books[ticker] = {"yes": list(yes), "no": list(no)}
            market.update(yes_bid=max((p for p, _ in yes), default=0), yes_ask=100 - max((p for p, _ in no), default=0))
            market.update(no_bid=100 - market["yes_ask"], no_ask=100 - market["yes_bid"])

    def set_trades(self, ticker: str, trades: list[tuple[int, int | Decimal, str | None]]) -> None:
        """The public trades of ``ticker``, oldest first: (YES price cents, contracts, taker side yes|no|None).
        A market without them has traded nothing: its candles are not trades (one per candle, no taker side,
        read settlement drift as one-sided flow)."""
        with self._lock:
            self._trade_log[ticker] = [
                {"trade_id": f"{ticker}-t{i}", "ticker": ticker, "count": n, "yes_price": p, "no_price": 100 - p,
                 **({"taker_side": side} if side else {}), "created_time": _iso(1_740_000_000 + i)}
                for i, (p, n, side) in enumerate(trades)][::-1]

    def set_position(self, ticker: str, contracts: int | Decimal,
                     exposure_cents: int | Decimal | str | None = "last") -> None:
        """What the account holds in ``ticker`` (positive YES, negative NO), e.g. Decimal("10.50") contracts, and
        what Kalshi says it cost (``market_exposure``, cents): ``"last"`` its contracts at the last price, None
        no ``market_exposure`` field at all (ADR 0450)."""
        with self._lock:
            self._positions[ticker] = contracts
            if exposure_cents == "last":
                self._exposure.pop(ticker, None)
            else:
                self._exposure[ticker] = None if exposure_cents is None else Decimal(exposure_cents)

    def amend_order(self, client_order_id: str, **fields: Any) -> dict[str, Any]:
        """Kalshi's copy of our order as a later read shows it, e.g. another filled count, or fees set to None
        (left out of the answer, as Kalshi's answer without a fee field). The fields as they were, to restore."""
        with self._lock:
            order = self._orders[self._by_client_id[client_order_id]]
            before = {k: order.get(k) for k in fields}
            order.update(fields)
            return before

    def fill_resting(self, client_order_id: str, count: int, maker_fee_rate: Decimal = MAKER_FEE_RATE) -> int:
        """Someone takes ``count`` contracts of our resting order at its limit: a maker fill, charged Kalshi's maker
        fee (``maker_fee_rate`` x C x P x (1 - P), rounded up to the cent) as the order's ``maker_fees`` grow.
        The fee charged, cents. Only the order changes: what a webhook order update then reports (ADR 0443)."""
        with self._lock:
            order = self._orders[self._by_client_id[client_order_id]]
            if order["status"] != "resting" or not 0 < count <= order["remaining_count"]:
                raise ValueError(f"cannot fill {count} of order {client_order_id} ({order['status']})")
            price = order["yes_price"] if order["side"] == "yes" else order["no_price"]
            fee = taker_fee([(price, count)], maker_fee_rate)
            order.update(fill_count=order["fill_count"] + count, remaining_count=order["remaining_count"] - count,
                         maker_fill_count=order["maker_fill_count"] + count,
                         maker_fill_cost=order["maker_fill_cost"] + price * count,
                         maker_fees=order["maker_fees"] + fee)
            if order["remaining_count"] == 0:
                order["status"] = "executed"
            signed = count if (order["side"] == "yes") == (order["action"] == "buy") else -count
            self._positions[order["ticker"]] = self._positions.get(order["ticker"], 0) + signed
            self._exposure.pop(order["ticker"], None)
            self.balance_cents -= price * count + fee
            self._fees_paid[order["ticker"]] = self._fees_paid.get(order["ticker"], 0) + fee
            return fee

    @property
    def requests(self) -> list[SeenRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def orders(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(o) for o in self._orders.values()]

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # -- request pipeline --------------------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        p = API_PREFIX
        table: list[tuple[str, Handler, list[str]]] = [
            ("/exchange/status", self._exchange_status, ["GET"]),
            ("/markets", self._list_markets, ["GET"]),
            ("/markets/trades", self._trades, ["GET"]),
            ("/markets/{ticker}", self._get_market, ["GET"]),
            ("/markets/{ticker}/orderbook", self._orderbook, ["GET"]),
            ("/series/{series}/markets/{ticker}/candlesticks", self._candlesticks, ["GET"]),
            ("/historical/markets/{ticker}/candlesticks", self._candlesticks, ["GET"]),
            ("/portfolio/orders", self._orders_root, ["GET", "POST"]),
            ("/portfolio/orders/{order_id}", self._order_item, ["GET", "DELETE"]),
            ("/portfolio/positions", self._list_positions, ["GET"]),
            ("/portfolio/balance", self._balance, ["GET"]),
        ]
        routes = [Route(p + path, self._endpoint(handler), methods=methods) for path, handler, methods in table]
        routes.append(Route("/{rest:path}", self._endpoint(self._not_found),
                            methods=["GET", "POST", "PUT", "DELETE", "PATCH"]))
        return routes

    def _endpoint(self, handler: Handler) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            body = await request.body()
            path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1").split("?", 1)[0]
            seen = SeenRequest(request.method, path, request.url.query, body,
                               {k.lower(): v for k, v in request.headers.items()}, time.monotonic())
            with self._lock:
                self._requests.append(seen)
            response = await self._respond(request, seen, handler)
            seen.status = response.status_code
            seen.response_body = bytes(getattr(response, "body", b""))  # a hostile stream is not kept
            return response

        return endpoint

    async def _respond(self, request: Request, seen: SeenRequest, handler: Handler) -> Response:
        fault = self._take_fault(seen.method, seen.path)
        if fault is not None and not fault.process:
            await asyncio.sleep(fault.delay_s)
            if fault.status is not None:
                return self._fault_response(fault)
        problem = self._auth_problem(seen)
        if problem is not None:
            return _error(401, "authentication_error", problem)
        seen.verified = HEADER_SIGNATURE.lower() in seen.headers
        try:
            payload = json.loads(seen.body) if seen.body else None
        except ValueError:
            return _error(400, "invalid_parameters", "body is not JSON")
        with self._lock:
            response = handler(request, payload)
        if fault is not None and fault.process:
            await asyncio.sleep(fault.delay_s)
            if fault.then is not None:
                fault.then()
            if fault.status is not None:
                return self._fault_response(fault)
        return response

    @staticmethod
    def _fault_response(fault: Fault) -> Response:
        assert fault.status is not None
        if fault.hostile is not None:
            return fault.hostile.response(fault.status)
        if fault.body is not None:
            return Response(json.dumps(fault.body).encode(), fault.status, media_type="application/json",
                            headers={"Retry-After": fault.retry_after} if fault.retry_after else None)
        code = {401: "authentication_error", 429: "too_many_requests"}.get(fault.status, "internal_server_error")
        return _error(fault.status, code, f"injected {fault.status}", fault.retry_after)

    def _auth_problem(self, seen: SeenRequest) -> str | None:
        """Signed headers are checked wherever they appear; private paths require them."""
        key = seen.headers.get(HEADER_KEY.lower())
        stamp = seen.headers.get(HEADER_TIMESTAMP.lower())
        signature = seen.headers.get(HEADER_SIGNATURE.lower())
        if key is None and stamp is None and signature is None:
            return "authentication required" if requires_signature(seen.path) else None
        if key != self.key_id:
            return "unknown api key"
        if stamp is None or not stamp.isdigit() or len(stamp) != 13:
            return "bad timestamp"
        if abs(time.time() * 1000 - int(stamp)) > self.tolerance_ms:
            return "stale timestamp"
        if signature is None or not verify_signature(
                self._public_key, signing_message(stamp, seen.method, seen.path), signature):
            return "invalid signature"
        return None

    # -- public market data ------------------------------------------------------------------------------------

    def _exchange_status(self, request: Request, _: Any) -> Response:
        return _ok({"exchange_active": True, "trading_active": True})

    def _not_found(self, request: Request, _: Any) -> Response:
        return _error(404, "not_found", "no such endpoint")

    def _list_markets(self, request: Request, _: Any) -> Response:
        q = request.query_params
        items = [m for m in self.markets.values()
                 if q.get("series_ticker") in (None, m["series_ticker"])
                 and q.get("event_ticker") in (None, m["event_ticker"])]
        page, cursor = _page(items, request)
        return _ok({"markets": [wire_market(m, self.shape) for m in page], "cursor": cursor})

    def _get_market(self, request: Request, _: Any) -> Response:
        market = self.markets.get(request.path_params["ticker"])
        if market is None:
            return _error(404, "market_not_found", "market not found")
        return _ok({"market": wire_market(market, self.shape)})

    def _orderbook(self, request: Request, _: Any) -> Response:
        """Published shapes (`wire_book`): bids per side as ascending [price, count]; YES asks are NO bids mirrored."""
        market = self.markets.get(request.path_params["ticker"])
        if market is None:
            return _error(404, "market_not_found", "market not found")
        depth = int(request.query_params.get("depth") or 0) or None
        yes, no = self._bids(market, "yes"), self._bids(market, "no")

        def side(bids: list[tuple[int, int | Decimal]]) -> list[list[Any]]:
            levels = sorted([p, n] for p, n in bids)
            return levels[-depth:] if depth else levels

        return _ok(wire_book(side(yes), side(no), self.shape))

    def _bids(self, market: dict[str, Any], side: str) -> list[tuple[int, int | Decimal]]:
        """Bids on one side, best first: a test's `set_book` levels, else three synthetic levels (100/200/300)
        below the quote. A side's asks are the other side's bids mirrored (100 - price)."""
        book = self._books.get(market["ticker"])
        if book is not None:
            return sorted(book[side], reverse=True)
        best = market["yes_bid"] if side == "yes" else 100 - market["yes_ask"]
        return [(best - i, 100 * (i + 1)) for i in range(3) if best - i >= 1]

    def _match(self, market: dict[str, Any], side: str, action: str, price: int,
               count: Decimal) -> list[tuple[int, int | Decimal]]:
        """Crosses a limit with the resting book as Kalshi does: a buy takes the asks at or below its limit, best
        (cheapest) first, a sell the bids at or above it, best (highest) first; each fill is at the resting level's
        price in the order side's cents, not at the limit. (price, count) per level taken."""
        if action == "buy":  # asks of `side` = bids of the other side, mirrored
            other = "no" if side == "yes" else "yes"
            levels = [(100 - p, n) for p, n in self._bids(market, other) if 100 - p <= price]
        else:
            levels = [(p, n) for p, n in self._bids(market, side) if p >= price]
        fills: list[tuple[int, int | Decimal]] = []
        for level, available in levels:
            take = min(available, count - sum(n for _, n in fills))
            if take <= 0:
                break
            fills.append((level, take))
        return fills

    def _trades(self, request: Request, _: Any) -> Response:
        """GET /markets/trades?ticker=: the trades a test set (`set_trades`), newest first, in the fake's shape."""
        trades = self._trade_log.get(request.query_params.get("ticker", ""), [])
        page, cursor = _page(trades, request)
        return _ok({"trades": [wire_fields(t, self.shape, ("yes_price", "no_price"), ("count",),
                                           lambda c: f"{Decimal(c) / 100:.4f}") for t in page], "cursor": cursor})

    def _candlesticks(self, request: Request, _: Any) -> Response:
        ticker = request.path_params["ticker"]
        series = request.path_params.get("series")
        market = self.markets.get(ticker)
        if market is None or (series is not None and series != market["series_ticker"]):
            return _error(404, "market_not_found", "market not found")
        q = request.query_params
        start, end = int(q.get("start_ts") or 0), int(q.get("end_ts") or 2**62)
        rows = [c for c in self.candles[ticker] if start <= c["end_period_ts"] <= end]
        return _ok({"ticker": ticker, "candlesticks": rows})

    # -- portfolio -----------------------------------------------------------------------------------------------

    def _orders_root(self, request: Request, payload: Any) -> Response:
        if request.method == "POST":
            return self._place(payload)
        q = request.query_params
        items = [o for o in reversed(self._orders.values())
                 if q.get("ticker") in (None, o["ticker"]) and q.get("status") in (None, o["status"])]
        page, cursor = _page(items, request)
        return _ok({"orders": [wire_order(o, self.shape) for o in page], "cursor": cursor})

    def _place(self, body: Any) -> Response:
        if not isinstance(body, dict):
            return _error(400, "invalid_parameters", "body must be an object")
        market = self.markets.get(str(body.get("ticker")))
        if market is None:
            return _error(404, "market_not_found", "market not found")
        side, action = body.get("side"), body.get("action")
        count = _request_field(body, "count", self.shape, dollars=False)
        limit = _request_field(body, f"{side}_price", self.shape, dollars=True)
        for problem in (count, limit):
            if isinstance(problem, str):
                return _error(400, "invalid_parameters", problem)
        if (side not in ("yes", "no") or action not in ("buy", "sell") or body.get("type") != "limit"
                or not isinstance(count, Decimal) or count < 1 or count != count.to_integral_value()
                or not isinstance(limit, Decimal) or limit != limit.to_integral_value() or not 1 <= limit <= 99):
            return _error(400, "invalid_parameters", "invalid order")
        price = int(limit)
        client_id = body.get("client_order_id")
        if client_id and client_id in self._by_client_id:
            return _error(409, "order_already_exists", "client_order_id already used")
        yes_price = price if side == "yes" else 100 - price
        fills = self._match(market, side, action, price, count)
        filled = sum(n for _, n in fills)
        cost = sum(p * n for p, n in fills)  # cents, in the order side's prices (a NO buy: NO cents)
        fee = taker_fee(fills, self.taker_fee_rate)
        order = {
            "order_id": str(uuid.uuid4()), "client_order_id": client_id, "user_id": "fake-user",
            "ticker": market["ticker"], "status": "resting" if filled < count else "executed", "action": action,
            "side": side, "type": "limit", "yes_price": yes_price, "no_price": 100 - yes_price,
            "initial_count": _whole(count), "fill_count": _whole(filled), "remaining_count": _whole(count - filled),
            # an incoming order only takes liquidity here: every fill is a taker fill, charged Kalshi's general
            # taker fee per level taken (ADR 0437); nothing rests long enough to be made into, so no maker fees
            "taker_fill_count": _whole(filled), "taker_fill_cost": _whole(cost), "maker_fill_count": 0,
            "maker_fill_cost": 0, "taker_fees": fee, "maker_fees": 0,
            "created_time": _iso(time.time()), "expiration_time": None, "time_in_force": "good_till_canceled",
        }
        self._orders[order["order_id"]] = order
        if client_id:
            self._by_client_id[client_id] = order["order_id"]
        if filled:
            signed = filled if (side == "yes") == (action == "buy") else -filled
            self._positions[market["ticker"]] = self._positions.get(market["ticker"], 0) + signed
            self._exposure.pop(market["ticker"], None)
            self.balance_cents -= int(cost if action == "buy" else -cost) + fee
            self._fees_paid[market["ticker"]] = self._fees_paid.get(market["ticker"], 0) + fee
        return _ok({"order": wire_order(order, self.shape)}, 201)

    def _order_item(self, request: Request, _: Any) -> Response:
        order = self._orders.get(request.path_params["order_id"])
        if order is None:
            return _error(404, "order_not_found", "order not found")
        if request.method == "DELETE":
            if order["status"] == "executed":
                return _error(409, "order_not_resting", "order already executed")
            reduced = order["remaining_count"]
            order.update(status="canceled", remaining_count=0)
            return _ok({"order": wire_order(order, self.shape),
                        **wire_fields({"reduced_by": reduced}, self.shape, (), ("reduced_by",))})
        return _ok({"order": wire_order(order, self.shape)})

    def _list_positions(self, request: Request, _: Any) -> Response:
        q = request.query_params
        rows = [{"ticker": t, "event_ticker": self.markets[t]["event_ticker"], "position": n,
                 "market_exposure": self._exposure[t] if t in self._exposure
                 else abs(n) * self.markets[t]["last_price"], "realized_pnl": 0,
                 "fees_paid": self._fees_paid.get(t, 0),
                 "total_traded": abs(n) * self.markets[t]["last_price"], "resting_orders_count": sum(
                     1 for o in self._orders.values() if o["ticker"] == t and o["status"] == "resting")}
                for t, n in sorted(self._positions.items()) if n
                and q.get("ticker") in (None, t) and q.get("event_ticker") in (None, self.markets[t]["event_ticker"])]
        rows = [wire_fields(r, self.shape, _POSITION_MONEY, ("position",)) for r in rows]
        page, cursor = _page(rows, request)
        return _ok({"market_positions": page, "event_positions": [], "cursor": cursor})

    def _balance(self, request: Request, _: Any) -> Response:
        return _ok({"balance": self.balance_cents, "portfolio_value": self.balance_cents})

