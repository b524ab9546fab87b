"""/admin strategy registry and operator reviews (api-and-security §1.3; ADR 0255).

Every mutation validates its whole body before any command runs, so a 4xx records nothing; the
authenticated actor goes into the event beside any name typed in the body.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from paulp.api import body_docs
from paulp.api.bodies import json_object
from paulp.api.errors import ApiError, status_for
from paulp.api.strategy_queries import execution_policy, recent_orders, strategy_detail
from paulp.api.wiring import Container
from paulp.domain.errors import DomainError
from paulp.domain.reviews import review_notes, reviewer_name
from paulp.domain.strategy_registry import DEFAULT_REASON, StrategyInfo, requested_status

router = APIRouter(prefix="/admin", tags=["strategies"])

STATUS_BY_CODE = {"use_go_live": 409, "strategy_not_found": 404, "violation_not_found": 404,
                  "pair_not_found": 404, "already_resolved": 409, "already_approved": 409}
REASON_MAX = 500


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def _api_error(exc: DomainError) -> ApiError:
    return ApiError(status_for(exc.code, STATUS_BY_CODE), exc.message, exc.code)


def _strategy(container: Container, strategy_id: str) -> StrategyInfo:
    try:
        return container.strategies.info(strategy_id)
    except DomainError as exc:
        raise _api_error(exc) from None


def _review(body: dict[str, Any], field: str) -> tuple[str, str | None]:
    """The named person (required) and optional notes, each failure naming its field."""
    try:
        name = reviewer_name(body.get(field), field)
    except DomainError as exc:
        raise ApiError(400, exc.message, exc.code, fields=[field]) from None
    try:
        return name, review_notes(body.get("notes"))
    except DomainError as exc:
        raise ApiError(400, exc.message, exc.code, fields=["notes"]) from None


def _reason(value: object) -> str:
    if value is None:
        return DEFAULT_REASON
    if not isinstance(value, str) or not value.strip() or len(value) > REASON_MAX:
        raise ApiError(400, "Invalid reason", "validation_error", fields=["reason"])
    return value.strip()


@router.get("/strategies/{strategy_id}", responses={404: {"description": "strategy_not_found"}})
def get_strategy(strategy_id: str, request: Request) -> dict[str, Any]:
    container = _container(request)
    info = _strategy(container, strategy_id)
    return {"strategy": strategy_detail(container, info), "recentOrders": recent_orders(container, info),
            "executionPolicy": execution_policy(container, info)}


@router.post("/strategies/{strategy_id}/status", openapi_extra=body_docs.strategy_status(REASON_MAX),
             responses={400: {"description": "invalid_json | invalid_status | validation_error"},
                        404: {"description": "strategy_not_found"}, 409: {"description": "use_go_live"}})
async def set_status(strategy_id: str, request: Request) -> dict[str, Any]:
    body = await json_object(request)
    container = _container(request)
    try:
        status = requested_status(body.get("status"))  # spec order: value (400), live (409), strategy (404)
    except DomainError as exc:
        raise _api_error(exc) from None
    _strategy(container, strategy_id)
    reason = _reason(body.get("reason"))
    actor: str = request.state.actor.name
    try:
        change = await run_in_threadpool(container.strategies.set_status, strategy_id, status, actor, reason)
    except DomainError as exc:
        raise _api_error(exc) from None
    return {"success": True, "newStatus": change.new.value}


@router.post("/violations/{violation_id}/resolve", openapi_extra=body_docs.RESOLVE_VIOLATION,
             responses={400: {"description": "invalid_json | validation_error"},
                        404: {"description": "violation_not_found"}, 409: {"description": "already_resolved"}})
async def resolve_violation(violation_id: str, request: Request) -> dict[str, Any]:
    resolver, notes = _review(await json_object(request), "resolver")
    try:
        await run_in_threadpool(_container(request).reviews.resolve_violation, violation_id, resolver, notes,
                                request.state.actor.name)
    except DomainError as exc:
        raise _api_error(exc) from None
    return {"success": True}


@router.post("/pairs/{pair_id}/approve", openapi_extra=body_docs.APPROVE_PAIR,
             responses={400: {"description": "invalid_json | validation_error"},
                        404: {"description": "pair_not_found"}, 409: {"description": "already_approved"}})
async def approve_pair(pair_id: str, request: Request) -> dict[str, Any]:
    reviewer, notes = _review(await json_object(request), "reviewer")
    try:
        await run_in_threadpool(_container(request).reviews.approve_pair, pair_id, reviewer, notes,
                                request.state.actor.name)
    except DomainError as exc:
        raise _api_error(exc) from None
    return {"success": True}
