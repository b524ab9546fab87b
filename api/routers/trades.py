"""GET /admin/trades and /admin/positions from the venue and position read models."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from paulp.api.errors import now_iso
from paulp.api.trades import list_trades, parse_filters

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
def trades(request: Request) -> TradesResponse:
    filters = parse_filters(dict(request.query_params))
    body = list_trades(request.app.state.container.pool, filters)
    return TradesResponse(**body, timestamp=now_iso())
