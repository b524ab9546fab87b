"""/admin/compliance: the §6.3 matrix read, and its two-person status change (api-and-security §6.3 resolution;
ADR 0401).

Operator auth runs first, Turnstile on the POSTs (§2.1, §2.6). As for go-live (ADR 0252) the proposer and the
approver are the authenticated actors, never names in the body, so one token cannot be both operators. Every
field is checked before the command runs: a 4xx records nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from paulp.api import body_docs
from paulp.api.bodies import json_object
from paulp.api.errors import ApiError, status_for
from paulp.api.wiring import Container
from paulp.domain.compliance import ACTOR_MAX, REASON_MAX
from paulp.domain.compliance_matrix import SourceStatus, parse_status, required_text
from paulp.domain.errors import DomainError

router = APIRouter(prefix="/admin/compliance", tags=["compliance"])
T = TypeVar("T")
STATUS_BY_CODE = {"unknown_source": 404, "proposal_not_found": 404, "proposal_pending": 409,
                  "status_unchanged": 409, "same_actor": 409, "proposal_expired": 409, "proposal_closed": 409}
SOURCES = ("SELECT source_name, status, block_reason, status_reason, authentication_type, allowed_usage,"
           " prohibited_usage, rate_limits, tos_url, tos_version, tos_next_review_date, tos_reviewed_at,"
           " tos_reviewed_by, status_changed_at, status_proposed_by, status_approved_by"
           " FROM views.compliance_sources ORDER BY source_name")
SOURCE_KEYS = ("sourceName", "status", "blockReason", "statusReason", "authenticationType", "allowedUsage",
               "prohibitedUsage", "rateLimits", "tosUrl", "tosVersion", "tosNextReviewDate", "tosReviewedAt",
               "tosReviewedBy", "statusChangedAt", "statusProposedBy", "statusApprovedBy")
PENDING = ("SELECT proposal_id, source_name, to_status, reason, block_reason, proposed_by, proposed_at, expires_at"
           " FROM views.compliance_proposals WHERE outcome = 'pending' ORDER BY proposed_at, proposal_id")
PENDING_KEYS = ("proposalId", "sourceName", "toStatus", "reason", "blockReason", "proposedBy", "proposedAt",
                "expiresAt")


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def _field(fields: list[str], check: Callable[..., T], *args: Any) -> T:
    """``check(*args)``, its refusal a 400 naming the fields it judged."""
    try:
        return check(*args)
    except DomainError as exc:
        raise ApiError(400, exc.message, exc.code, fields=fields) from None


CLOSED = ("SELECT outcome, closed_by FROM views.compliance_proposals WHERE proposal_id = %s"
          " AND outcome <> 'pending'")


async def _command(call: Callable[..., T], *args: Any) -> T:
    """Run a service command off the loop; a domain refusal keeps its code with the status it means."""
    try:
        return await run_in_threadpool(call, *args)
    except DomainError as exc:
        raise ApiError(status_for(exc.code, STATUS_BY_CODE), exc.message, exc.code) from None


def _closed(container: Container, proposal_id: str) -> dict[str, Any]:
    """How a closed proposal ended, as the view shows it once it has applied the close (a retried approve's answer
    says who approved it; ADR 0517); nothing while the view lags."""
    with container.pool.connection() as conn:
        row = conn.execute(CLOSED, (proposal_id.strip(),)).fetchone()
    return {} if row is None else {"outcome": row[0], "closedBy": row[1]}


async def _decide(container: Container, proposal_id: str, call: Callable[..., T], *args: Any) -> T:
    try:
        return await _command(call, *args)
    except ApiError as exc:
        if exc.code == "proposal_closed":
            exc.extra.update(await run_in_threadpool(_closed, container, proposal_id))
        raise


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


@router.get("/sources")
def list_sources(request: Request) -> dict[str, Any]:
    """The matrix as projected (views follow the log; the gate itself reads the log, ADR 0368)."""
    with _container(request).pool.connection() as conn:
        sources = [{k: _iso(v) for k, v in zip(SOURCE_KEYS, row, strict=True)} for row in conn.execute(SOURCES)]
        pending = [{k: _iso(v) for k, v in zip(PENDING_KEYS, row, strict=True)} for row in conn.execute(PENDING)]
    return {"sources": sources, "pendingProposals": pending}


@router.post("/sources/{name}/status", status_code=202, openapi_extra=body_docs.COMPLIANCE_PROPOSE,
             responses={400: {"description": "invalid_json | validation_error | invalid_compliance_request"},
                        404: {"description": "unknown_source"},
                        409: {"description": "proposal_pending | status_unchanged"}})
async def propose_status(name: str, request: Request) -> JSONResponse:
    body = await json_object(request)
    target = _field(["status"], parse_status, body.get("status"))
    reason = _field(["reason"], required_text, "reason", body.get("reason"), REASON_MAX)
    block_reason = body.get("blockReason")
    if block_reason is not None:
        if target is not SourceStatus.BLOCKED:
            raise ApiError(400, "blockReason is only given when the status is blocked", "invalid_compliance_request",
                           fields=["blockReason"])
        block_reason = _field(["blockReason"], required_text, "blockReason", block_reason, REASON_MAX)
    actor: str = request.state.actor.name
    service = _container(request).compliance
    proposal_id, nid = await _command(service.propose_status, name, target.value, reason, block_reason, actor)
    source = await run_in_threadpool(service.source, name)
    expires = source.pending["expires_at"] if source is not None and source.pending else None
    return JSONResponse({"status": "pending_second_approval", "proposalId": proposal_id, "source": name.strip(),
                         "toStatus": target.value, "proposedBy": actor, "expiresAt": _iso(expires),
                         "notificationId": nid}, status_code=202)


@router.post("/proposals/{proposal_id}/approve", openapi_extra=body_docs.NO_FIELDS,
             responses={400: {"description": "invalid_json | invalid_compliance_request"},
                        404: {"description": "unknown_source | proposal_not_found"},
                        409: {"description": "same_actor | proposal_expired | proposal_closed"}})
async def approve(proposal_id: str, request: Request) -> dict[str, Any]:
    await json_object(request, empty_is_object=True)  # no fields: the approver is the authenticated actor
    actor = _field(["actor"], required_text, "actor", request.state.actor.name, ACTOR_MAX)
    container = _container(request)
    src, nid = await _decide(container, proposal_id, container.compliance.approve, proposal_id, actor)
    proposer, approver = src.changed_by
    return {"success": True, "proposalId": proposal_id.strip(), "source": src.source_name,
            "status": src.status.value, "blockReason": src.block_reason, "proposedBy": proposer,
            "approvedBy": approver, "actors": [proposer, approver], "notificationId": nid}


@router.post("/proposals/{proposal_id}/reject", openapi_extra=body_docs.COMPLIANCE_REJECT,
             responses={400: {"description": "invalid_json | validation_error | invalid_compliance_request"},
                        404: {"description": "unknown_source | proposal_not_found"},
                        409: {"description": "proposal_closed"}})
async def reject(proposal_id: str, request: Request) -> dict[str, Any]:
    body = await json_object(request)
    reason = _field(["reason"], required_text, "reason", body.get("reason"), REASON_MAX)
    actor: str = request.state.actor.name
    container = _container(request)
    nid = await _decide(container, proposal_id, container.compliance.reject, proposal_id, actor, reason)
    return {"success": True, "proposalId": proposal_id.strip(), "rejectedBy": actor, "notificationId": nid}
