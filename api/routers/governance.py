"""/admin governance: phase-gate criteria and the two-person go-live (api-and-security §1.3, §6.2)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from paulp.adapters.audit_store import verify
from paulp.api import body_docs
from paulp.api.bodies import json_object
from paulp.api.errors import ApiError, now_iso, status_for
from paulp.api.routing_queries import blocked_sweep_times
from paulp.api.wiring import Container
from paulp.domain.errors import DomainError
from paulp.domain.execution_policy import INITIAL_STRATEGY_MODES
from paulp.domain.gate_criteria import criteria_document, parse_phase
from paulp.domain.golive import Confirmed, validate_terms
from paulp.domain.governance import DEFAULT_LOOKBACK, SweepView, recent_block
from paulp.domain.services.golive import (
    AuditChainCompromised,
    DeploymentBlockedByDrift,
    GoLiveOutcome,
    GoLiveService,
)

router = APIRouter(prefix="/admin", tags=["governance"])

STATUS_BY_CODE = {"strategy_not_found": 404, "phase_gate_not_passed": 409, "same_actor": 409,
                  "request_mismatch": 409, "request_expired": 409}


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def golive_service(request: Request) -> GoLiveService:
    """The container's go-live service (built and closed with the container)."""
    return _container(request).golive


class DatabaseGoLiveChecks:
    """Facts outside the aggregate, read from the database; a read model that does not exist yet counts as
    "no pass" for the gate (fail closed) and "no block" for drift sweeps (no sweep ran)."""

    def __init__(self, database_url: str, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.database_url = database_url
        self.clock = clock

    def strategy_exists(self, strategy: str) -> bool:
        return strategy in INITIAL_STRATEGY_MODES

    def _table(self, conn: psycopg.Connection[Any], name: str) -> bool:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
        return bool(row and row[0])

    def phase4_gate_passed(self) -> bool:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            if not self._table(conn, "views.gate_signoffs"):
                return False
            row = conn.execute("SELECT EXISTS (SELECT 1 FROM views.gate_signoffs WHERE phase = 4 AND NOT forced"
                               " AND passed)").fetchone()
        return bool(row and row[0])

    def drift_blocked_recently(self) -> bool:
        """§7.3 recent block, decided by the domain rule (inclusive at now - 7 days, ADR 0483)."""
        now = self.clock()
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            if not self._table(conn, "views.llm_drift_sweeps"):
                return False
            blocked_at = blocked_sweep_times(conn, now - DEFAULT_LOOKBACK)
        return recent_block((SweepView(at, True) for at in blocked_at), now)

    def audit_chain_valid(self) -> bool:
        return verify(self.database_url).valid


@router.get("/gates/criteria/{phase}", responses={400: {"description": "invalid_phase"}})
def gate_criteria(phase: str) -> dict[str, Any]:
    return criteria_document(parse_phase(phase))


def _money(cents: int) -> int | float:
    return cents // 100 if cents % 100 == 0 else cents / 100


@router.post("/strategies/{strategy_id}/go-live", openapi_extra=body_docs.GO_LIVE,
             responses={202: {"description": "pending_second_approval"},
                        400: {"description": "validation"}, 404: {"description": "strategy_not_found"},
                        409: {"description": "phase_gate_not_passed | same_actor | request_mismatch | "
                                             "request_expired"}})
async def go_live(strategy_id: str, request: Request) -> JSONResponse:
    body = await json_object(request)
    terms = validate_terms(body.get("approver"), body.get("secondApprover"), body.get("capitalAllocationUsd"))
    actor: str = request.state.actor.name
    service = golive_service(request)
    container = _container(request)
    checks = DatabaseGoLiveChecks(container.database_url, container.clock.now)
    try:
        outcome: GoLiveOutcome = await run_in_threadpool(service.approve, strategy_id, terms, actor,
                                                         str(uuid.uuid4()), checks)
    except DeploymentBlockedByDrift as exc:
        raise ApiError(400, exc.message, exc.code, message=exc.detail) from None
    except AuditChainCompromised as exc:
        raise ApiError(400, exc.message, exc.code, message=exc.detail) from None
    except DomainError as exc:
        raise ApiError(status_for(exc.code, STATUS_BY_CODE), exc.message, exc.code) from None
    result = outcome.result
    if isinstance(result, Confirmed):  # also the live go-live asked for again by one of its operators (ADR 0517)
        return JSONResponse({
            "success": True, "status": "live", "strategy": strategy_id, "capital": _money(terms.capital_cents),
            "approvedBy": f"{terms.approver},{terms.second_approver}",
            "approvedAt": result.approved_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "actors": [result.requested_by, result.confirmed_by], **({"duplicate": True} if outcome.repeated else {}),
        })
    return JSONResponse({"status": "pending_second_approval", "requestId": result.request_id,
                         "expiresAt": result.expires_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                         "timestamp": now_iso()}, status_code=202)
