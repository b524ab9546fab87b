"""/admin orchestrator control and reconciliation (api-and-security §1.3 "Orchestrator control",
"POST /reconcile"): jobs run now through the container's job runner, the order-lifecycle list from the
orders read model. A job that fails is a 502 (never ``success: true``); nothing is half written. A
``POST /reconcile`` is a ``JobRun`` like a trigger or a schedule slot (ADR 0393), so every run is in the views."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from paulp.api import body_docs
from paulp.api import query_docs as docs
from paulp.api.bodies import json_object, query_values
from paulp.api.errors import ApiError, now_iso
from paulp.api.job_runs import list_runs, parse_run_filters
from paulp.api.orchestrator_orders import list_orders, parse_order_filters
from paulp.api.venue_session import JobFailed
from paulp.api.wiring import Container
from paulp.domain.orchestration import JOBS

log = logging.getLogger("paulp.api.orchestrator")
router = APIRouter(prefix="/admin", tags=["orchestrator"])


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


@router.post("/orchestrator/trigger/{trigger:path}", openapi_extra=body_docs.NO_FIELDS,
             responses={400: {"description": "invalid_json"}, 404: {"description": "unknown_trigger"},
                        502: {"description": "job_failed"}})
async def trigger(trigger: str, request: Request) -> JSONResponse:
    if trigger not in JOBS:
        raise ApiError(404, "Unknown trigger", "unknown_trigger", trigger=trigger, triggers=list(JOBS))
    await json_object(request, empty_is_object=True)  # optional body; malformed JSON is still a 400
    actor = request.state.actor.name
    container = _container(request)
    try:
        _, done = await run_in_threadpool(container.jobs.start_now, trigger, actor, "admin")
        result = await asyncio.wrap_future(done)  # the run's own thread: a stop can give up on it (ADR 0515)
    except JobFailed as exc:
        return JSONResponse({"success": False, "code": "job_failed", "trigger": trigger, "error": exc.message,
                             "reason": exc.code}, status_code=502)
    except Exception:
        log.exception("orchestrator trigger %s failed", trigger)
        return JSONResponse({"success": False, "code": "job_failed", "trigger": trigger, "error": "Job failed"},
                            status_code=502)
    return JSONResponse({"success": True, "trigger": trigger, "triggeredBy": actor, "timestamp": now_iso(),
                         "result": result})


@router.get("/orchestrator/orders", responses={400: {"description": "invalid_state | invalid_limit"}},
            openapi_extra=docs.openapi_params(docs.ORCHESTRATOR_ORDERS))
def orders(request: Request) -> dict[str, Any]:
    filters = parse_order_filters(query_values(request))
    rows = list_orders(_container(request).pool, filters)
    return {"orders": rows, "count": len(rows), "filters": filters.as_json(), "timestamp": now_iso()}


@router.get("/orchestrator/runs", openapi_extra=docs.openapi_params(docs.ORCHESTRATOR_RUNS),
            responses={400: {"description": "invalid_job | invalid_state | invalid_source | invalid_limit"}})
def runs(request: Request) -> dict[str, Any]:
    """Job runs, newest first: manual triggers, webhooks and the §7.1 schedule's slots (ADR 0259)."""
    filters = parse_run_filters(query_values(request))
    rows = list_runs(_container(request).pool, filters)
    return {"runs": rows, "count": len(rows), "filters": filters.as_json(), "timestamp": now_iso()}


@router.post("/reconcile", openapi_extra=body_docs.NO_FIELDS, responses={400: {"description": "invalid_json"},
                                      409: {"description": "job_busy (a reconciliation is still running)"},
                                      502: {"description": "venue error (code names it)"},
                                      503: {"description": "venue_not_configured"}})
async def reconcile(request: Request) -> dict[str, Any]:
    await json_object(request, empty_is_object=True)
    actor = request.state.actor.name
    try:
        run_id, done = await run_in_threadpool(_container(request).jobs.start_now, "reconcile", actor, "admin")
        result = await asyncio.wrap_future(done)
    except JobFailed as exc:
        raise ApiError(exc.status, "Reconciliation failed", exc.code, message=exc.message) from None
    return {**result, "triggeredBy": actor, "timestamp": now_iso(), "runId": run_id}
