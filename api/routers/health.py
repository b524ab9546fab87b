"""Unauthenticated liveness/readiness (api-and-security §1.1-1.2)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from paulp.api.errors import now_iso

router = APIRouter(tags=["health"])


@router.get("/")
def root(request: Request) -> dict[str, str]:
    s = request.app.state.container.settings
    return {"system": s.SYSTEM_NAME, "version": "1.0.0", "environment": s.ENVIRONMENT, "status": "operational",
            "timestamp": now_iso()}


@router.get("/health")
def health(request: Request) -> dict[str, str]:
    s = request.app.state.container.settings
    return {"status": "healthy", "system": s.SYSTEM_NAME, "environment": s.ENVIRONMENT, "timestamp": now_iso()}


@router.get("/health/live")
def live() -> dict[str, bool]:
    return {"alive": True}


@router.get("/health/ready", responses={503: {"description": "primary database unavailable"}})
def ready(request: Request) -> JSONResponse:
    try:
        with request.app.state.container.pool.connection(timeout=2) as conn:
            conn.execute("SELECT 1")
    except Exception:
        return JSONResponse({"ready": False}, status_code=503)
    return JSONResponse({"ready": True})
