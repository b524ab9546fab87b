"""/admin/risk/correlations and /admin/risk/correlation-rules: the market correlations and the category/series
rules I3 counts, read, declared and withdrawn (ADRs 0365, 0431).

Operator auth runs first, and Turnstile on POST and DELETE (api-and-security §2.1). Every field is validated
before the command runs, so a 4xx records nothing; the authenticated actor is the one the event names.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from paulp.api import body_docs
from paulp.api import query_docs as docs
from paulp.api.bodies import json_object, query_values
from paulp.api.correlations import correlation_rows, correlation_rule_rows
from paulp.api.errors import ApiError
from paulp.api.wiring import Container
from paulp.domain.errors import DomainError
from paulp.domain.market_correlations import (
    RULE_TYPES,
    NoActiveCorrelation,
    NoActiveRule,
    correlation_pair,
    correlation_ticker,
    correlation_type,
    correlation_weight,
    rule_selector,
)
from paulp.domain.risk_correlation import DEFAULT_EDGE_WEIGHT, edge_score

router = APIRouter(prefix="/admin/risk", tags=["risk"])
PATH = "/correlations"
TEXT_MAX = 2000
DECLARE, WITHDRAW, DECLARE_RULE, WITHDRAW_RULE = body_docs.correlations(TEXT_MAX)


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def _field(fields: list[str], check: Any, *args: Any) -> Any:
    """``check(*args)``, its refusal raised as a 400 naming the fields it judged."""
    try:
        return check(*args)
    except DomainError as exc:
        raise ApiError(400, exc.message, exc.code, fields=fields) from None


def _reason(body: dict[str, Any]) -> str:
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > TEXT_MAX:
        raise ApiError(400, f"reason required (at most {TEXT_MAX} characters)", "INVALID_CORRELATION",
                       fields=["reason"])
    return reason


def _pair_and_reason(body: dict[str, Any]) -> tuple[str, str, str]:
    a, b = _field(["marketId", "relatedMarketId"], correlation_pair, body.get("marketId"), body.get("relatedMarketId"))
    reason = _reason(body)
    return a, b, reason


@router.get(PATH, responses={400: {"description": "INVALID_CORRELATION"}},
            openapi_extra=docs.openapi_params(docs.CORRELATIONS))
def list_correlations(request: Request) -> dict[str, Any]:
    market = query_values(request).get("market")
    if market is not None:
        market = _field(["market"], correlation_ticker, market, "market")
    with _container(request).pool.connection() as conn:
        return {"correlations": correlation_rows(conn, market)}


@router.post(PATH, openapi_extra=DECLARE,
             responses={400: {"description": "invalid_json | validation_error | INVALID_CORRELATION"}})
async def declare(request: Request) -> dict[str, Any]:
    body = await json_object(request)
    a, b, reason = _pair_and_reason(body)
    kind = _field(["type"], correlation_type, body.get("type"))
    weight = _field(["weight"], correlation_weight, body.get("weight", DEFAULT_EDGE_WEIGHT))
    actor: str = request.state.actor.name
    nid = await run_in_threadpool(_container(request).correlations.declare, a, b, kind, weight, actor, reason)
    return {"success": True, "notificationId": nid,
            "correlation": {"marketId": a, "relatedMarketId": b, "type": kind, "weight": weight,
                            "effectiveScore": edge_score(kind, weight), "declaredBy": actor}}


@router.delete(PATH, openapi_extra=WITHDRAW,
               responses={400: {"description": "invalid_json | validation_error | INVALID_CORRELATION"},
                          404: {"description": "NO_ACTIVE_CORRELATION (never declared)"}})
async def withdraw(request: Request) -> dict[str, Any]:
    a, b, reason = _pair_and_reason(await json_object(request))
    try:
        nid = await run_in_threadpool(_container(request).correlations.withdraw, a, b, request.state.actor.name,
                                      reason)
    except NoActiveCorrelation as exc:
        raise ApiError(404, exc.message, exc.code) from None
    return {"success": True, "notificationId": nid, **_already(nid)}


RULES = "/correlation-rules"


def _selector_and_reason(body: dict[str, Any]) -> tuple[str, str, str]:
    """Exactly one of ``category`` / ``series`` (ADR 0431), and a reason."""
    given = [k for k in ("category", "series") if body.get(k) is not None]
    if len(given) != 1:
        raise ApiError(400, "give exactly one of category or series", "INVALID_CORRELATION",
                       fields=["category", "series"])
    field, value = _field(given, rule_selector, given[0], body[given[0]])
    reason = _reason(body)
    return field, value, reason


@router.get(RULES)
def list_rules(request: Request) -> dict[str, Any]:
    """The active correlation rules I3 reads (trading §3.4 step 3)."""
    with _container(request).pool.connection() as conn:
        return {"rules": correlation_rule_rows(conn)}


@router.post(RULES, openapi_extra=DECLARE_RULE,
             responses={400: {"description": "invalid_json | validation_error | INVALID_CORRELATION"}})
async def declare_rule(request: Request) -> dict[str, Any]:
    body = await json_object(request)
    field, value, reason = _selector_and_reason(body)
    weight = _field(["weight"], correlation_weight, body.get("weight", DEFAULT_EDGE_WEIGHT))
    actor: str = request.state.actor.name
    nid = await run_in_threadpool(_container(request).correlations.declare_rule, field, value, weight, actor, reason)
    return {"success": True, "notificationId": nid,
            "rule": {"field": field, "value": value, "type": RULE_TYPES[field], "weight": weight,
                     "declaredBy": actor}}


@router.delete(RULES, openapi_extra=WITHDRAW_RULE,
               responses={400: {"description": "invalid_json | validation_error | INVALID_CORRELATION"},
                          404: {"description": "NO_ACTIVE_CORRELATION_RULE (never declared)"}})
async def withdraw_rule(request: Request) -> dict[str, Any]:
    field, value, reason = _selector_and_reason(await json_object(request))
    try:
        nid = await run_in_threadpool(_container(request).correlations.withdraw_rule, field, value,
                                      request.state.actor.name, reason)
    except NoActiveRule as exc:
        raise ApiError(404, exc.message, exc.code) from None
    return {"success": True, "notificationId": nid, **_already(nid)}


def _already(nid: int) -> dict[str, bool]:
    """A withdrawal of what is withdrawn already (a retried DELETE) records nothing and says so (ADR 0517)."""
    return {"alreadyWithdrawn": True} if nid == 0 else {}
