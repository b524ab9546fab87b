"""GET /admin/trades query side (api-and-security §1.3): validation, per-venue sources, merge.

Each venue is its own read model and may fail on its own; a failing venue yields an ``errors`` entry and
``partial: true``, never a 5xx. All filters are pushed into each venue's query (resolution), then the
venues are merged newest first with undated rows last and truncated to ``limit`` — in SQL, in one
statement, unless a source fails and the venues are read one by one.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from psycopg import sql
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from paulp.api.errors import ApiError
from paulp.domain.venue_orders import status_key

log = logging.getLogger("paulp.api.trades")

VENUES = ("kalshi", "ibkr")
DEFAULT_LIMIT, MAX_LIMIT = 100, 500
_DIGITS = re.compile(r"[0-9]+")  # used with fullmatch: "$" would also accept a trailing newline
SOURCE_QUERIES: Counter[str] = Counter()  # per-venue source reads, for metrics and tests


@dataclass(frozen=True)
class TradeFilters:
    venue: str
    limit: int
    strategy: str | None
    ticker: str | None
    status: str | None
    mode: str | None

    def as_json(self) -> dict[str, Any]:
        return {"venue": self.venue, "limit": self.limit, "strategy": self.strategy, "ticker": self.ticker,
                "status": self.status, "mode": self.mode}


def _present(value: str | None) -> str | None:
    return value if value else None


def parse_limit(raw: str | None, default: int, maximum: int) -> int:
    """§1.3 resolution, shared by the list endpoints that follow /trades: absent or empty -> default; only
    sign-free decimal digits, >= 1, else 400 ``invalid_limit``; above ``maximum`` clamped, not rejected."""
    if raw is None or raw == "":
        return default
    digits = raw.lstrip("0")
    if not _DIGITS.fullmatch(raw) or not digits:
        raise ApiError(400, "Invalid limit. Must be a positive integer.", "invalid_limit")
    # More digits than the maximum has is above it: clamped without ``int``, which refuses over 4300 digits
    # (a long limit was a 500; ADR 0359).
    return maximum if len(digits) > len(str(maximum)) else min(int(digits), maximum)


def parse_filters(params: dict[str, str]) -> TradeFilters:
    """Validate venue -> limit -> mode (first failure wins)."""
    venue = (params.get("venue") or "all").lower()
    if venue not in ("all", *VENUES):
        raise ApiError(400, "Invalid venue. Must be all, kalshi, or ibkr.", "invalid_venue")
    limit = parse_limit(params.get("limit"), DEFAULT_LIMIT, MAX_LIMIT)
    mode = _present(params.get("mode"))
    if mode is not None:
        mode = mode.upper()
        if mode not in ("PAPER", "LIVE"):
            raise ApiError(400, "Invalid mode. Must be PAPER or LIVE.", "invalid_mode")
    return TradeFilters(venue, limit, _present(params.get("strategy")), _present(params.get("ticker")),
                        _present(params.get("status")), mode)


# Filter columns in the order their values are bound.
_FILTER_COLUMNS = ("strategy", "ticker", "status", "execution_mode")


def _filter_values(f: TradeFilters) -> tuple[tuple[str, ...], list[Any]]:
    status = status_key(f.status) if f.status else None  # as the view keys it: either spelling (ADR 0336)
    pairs = [(c, v) for c, v in zip(_FILTER_COLUMNS, (f.strategy, f.ticker, status, f.mode), strict=True)
             if v is not None]
    return tuple(c for c, _ in pairs), [v for _, v in pairs]


@lru_cache(maxsize=64)
def _venue_statement(venue: str, rank: int, columns: tuple[str, ...]) -> sql.Composed:
    where = [sql.SQL("TRUE"), *(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in columns)]
    return sql.SQL(
        "SELECT record::text, created_at, {rank} AS venue_rank, seq FROM views.{} WHERE {}"
        " ORDER BY created_at DESC NULLS LAST, seq LIMIT %s"
    ).format(sql.Identifier(f"{venue}_orders"), sql.SQL(" AND ").join(where), rank=sql.Literal(rank))


@lru_cache(maxsize=64)
def _rendered(venues: tuple[str, ...], columns: tuple[str, ...]) -> sql.SQL:
    """The statement for one shape of request (which venues, which filters present), composed and rendered
    once: composing it per request cost ~20 ``sql`` calls on the hot path. Values stay bound parameters."""
    if len(venues) == 1:
        return sql.SQL(_venue_statement(venues[0], 0, columns).as_string(None))
    parts = [sql.SQL("({})").format(_venue_statement(v, rank, columns)) for rank, v in enumerate(venues)]
    merged = sql.SQL(
        "SELECT * FROM ({}) AS merged ORDER BY created_at DESC NULLS LAST, venue_rank, seq LIMIT %s"
    ).format(sql.SQL(" UNION ALL ").join(parts))
    return sql.SQL(merged.as_string(None))


def venue_query(venue: str, f: TradeFilters, rank: int = 0) -> tuple[sql.Composable, list[Any]]:
    """One venue's newest matching records (JSON text as stored, with their ``venue`` field set)."""
    columns, args = _filter_values(f)
    return _venue_statement(venue, rank, columns), [*args, f.limit]


def trades_query(f: TradeFilters) -> tuple[sql.Composable, list[Any], tuple[str, ...]]:
    """The request as one statement: each venue's index scan limited to ``limit``, merged newest first
    (undated last, kalshi before ibkr on ties, then store order) and limited again in SQL, so only the
    rows returned cross the wire. Returns (query, args, venues read)."""
    venues = VENUES if f.venue == "all" else (f.venue,)
    columns, values = _filter_values(f)
    per_venue = [*values, f.limit]
    args = per_venue if len(venues) == 1 else [*(per_venue * len(venues)), f.limit]
    return _rendered(venues, columns), args, venues


def _count_reads(venues: tuple[str, ...]) -> None:
    for venue in venues:
        SOURCE_QUERIES[venue] += 1


def _merge(per_venue: list[list[tuple[Any, ...]]], limit: int) -> list[str]:
    """Per-venue rows (each newest first) merged as ``trades_query`` orders them in SQL."""
    rows = [r for venue_rows in per_venue for r in venue_rows]
    dated = [r for r in rows if r[1] is not None]
    undated = [r for r in rows if r[1] is None]
    dated.sort(key=lambda r: r[1], reverse=True)  # stable: kalshi first on ties, then store order
    return [r[0] for r in dated + undated][:limit]


def _body(trades: list[str], f: TradeFilters, errors: list[dict[str, str]], timestamp: str) -> str:
    """The response body, assembled from the stored JSON records without re-parsing them (hot path)."""
    tail: dict[str, Any] = {"filters": f.as_json(), "partial": bool(errors)}
    if errors:
        tail["errors"] = errors
    tail["timestamp"] = timestamp
    return f'{{"count":{len(trades)},"trades":[{",".join(trades)}],{json.dumps(tail)[1:]}'


# What a reading step hands back to ``_read``: the rows of its statement, or the error it raised.
Outcome = list[tuple[Any, ...]] | Exception
Reading = Generator[tuple[sql.Composable, list[Any]], Outcome, str]


def _read(f: TradeFilters, timestamp: str) -> Reading:
    """The response as a sequence of statements, without I/O: one statement for every venue; if it fails,
    each venue on its own, so one broken source yields an ``errors`` entry and ``partial: true`` instead of
    a 5xx. The sync and async drivers below run the statements; the pools' connections are autocommit, so
    a failed statement cannot poison the next one."""
    query, args, venues = trades_query(f)
    _count_reads(venues)
    rows = yield query, args
    if not isinstance(rows, Exception):
        return _body([r[0] for r in rows], f, [], timestamp)
    log.warning("trades query over %s failed (%s); reading each venue on its own", ",".join(venues), rows)
    per_venue, errors = [], []
    for rank, venue in enumerate(venues):
        _count_reads((venue,))
        result = yield venue_query(venue, f, rank)
        if isinstance(result, Exception):
            log.error("trade source %s failed", venue, exc_info=result)
            errors.append({"venue": venue, "message": f"{venue} execution agent unavailable"})
        else:
            per_venue.append(result)
    return _body(_merge(per_venue, f.limit), f, errors, timestamp)


def list_trades_json(pool: ConnectionPool[Any], f: TradeFilters, timestamp: str) -> str:
    reading = _read(f, timestamp)
    with pool.connection() as conn:
        step = next(reading)
        while True:
            try:
                outcome: Outcome = conn.execute(*step).fetchall()
            except Exception as exc:
                outcome = exc
            try:
                step = reading.send(outcome)
            except StopIteration as done:
                return str(done.value)


async def list_trades_json_async(pool: AsyncConnectionPool[Any], f: TradeFilters, timestamp: str) -> str:
    """``list_trades_json`` on the server's event loop (no thread hop): the same reading."""
    reading = _read(f, timestamp)
    async with pool.connection() as conn:
        step = next(reading)
        while True:
            try:
                outcome: Outcome = await (await conn.execute(*step)).fetchall()
            except Exception as exc:
                outcome = exc
            try:
                step = reading.send(outcome)
            except StopIteration as done:
                return str(done.value)


def list_trades(pool: ConnectionPool[Any], f: TradeFilters, timestamp: str = "") -> dict[str, Any]:
    body: dict[str, Any] = json.loads(list_trades_json(pool, f, timestamp))
    return body
