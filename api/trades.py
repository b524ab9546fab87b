"""GET /admin/trades query side (api-and-security §1.3): validation, per-venue sources, merge.

Each venue is its own read model and may fail on its own; a failing venue yields an ``errors`` entry and
``partial: true``, never a 5xx. All filters are pushed into each venue's query (resolution), then the
venues are merged newest first with undated rows last and truncated to ``limit``.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql
from psycopg_pool import ConnectionPool

from paulp.api.errors import ApiError

log = logging.getLogger("paulp.api.trades")

VENUES = ("kalshi", "ibkr")
DEFAULT_LIMIT, MAX_LIMIT = 100, 500
_DIGITS = re.compile(r"^[0-9]+$")
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


def parse_filters(params: dict[str, str]) -> TradeFilters:
    """Validate venue -> limit -> mode (first failure wins)."""
    venue = (params.get("venue") or "all").lower()
    if venue not in ("all", *VENUES):
        raise ApiError(400, "Invalid venue. Must be all, kalshi, or ibkr.", "invalid_venue")
    raw_limit = params.get("limit")
    if raw_limit is None or raw_limit == "":
        limit = DEFAULT_LIMIT
    elif not _DIGITS.match(raw_limit) or int(raw_limit) < 1:
        raise ApiError(400, "Invalid limit. Must be a positive integer.", "invalid_limit")
    else:
        limit = min(int(raw_limit), MAX_LIMIT)
    mode = _present(params.get("mode"))
    if mode is not None:
        mode = mode.upper()
        if mode not in ("PAPER", "LIVE"):
            raise ApiError(400, "Invalid mode. Must be PAPER or LIVE.", "invalid_mode")
    return TradeFilters(venue, limit, _present(params.get("strategy")), _present(params.get("ticker")),
                        _present(params.get("status")), mode)


def venue_query(venue: str, f: TradeFilters) -> tuple[sql.Composed, list[Any]]:
    where, args = [sql.SQL("TRUE")], []
    for column, value in (("strategy", f.strategy), ("ticker", f.ticker),
                          ("status", f.status.lower() if f.status else None), ("execution_mode", f.mode)):
        if value is not None:
            where.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
            args.append(value)
    query = sql.SQL(
        "SELECT record::text, created_at FROM views.{} WHERE {} ORDER BY created_at DESC NULLS LAST, seq LIMIT %s"
    ).format(sql.Identifier(f"{venue}_orders"), sql.SQL(" AND ").join(where))
    return query, [*args, f.limit]


def fetch_venue(conn: Any, venue: str, f: TradeFilters) -> list[tuple[str, datetime | None]]:
    """The venue's newest matching records as JSON text (stored with their ``venue`` field set)."""
    SOURCE_QUERIES[venue] += 1
    query, args = venue_query(venue, f)
    # The pool's connections are autocommit: a failing source's statement cannot poison the next one.
    return [(rec, at) for rec, at in conn.execute(query, args)]


def list_trades_json(pool: ConnectionPool[Any], f: TradeFilters, timestamp: str) -> str:
    """The response body, assembled from the stored JSON records without re-parsing them (hot path)."""
    venues = VENUES if f.venue == "all" else (f.venue,)
    rows: list[tuple[datetime | None, str]] = []
    errors: list[dict[str, str]] = []
    with pool.connection() as conn:
        for venue in venues:
            try:
                rows.extend((at, rec) for rec, at in fetch_venue(conn, venue, f))
            except Exception:
                log.exception("trade source %s failed", venue)
                errors.append({"venue": venue, "message": f"{venue} execution agent unavailable"})
    dated = [r for r in rows if r[0] is not None]
    undated = [r for r in rows if r[0] is None]
    dated.sort(key=lambda r: r[0], reverse=True)  # type: ignore[arg-type,return-value]  # stable: kalshi first on ties
    trades = [r[1] for r in dated + undated][: f.limit]
    tail: dict[str, Any] = {"filters": f.as_json(), "partial": bool(errors)}
    if errors:
        tail["errors"] = errors
    tail["timestamp"] = timestamp
    return f'{{"count":{len(trades)},"trades":[{",".join(trades)}],{json.dumps(tail)[1:]}'


def list_trades(pool: ConnectionPool[Any], f: TradeFilters, timestamp: str = "") -> dict[str, Any]:
    body: dict[str, Any] = json.loads(list_trades_json(pool, f, timestamp))
    return body
