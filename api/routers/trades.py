"""GET /admin/trades and /admin/positions from the venue and position read models."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from paulp.api import body_docs
from paulp.api import query_docs as docs
from paulp.api.bodies import json_object, query_values
from paulp.api.errors import ApiError, now_iso
from paulp.api.positions import valued_positions
from paulp.api.trades import list_trades_json, list_trades_json_async, parse_filters
from paulp.domain.fees import cents_to_usd
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
            openapi_extra=docs.openapi_params(docs.TRADES),
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
    # "adjusted": contracts a rebuild adopted from the venue, valued at the mark (ADR 0415); their entry is the
    # venue's cost recorded at adoption (ADR 0450), else the mark itself: no PnL made up
    feesUsd: float  # known fees of the position's fills and exit sells (ADR 0437); the figures above are gross
    feesComplete: bool  # false: some fill's fee is not known (filled before fees were recorded)
    netRealizedPnlUsd: float  # realizedPnlUsd - feesUsd


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
                      unrealizedPnlUsd=round(float(p.unrealized_pnl_usd), 6), status=p.status,
                      feesUsd=cents_to_usd(p.fees_cents), feesComplete=p.fees_complete,
                      netRealizedPnlUsd=round(float(p.net_realized_pnl_usd), 6))
             for p in valued_positions(request.app.state.container.pool, strategy)]
    return PositionsResponse(count=len(items), positions=items, timestamp=now_iso())


CLOSE_TEXT_MAX = 2000
CLOSE_CHOICES = {"side": ("YES", "NO"), "mode": ("PAPER", "LIVE")}


def _close_request(body: dict[str, Any]) -> tuple[str, str, str, str, str]:
    """Every field checked before anything runs, so a 400 records nothing; side and mode in any case."""
    bad = [k for k in ("strategy", "ticker", "reason")
           if not isinstance(body.get(k), str) or not body[k].strip() or len(body[k]) > CLOSE_TEXT_MAX
           or "\x00" in body[k]]  # no text column holds a NUL: it reached the position query as a 500 (ADR 0498)
    bad += [k for k, allowed in CLOSE_CHOICES.items()
            if not isinstance(body.get(k), str) or body[k].strip().upper() not in allowed]
    if bad:
        raise ApiError(400, "strategy, ticker and reason are required text; side is YES or NO; mode is PAPER or"
                       " LIVE", "validation_error", fields=sorted(bad))
    return (body["strategy"].strip(), body["ticker"].strip(), body["side"].strip().upper(),
            body["mode"].strip().upper(), body["reason"].strip())


@router.post("/positions/close", openapi_extra=body_docs.close_position(CLOSE_TEXT_MAX, CLOSE_CHOICES), responses={
    400: {"description": "invalid_json | validation_error"}, 404: {"description": "POSITION_NOT_OPEN"},
    409: {"description": "CLOSE_REFUSED | rebuild_in_progress"}, 503: {"description": "venue_not_configured"}})
async def close_position(request: Request) -> dict[str, Any]:
    """An operator closes a whole open position now (ADR 0440): the exit monitor's exit with reason
    OPERATOR_CLOSE, the authenticated actor as who asked; in any breaker state."""
    from paulp.api.exit_jobs import close_position as close
    from paulp.api.venue_session import JobFailed

    body = await json_object(request)
    strategy, ticker, side, mode, reason = _close_request(body)
    dry_run = body.get("dryRun", False)
    if not isinstance(dry_run, bool):
        raise ApiError(400, "dryRun is true or false", "validation_error", fields=["dryRun"])
    try:
        exit_ = await run_in_threadpool(close, request.app.state.container, strategy, ticker, side, mode,
                                        request.state.actor.name, reason, dry_run)
    except JobFailed as exc:
        raise ApiError(exc.status, exc.message, exc.code) from None
    if dry_run:
        return {"success": True, "preview": exit_, "timestamp": now_iso()}
    # a close of a position an earlier close (or exit) sold out: that exit, said so (ADR 0517)
    again = {"alreadyClosed": True} if exit_.pop("alreadyClosed", False) else {}
    return {"success": exit_["state"] == "FILLED", "exit": exit_, **again, "timestamp": now_iso()}
