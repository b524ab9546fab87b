"""/admin/audit: chain status, on-demand verification and anchor verification (api-and-security §1.3, §5.5)."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from paulp.adapters.anchors import latest_status, verify_stored_anchors
from paulp.adapters.audit_store import verify
from paulp.api import body_docs
from paulp.api.bodies import json_object
from paulp.api.errors import ApiError, now_iso

router = APIRouter(prefix="/admin/audit", tags=["audit"])


def _positive_int(body: dict[str, Any], key: str) -> int | None:
    """An integer >= 1, or None when absent. ``1000000.0`` is the JSON number 1000000 (JSON has one number type and
    the reference reads both the same; ADR 0488); a fraction, a bool or a string is refused."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ApiError(400, f"{key} must be an integer >= 1", "validation_error", fields=[key])
    return int(value)


@router.get("/status", responses={400: {"description": "never"}})
def status(request: Request) -> dict[str, Any]:
    c = request.app.state.container
    return {**latest_status(c.database_url, c.anchor_url, c.settings.PAULP_AUDIT_MIRROR_DIR), "timestamp": now_iso()}


@router.post("/verify", openapi_extra=body_docs.AUDIT_VERIFY,
             responses={400: {"description": "invalid_json | validation_error"}})
async def verify_range(request: Request) -> dict[str, Any]:
    body = await json_object(request, empty_is_object=True)
    start, end = _positive_int(body, "startSeq"), _positive_int(body, "endSeq")
    if start is not None and end is not None and start > end:
        raise ApiError(400, "startSeq must not be greater than endSeq", "validation_error", fields=["startSeq"])
    c = request.app.state.container
    report = await run_in_threadpool(verify, c.database_url, start or 1, end)
    return {**report.to_dict(), "timestamp": now_iso()}


@router.get("/anchors")
def anchors(request: Request) -> dict[str, Any]:
    c = request.app.state.container
    return {**verify_stored_anchors(c.database_url, c.anchor_url).to_dict(), "timestamp": now_iso()}


@router.post("/anchor")
def anchor_now(request: Request) -> dict[str, Any]:
    """On-demand anchor + verification (the hourly job's work: the chain walk is incremental unless a full one
    is due, ADR 0506; every anchor is checked)."""
    from paulp.api.audit_job import anchor_and_verify

    outcome = anchor_and_verify(request.app.state.container)
    return {**outcome.to_dict(), "timestamp": now_iso()}

