"""GET /admin/trades and /admin/positions from the venue and position read models."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from paulp.api.errors import now_iso
from paulp.api.trades import list_trades_json, list_trades_json_async, parse_filters

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


class PositionsResponse(BaseModel):
    count: int
    positions: list[Position]
    timestamp: str


@router.get("/positions", response_model=PositionsResponse)
def positions(request: Request, strategy: str | None = None) -> PositionsResponse:
    """Open positions per strategy/market/side at cost; unrealised PnL needs marks (not yet projected)."""
    with request.app.state.container.pool.connection() as conn:
        rows = conn.execute(
            "SELECT strategy, ticker, side, contracts, cost_cents, realized_pnl_usd, last_fill_at FROM views.positions"
            " WHERE (%(s)s::text IS NULL OR strategy = %(s)s) ORDER BY strategy, ticker, side", {"s": strategy},
        ).fetchall()
    items = [Position(strategy=s, ticker=t, side=sd, contracts=c, avgPriceCents=round(cost / c, 4) if c else 0.0,
                      costUsd=cost / 100, realizedPnlUsd=float(pnl), lastFillAt=at.isoformat())
             for s, t, sd, c, cost, pnl, at in rows]
    return PositionsResponse(count=len(items), positions=items, timestamp=now_iso())
