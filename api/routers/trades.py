"""GET /admin/trades and /admin/positions from the venue and position read models."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from paulp.api.bodies import query_values
from paulp.api.errors import now_iso
from paulp.api.positions import valued_positions
from paulp.api.trades import list_trades_json, list_trades_json_async, parse_filters
from paulp.domain.reconciliation import json_number

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
    filters = parse_filters(query_values(request))
    pool = request.app.state.read_pool.current()
    if pool is not None:
        body = await list_trades_json_async(pool, filters, now_iso())
    else:  # no lifespan ran on this loop: the synchronous pool, off the loop
        body = await run_in_threadpool(list_trades_json, request.app.state.container.pool, filters, now_iso())
    return Response(body, media_type="application/json")


def plain_route() -> Route:
    """``trades`` as a Starlette route: its signature (request in, response out) needs no dependency solving."""
    route = Route("/admin/trades", trades, methods=["GET"], include_in_schema=False)
    route.methods = {"GET"}  # Starlette adds HEAD to GET routes; the FastAPI route answers HEAD with 405
    return route


class Position(BaseModel):
    strategy: str
    ticker: str
    side: str
    mode: str  # PAPER | LIVE: each mode's contracts are their own position
    contracts: int | float  # a fraction only in a rebuild's adjustment (strategy venue-adjustment, ADR 0415)
    avgPriceCents: float
    costUsd: float
    realizedPnlUsd: float
    lastFillAt: str
    currentPriceCents: float  # the side's mid from the market's last mark; the entry price when unmarked
    currentPriceAt: str | None  # when that mark was observed; null when valued at entry
    unrealizedPnlUsd: float
    status: str  # "open", or "resolved" once the market's outcome is known (then valued at settlement), or
    # "adjusted": contracts a rebuild adopted from the venue, valued at the mark with no PnL (ADR 0415)


class PositionsResponse(BaseModel):
    count: int
    positions: list[Position]
    timestamp: str


@router.get("/positions", response_model=PositionsResponse)
def positions(request: Request, strategy: str | None = None) -> PositionsResponse:
    """Positions per strategy/market/side/mode: open ones valued against the market's last mark (side-native
    mid), resolved ones at the settlement price with the difference realised."""
    items = [Position(strategy=p.strategy, ticker=p.ticker, side=p.side, mode=p.mode,
                      contracts=json_number(Decimal(p.contracts)),
                      avgPriceCents=round(float(p.avg_entry_cents), 4), costUsd=p.cost_cents / 100,
                      realizedPnlUsd=float(p.realized_pnl_usd), lastFillAt=p.last_fill_at.isoformat(),
                      currentPriceCents=round(float(p.current_cents), 4),
                      currentPriceAt=p.marked_at.isoformat() if p.marked_at else None,
                      unrealizedPnlUsd=round(float(p.unrealized_pnl_usd), 6), status=p.status)
             for p in valued_positions(request.app.state.container.pool, strategy)]
    return PositionsResponse(count=len(items), positions=items, timestamp=now_iso())
