"""/admin/routing: LLM routing and budget read models (llm-routing §10.2) and the budget reset command.

Query parameters are read at their first value, as on every api-and-security endpoint (ADRs 0346, 0359)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from paulp.api import body_docs
from paulp.api import query_docs as docs
from paulp.api import routing_queries as q
from paulp.api.bodies import json_object, query_values
from paulp.api.errors import ApiError
from paulp.api.wiring import Container
from paulp.domain.budgets import PeriodType
from paulp.domain.llm_records import UnknownScoringRun
from paulp.domain.routing import BudgetCategory, RunType

router = APIRouter(prefix="/admin/routing", tags=["routing"])
VALIDATION: dict[int | str, dict[str, Any]] = {400: {"description": "validation failure: {error, code, message}"}}


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


@router.get("/budget")
def budget(request: Request) -> dict[str, Any]:
    c = _container(request)
    return q.budget_document(c.pool, c.routing.assumptions, c.routing.budget, c.clock.now())


@router.get("/decisions", responses=VALIDATION, openapi_extra=docs.openapi_params(docs.ROUTING_DECISIONS))
def decisions(request: Request) -> dict[str, Any]:
    filters = q.parse_decision_filters(query_values(request))
    return {"decisions": q.list_decisions(_container(request).pool, filters)}


@router.get("/decisions/{decision_id}", responses={404: {"description": "not_found"}})
def decision(decision_id: str, request: Request) -> dict[str, Any]:
    found = q.decision_detail(_container(request).pool, decision_id)
    if found is None:
        raise ApiError(404, "Decision not found", "not_found", message=f"no routing decision {decision_id}")
    return found


@router.get("/stats", responses=VALIDATION, openapi_extra=docs.openapi_params(docs.ROUTING_STATS))
def stats(request: Request) -> dict[str, Any]:
    c = _container(request)
    start, end = q.parse_stats_range(query_values(request), c.clock.now())
    return q.stats(c.pool, start, end)


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


@router.get("/dry-run", responses=VALIDATION, openapi_extra=docs.openapi_params(docs.ROUTING_DRY_RUN))
def dry_run(request: Request) -> dict[str, Any]:
    """runType is required and, as on /decisions, one of the closed set: an unknown one is the caller's
    mistake (400), not a preview of a refused call (ADR 0359)."""
    run_type = q.parse_choice(query_values(request).get("runType"), [str(r) for r in RunType], "runType")
    if run_type is None:
        raise q.bad_request("Invalid runType", "invalid_run_type", "runType is required")
    return _container(request).routing.dry_run(run_type).as_json()


@router.post("/budget/reset", responses=VALIDATION, openapi_extra=body_docs.BUDGET_RESET)
async def budget_reset(request: Request) -> dict[str, Any]:
    try:
        body = await json_object(request)
    except ApiError as exc:  # api-and-security's invalid_json / validation_error, with §10.2's message
        exc.extra.setdefault("message", "body must be a JSON object")
        raise
    category = q.parse_choice(_text(body.get("category")), [str(c) for c in BudgetCategory], "category")
    period = q.parse_choice(_text(body.get("periodType")), [str(p) for p in PeriodType], "periodType")
    reason = body.get("reason")
    if category is None or period is None:  # a schema violation names its fields (api-and-security §1.1)
        missing = [name for name, value in (("category", category), ("periodType", period)) if value is None]
        raise ApiError(400, "Invalid budget reset", "validation_error",
                       message="category and periodType are required", fields=missing)
    if not isinstance(reason, str) or not reason.strip():
        raise q.bad_request("Reason required", "reason_required", "reason is required for a budget reset")
    actor = getattr(getattr(request.state, "actor", None), "name", "operator")
    key, nid = await run_in_threadpool(_container(request).routing.reset_budget, category, period, actor, reason)
    repeated = {"duplicate": True} if nid == 0 else {}  # the period's last reset was this one (ADR 0517)
    return {"success": True, "category": category, "periodType": period, "periodStart": key, **repeated}


@router.get("/scoring-runs/gate", responses=VALIDATION,
            openapi_extra=docs.openapi_params(docs.ROUTING_SCORING_GATE))
def scoring_gate(request: Request) -> dict[str, Any]:
    """What the trade path reads for ``marketId`` (§8.3 gate, I12/I13 inputs and their runs; ADR 0425), from the
    scoring-runs view; ``strategy`` optional."""
    params = query_values(request)
    market = params.get("marketId")
    if not market or not market.strip() or "\x00" in market:
        raise q.bad_request("Invalid marketId", "validation_error", "marketId is required (no NUL characters)")
    c = _container(request)
    return q.scoring_gate_document(c.scoring().market_scoring(market.strip()), params.get("strategy") or None)


@router.post("/scoring-runs/{run_id}/override", responses={**VALIDATION, 404: {"description": "not_found"}},
             openapi_extra=body_docs.SCORING_OVERRIDE)
async def scoring_override(run_id: str, request: Request) -> dict[str, Any]:
    """§8.3 human override (``LlmScoringOverriddenByHuman``) by the authenticated actor: body ``{score, reason}``;
    a bad score or blank reason is a 400 ``INVALID_OVERRIDE`` and records nothing."""
    body = await json_object(request)
    actor = getattr(getattr(request.state, "actor", None), "name", "operator")
    c = _container(request)
    try:
        await run_in_threadpool(c.scoring_reviews.override, run_id, body.get("score"), body.get("reason"), actor)
    except UnknownScoringRun as exc:
        raise ApiError(404, "Scoring run not found", "not_found", message=exc.message) from None
    run = c.scoring_reviews.find(run_id)
    assert run is not None
    return {"success": True, "runId": run_id, "humanOverrideScore": run.human_override_score,
            "humanOverrideReason": run.human_override_reason, "overriddenBy": run.overridden_by,
            "flaggedForHumanReview": run.flagged_for_human_review, "inputHash": run.input_hash,
            "inputText": run.input_text}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else ("" if value is None else repr(value))
