"""/admin/routing: LLM routing and budget read models (llm-routing §10.2) and the budget reset command."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from paulp.api import routing_queries as q
from paulp.api.errors import ApiError
from paulp.api.wiring import Container
from paulp.domain.budgets import PeriodType
from paulp.domain.routing import BudgetCategory

router = APIRouter(prefix="/admin/routing", tags=["routing"])
VALIDATION: dict[int | str, dict[str, Any]] = {400: {"description": "validation failure: {error, code, message}"}}


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


@router.get("/budget")
def budget(request: Request) -> dict[str, Any]:
    c = _container(request)
    return q.budget_document(c.pool, c.routing.assumptions, c.routing.budget, c.clock.now())


@router.get("/decisions", responses=VALIDATION)
def decisions(request: Request) -> dict[str, Any]:
    filters = q.parse_decision_filters(dict(request.query_params))
    return {"decisions": q.list_decisions(_container(request).pool, filters)}


@router.get("/decisions/{decision_id}", responses={404: {"description": "not_found"}})
def decision(decision_id: str, request: Request) -> dict[str, Any]:
    found = q.decision_detail(_container(request).pool, decision_id)
    if found is None:
        raise ApiError(404, "Decision not found", "not_found", message=f"no routing decision {decision_id}")
    return found


@router.get("/stats", responses=VALIDATION)
def stats(request: Request, start: str | None = None, end: str | None = None) -> dict[str, Any]:
    c = _container(request)
    end_at = q.parse_time(end, "end") or c.clock.now()
    try:
        start_at = q.parse_time(start, "start") or end_at - timedelta(hours=24)
    except OverflowError:
        raise q.bad_request("Invalid time range", "invalid_time_range", "end is too early") from None
    if end_at <= start_at:
        raise q.bad_request("Invalid time range", "invalid_time_range", "end must be after start")
    return q.stats(c.pool, start_at, end_at)


@router.get("/success-rate")
def success_rate(request: Request) -> dict[str, Any]:
    return {"rows": q.success_rate(_container(request).pool)}


@router.get("/rules")
def rules() -> dict[str, Any]:
    return q.rules()


@router.get("/drift-sweeps")
def drift_sweeps(request: Request) -> dict[str, Any]:
    c = _container(request)
    return q.drift_document(c.pool, c.clock.now())


@router.get("/dry-run", responses=VALIDATION)
def dry_run(request: Request, runType: str | None = None) -> dict[str, Any]:
    if not runType:
        raise q.bad_request("Invalid runType", "invalid_run_type", "runType is required")
    return _container(request).routing.dry_run(runType).as_json()


@router.post("/budget/reset", responses=VALIDATION)
async def budget_reset(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        body = None
    if not isinstance(body, dict):
        raise q.bad_request("Invalid JSON body", "invalid_json", "body must be a JSON object")
    category = q.parse_choice(_text(body.get("category")), [str(c) for c in BudgetCategory], "category")
    period = q.parse_choice(_text(body.get("periodType")), [str(p) for p in PeriodType], "periodType")
    reason = body.get("reason")
    if category is None or period is None:
        raise q.bad_request("Invalid budget reset", "validation_error", "category and periodType are required")
    if not isinstance(reason, str) or not reason.strip():
        raise q.bad_request("Reason required", "reason_required", "reason is required for a budget reset")
    actor = getattr(getattr(request.state, "actor", None), "name", "operator")
    key, _ = await run_in_threadpool(_container(request).routing.reset_budget, category, period, actor, reason)
    return {"success": True, "category": category, "periodType": period, "periodStart": key}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else ("" if value is None else repr(value))
