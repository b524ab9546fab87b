"""GET /admin/trades and /admin/positions from the venue and position read models."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from paulp.api.errors import now_iso
from paulp.api.trades import list_trades_json, list_trades_json_async, parse_filters
from paulp.domain.marks import Quotes, unrealized_pnl_usd

router = APIRouter(prefix="/admin", tags=["trades"])


class TradesResponse(BaseModel):
    count: int
    trades: list[dict[str, Any]]
    filters: dict[str, Any]
    partial: bool
    errors: list[dict[str, str]] | None = None
    timestamp: str


@router.get("/trades", response_model=TradesResponse, response_model_exclude_none=True,
            responses={400: {"description": "invalid_venue | invalid_limit | invalid_mode"}})
async def trades(request: Request) -> Response:
    filters = parse_filters(dict(request.query_params))
    pool = request.app.state.read_pool.current()
    if pool is not None:
        body = await list_trades_json_async(pool, filters, now_iso())
    else:  # no lifespan ran on this loop: the synchronous pool, off the loop
        body = await run_in_threadpool(list_trades_json, request.app.state.container.pool, filters, now_iso())
    return Response(body, media_type="application/json")


class Position(BaseModel):
    strategy: str
    ticker: str
    side: str
    contracts: int
    avgPriceCents: float
    costUsd: float
    realizedPnlUsd: float
    lastFillAt: str
    currentPriceCents: float  # the side's mid from the market's last mark; the entry price when unmarked
    currentPriceAt: str | None  # when that mark was observed; null when valued at entry
    unrealizedPnlUsd: float


class PositionsResponse(BaseModel):
    count: int
    positions: list[Position]
    timestamp: str


@router.get("/positions", response_model=PositionsResponse)
def positions(request: Request, strategy: str | None = None) -> PositionsResponse:
    """Open positions per strategy/market/side, valued against each market's last mark (side-native mid)."""
    with request.app.state.container.pool.connection() as conn:
        rows = conn.execute(
            "SELECT p.strategy, p.ticker, p.side, p.contracts, p.cost_cents, p.realized_pnl_usd, p.last_fill_at,"
            " m.yes_bid, m.yes_ask, m.no_bid, m.no_ask, m.observed_at FROM views.positions p"
            " LEFT JOIN views.market_marks m ON m.ticker = p.ticker"
            " WHERE (%(s)s::text IS NULL OR p.strategy = %(s)s) ORDER BY p.strategy, p.ticker, p.side", {"s": strategy},
        ).fetchall()
    items = []
    for s, t, sd, c, cost, pnl, at, yb, ya, nb, na, marked_at in rows:
        avg = Decimal(cost) / c if c else Decimal(0)
        price = Quotes(yb, ya, nb, na).side_price(sd) if marked_at is not None else None
        current = Decimal(repr(price)) if price is not None else avg
        items.append(Position(
            strategy=s, ticker=t, side=sd, contracts=c, avgPriceCents=round(float(avg), 4), costUsd=cost / 100,
            realizedPnlUsd=float(pnl), lastFillAt=at.isoformat(), currentPriceCents=round(float(current), 4),
            currentPriceAt=marked_at.isoformat() if price is not None else None,
            unrealizedPnlUsd=round(float(unrealized_pnl_usd(avg, current, c)), 6)))
    return PositionsResponse(count=len(items), positions=items, timestamp=now_iso())
