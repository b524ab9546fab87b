"""/admin/gates: verify a phase gate, sign it off, read the signoffs (api-and-security §1.3, §6.1-6.2).

POST /gates/signoff checks in this order: phase (400 invalid_phase) → body (400 invalid_json /
validation_error) → gate run (500 on a check that raises) → failed gate without force (400) →
forced without notes (400 notes_required) → append ``GateSignoffs.SignedOff`` (ADR 0254).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from paulp.adapters.gate_facts import DatabaseGateFacts, GateSources
from paulp.adapters.kalshi.client import BASE_URL_ENV
from paulp.adapters.kalshi.signing import KEY_ENV, PRIVATE_KEY_ENV
from paulp.api import body_docs
from paulp.api.bodies import json_object
from paulp.api.errors import ApiError
from paulp.api.queries import wait_for_projection
from paulp.api.wiring import Container
from paulp.domain.gate_criteria import parse_phase
from paulp.domain.gate_signoffs import FAILED_GATE, FORCED_WARNING, GateNotPassed, NotesRequired, Signoff
from paulp.domain.gates import GateResult, evaluate
from paulp.domain.services.base import WriteConflict

router = APIRouter(prefix="/admin", tags=["gates"])
log = logging.getLogger("paulp.gates")
MAX_NOTES = 4000
SIGNOFF_COLUMNS = ("signoff_id, phase, target_phase, signed_off_by, signed_off_at, forced, passed, notes,"
                   " gate_result")


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def gate_sources(container: Container) -> GateSources:
    s = container.settings
    secrets = {KEY_ENV: s.KALSHI_API_KEY, PRIVATE_KEY_ENV: s.KALSHI_PRIVATE_KEY}
    env = {name: value.get_secret_value() for name, value in secrets.items() if value is not None}
    env[BASE_URL_ENV] = s.KALSHI_BASE_URL
    return GateSources(container.database_url, s.evidence_dir(), env, tuple(container.projections),
                       risk_limits=lambda: container.risk_limits().to_json(), execution_modes=container.execution_modes)


def run_gate(container: Container, phase: int, actor: str) -> GateResult:
    now = container.clock.now()
    facts = DatabaseGateFacts(gate_sources(container)).gather(phase, now)
    return evaluate(phase, facts, now, actor)


async def _checked_gate(container: Container, phase: int, actor: str) -> GateResult:
    try:
        return await run_in_threadpool(run_gate, container, phase, actor)
    except Exception:
        request_id = str(uuid.uuid4())
        log.exception("gate check failed phase=%s request_id=%s", phase, request_id)
        raise ApiError(500, "Gate check failed", "gate_check_failed",
                       message="A gate check could not complete; see the server log", request_id=request_id) from None


@router.get("/gates/verify/{phase}", responses={400: {"description": "invalid_phase"},
                                                500: {"description": "gate_check_failed"}})
async def verify_gate(phase: str, request: Request) -> dict[str, Any]:
    number = parse_phase(phase)
    result = await _checked_gate(_container(request), number, request.state.actor.name)
    return result.as_json()


def _signoff_body(body: dict[str, Any]) -> tuple[str | None, bool]:
    notes, force = body.get("notes"), body.get("force")
    bad = []
    if notes is not None and (not isinstance(notes, str) or len(notes) > MAX_NOTES):
        bad.append("notes")
    if force is not None and not isinstance(force, bool):
        bad.append("force")
    if bad:
        raise ApiError(400, "Validation failed", "validation_error", fields=bad)
    return notes, force is True


@router.post("/gates/signoff/{phase}", openapi_extra=body_docs.gate_signoff(MAX_NOTES),
             responses={400: {"description": "invalid_phase | invalid_json | validation_error | "
                                             "gate_not_passed | notes_required"},
                        409: {"description": "conflict"},
                        500: {"description": "gate_check_failed | signoff_failed"}})
async def sign_off(phase: str, request: Request) -> dict[str, Any]:
    number = parse_phase(phase)
    notes, force = _signoff_body(await json_object(request, empty_is_object=True))
    container, actor = _container(request), request.state.actor.name
    result = await _checked_gate(container, number, actor)
    try:
        outcome = await run_in_threadpool(container.gates.sign_off, result, actor, str(uuid.uuid4()), notes, force)
    except GateNotPassed:
        raise ApiError(400, "Gate verification failed", "gate_not_passed", message=FAILED_GATE,
                       gateResult=result.as_json()) from None
    except NotesRequired as exc:
        raise ApiError(400, "Notes required", "notes_required", message=exc.message) from None
    except WriteConflict as exc:  # another signoff of the phase won every attempt: retry-able (ADR 0512)
        raise ApiError(409, exc.message, exc.code) from None
    except Exception:
        request_id = str(uuid.uuid4())
        log.exception("signoff failed phase=%s request_id=%s", number, request_id)
        raise ApiError(500, "Signoff failed", "signoff_failed", message="The signoff could not be stored",
                       request_id=request_id) from None
    await run_in_threadpool(wait_for_projection, container, "gate_signoffs", outcome.notification_id)
    body: dict[str, Any] = {"success": True, "signoff": outcome.signoff.as_json()}
    if outcome.repeated:  # the phase's latest signoff, by this operator, already said this (ADR 0517)
        body["duplicate"] = True
    if outcome.signoff.forced:
        body["warning"] = FORCED_WARNING
    return body


def _signoffs(container: Container, phase: int | None, limit: int | None) -> list[dict[str, Any]]:
    sql = f"SELECT {SIGNOFF_COLUMNS} FROM views.gate_signoffs WHERE (%(p)s::smallint IS NULL OR phase = %(p)s)" \
          " ORDER BY notification_id DESC" + (" LIMIT %(n)s" if limit is not None else "")
    with container.pool.connection() as conn:
        rows = conn.execute(sql, {"p": phase, "n": limit}).fetchall()
    return [Signoff(*row).as_json() for row in rows]


@router.get("/gates/signoff/{phase}", responses={400: {"description": "invalid_phase"},
                                                 404: {"description": "signoff_not_found"}})
def latest_signoff(phase: str, request: Request) -> dict[str, Any]:
    number = parse_phase(phase)
    found = _signoffs(_container(request), number, 1)
    if not found:
        raise ApiError(404, "Signoff not found", "signoff_not_found", message=f"No signoff found for phase {number}")
    return found[0]


@router.get("/gates/signoffs")
def list_signoffs(request: Request) -> dict[str, Any]:
    signoffs = _signoffs(_container(request), None, None)
    return {"count": len(signoffs), "signoffs": signoffs}
