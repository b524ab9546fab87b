"""/admin: operator commands and the views they read (api-and-security §1.3)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from paulp.api import body_docs
from paulp.api.bodies import json_object
from paulp.api.errors import ApiError, now_iso
from paulp.api.queries import breaker_view, latest_portfolio_snapshot
from paulp.api.strategy_queries import strategy_rows, unresolved_violations
from paulp.api.wiring import Container
from paulp.domain.breaker import BreakerState

router = APIRouter(prefix="/admin", tags=["admin"])


class TransitionResponse(BaseModel):
    success: bool
    previousState: str
    newState: str
    reason: str
    timestamp: str


class BreakerView(BaseModel):
    state: str
    consecutiveFailures: int
    haltStartedAt: datetime | None
    lastStateChange: datetime | None
    lastReason: str | None
    lastActor: str | None


class StatusResponse(BaseModel):
    strategies: list[dict[str, Any]]
    unresolvedViolations: list[dict[str, Any]]
    latestSnapshot: dict[str, Any] | None
    circuitBreaker: BreakerView
    timestamp: str


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


@router.post(
    "/circuit-breaker/transition",
    openapi_extra=body_docs.BREAKER_TRANSITION,
    response_model=TransitionResponse,
    responses={400: {"description": "invalid_json | invalid_target_state | reason_required | invalid_transition"}},
)
async def transition(request: Request) -> TransitionResponse:
    body = await json_object(request)
    target, reason = body.get("targetState"), body.get("reason")
    if not isinstance(target, str) or target not in BreakerState.__members__:
        raise ApiError(400, "Invalid target state", "invalid_target_state")
    if not isinstance(reason, str) or not reason.strip():
        raise ApiError(400, "Reason required for state transition", "reason_required")
    if "\x00" in reason:
        raise ApiError(400, "Invalid request", "invalid_characters")
    container = _container(request)
    from starlette.concurrency import run_in_threadpool

    result = await run_in_threadpool(container.breaker.transition, target, reason, request.state.actor.name)
    return TransitionResponse(
        success=True,
        previousState=result.previous_state.value,
        newState=result.new_state.value,
        reason=result.reason,
        timestamp=now_iso(),
    )


@router.get("/status", response_model=StatusResponse)
def status(request: Request) -> StatusResponse:
    container = _container(request)
    nid = container.breaker.tick()  # the HALT timeout is evaluated before any query (§2.3)
    view = breaker_view(container, wait_for=nid)
    return StatusResponse(
        strategies=strategy_rows(container),
        unresolvedViolations=unresolved_violations(container),
        latestSnapshot=latest_portfolio_snapshot(container),
        circuitBreaker=BreakerView(**view),
        timestamp=now_iso(),
    )


@router.get("/dead-letters", responses={400: {"description": "invalid_limit"}})
def dead_letters(request: Request, limit: str = "100", projection: str | None = None,
                 pending: bool = False) -> dict[str, Any]:
    """Messages a projector gave up on (api-and-security §7.2; ADR 0398), newest first; ``pending=true``
    leaves out the ones an operator replayed."""
    from paulp.adapters.dead_letters import list_dead_letters

    try:
        n = int(limit)
    except ValueError:
        n = 0
    if n < 1:
        raise ApiError(400, "Invalid limit. Must be a positive integer.", "invalid_limit")
    with _container(request).pool.connection() as conn:
        rows = list_dead_letters(conn, min(n, 500), projection, pending)
    return {"count": len(rows), "deadLetters": [r.to_json() for r in rows], "timestamp": now_iso()}
