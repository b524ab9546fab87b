"""Liveness, readiness and deep health (api-and-security §1.1-1.2, with the resolutions).

``/health/deep`` probes primary_db (incl. the event store), anchor_db, event_bus (NATS JetStream),
evidence_store and audit_mirror. Anonymous callers see status and latency only; error text is shown only
to a caller who passes operator auth. 503 when the primary database or event store is down.
``POST /health/debug/ingest`` is an operator route in every environment (auth in ``api.auth``).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from paulp.adapters.audit_mirror import mirror_state
from paulp.adapters.files import probe_write
from paulp.adapters.projection_stops import stopped_projections
from paulp.api.errors import now_iso
from paulp.api.wiring import Container

router = APIRouter(tags=["health"])
PROBE_TIMEOUT_S = 2.0
CRITICAL_CHECKS = ("primary_db",)


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


@router.get("/")
def root(request: Request) -> dict[str, str]:
    s = _container(request).settings
    return {"system": s.SYSTEM_NAME, "version": "1.0.0", "environment": s.ENVIRONMENT, "status": "operational",
            "timestamp": now_iso()}


@router.get("/health")
def health(request: Request) -> dict[str, str]:
    s = _container(request).settings
    return {"status": "healthy", "system": s.SYSTEM_NAME, "environment": s.ENVIRONMENT, "timestamp": now_iso()}


@router.get("/health/live")
async def live() -> dict[str, bool]:
    return {"alive": True}


@router.get("/health/ready", responses={503: {"description": "primary database unavailable"}})
def ready(request: Request) -> JSONResponse:
    try:
        with _container(request).pool.connection(timeout=PROBE_TIMEOUT_S) as conn:
            conn.execute("SELECT 1")
    except Exception:
        return JSONResponse({"ready": False}, status_code=503)
    return JSONResponse({"ready": True})


# ----------------------------------------------------------------- probes (each raises on failure)


def probe_primary(container: Container) -> None:
    with container.pool.connection(timeout=PROBE_TIMEOUT_S) as conn:
        conn.execute("SELECT 1 FROM paulp_events LIMIT 1")


def probe_anchor(container: Container) -> None:
    url = container.settings.PAULP_ANCHOR_DATABASE_URL
    if url is None:  # other environments: a schema in the primary database
        with container.pool.connection(timeout=PROBE_TIMEOUT_S) as conn:
            conn.execute("SELECT 1")
        return
    with psycopg.connect(url, connect_timeout=int(PROBE_TIMEOUT_S)) as conn:
        conn.execute("SELECT 1")


async def probe_bus(container: Container) -> None:
    from paulp.adapters.bus import connect  # closes a handshake cut off by the probe's timeout (ADR 0504)

    nc = await connect(container.nats_url, connect_timeout=PROBE_TIMEOUT_S, allow_reconnect=False,
                       max_reconnect_attempts=0)
    try:
        await asyncio.wait_for(nc.jetstream().account_info(), timeout=PROBE_TIMEOUT_S)
    finally:
        await nc.close()


def probe_dir(path: Path | None, variable: str) -> None:
    """The folder is there, permitted, and takes a write (a full disk or a read-only mount passes the first two)."""
    if path is None:
        raise RuntimeError(f"{variable} is not configured")
    if not path.is_dir() or not os.access(path, os.R_OK | os.W_OK | os.X_OK):
        raise RuntimeError(f"{variable} is not a readable and writable directory")
    try:
        probe_write(path)
    except OSError as exc:
        raise RuntimeError(f"{variable} refuses writes ({type(exc).__name__}: {exc.strerror or exc})") from None


def probe_evidence(container: Container) -> None:
    probe_dir(container.settings.evidence_dir(), "PAULP_EVIDENCE_DIR")


def probe_mirror(container: Container) -> None:
    """The folder, and the writer's last pass (any process's): a failed write or a mismatch is unhealthy."""
    root = container.settings.PAULP_AUDIT_MIRROR_DIR
    probe_dir(root, "PAULP_AUDIT_MIRROR_DIR")
    with container.pool.connection(timeout=PROBE_TIMEOUT_S) as conn:
        state = mirror_state(conn, root)
    if state is not None and state.last_error:
        raise RuntimeError(f"audit mirror writer failing: {state.last_error}")


def probe_projections(container: Container) -> None:
    """No projection stands stopped at an event of a newer release (ADR 0523): its view is not current."""
    with container.pool.connection(timeout=PROBE_TIMEOUT_S) as conn:
        stopped = stopped_projections(conn, container.projections)
    if stopped:
        raise RuntimeError("; ".join(f"{name} stopped at event {e.notification_id} ({e.topic})"
                                     for name, e in sorted(stopped.items())))


async def _timed(probe: Callable[[], Awaitable[None]]) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        await asyncio.wait_for(probe(), timeout=PROBE_TIMEOUT_S + 1)
    except Exception as exc:  # every probe failure marks the check unhealthy
        return {"status": "unhealthy", "latencyMs": round((time.perf_counter() - start) * 1000, 1),
                "error": type(exc).__name__ + (f": {exc}" if str(exc) else "")}
    return {"status": "healthy", "latencyMs": round((time.perf_counter() - start) * 1000, 1)}


async def _operator(request: Request) -> bool:
    """True when the caller passes operator auth (only then are error texts shown)."""
    auth = getattr(request.state, "operator_auth", None)
    if auth is None or not (request.headers.get("authorization")
                            or request.headers.get("cf-access-authenticated-user-email")):
        return False
    try:
        await auth.authenticate(request, "/admin")
    except Exception:
        return False
    return True


@router.get("/health/deep", responses={503: {"description": "primary database or event store down"}})
async def deep(request: Request) -> JSONResponse:
    container = _container(request)

    def threaded(fn: Callable[[Container], None]) -> Callable[[], Awaitable[None]]:
        return lambda: run_in_threadpool(fn, container)

    names = ("primary_db", "anchor_db", "event_bus", "evidence_store", "audit_mirror", "projections")
    probes = (threaded(probe_primary), threaded(probe_anchor), lambda: probe_bus(container),
              threaded(probe_evidence), threaded(probe_mirror), threaded(probe_projections))
    results = await asyncio.gather(*(_timed(p) for p in probes))
    checks = dict(zip(names, results, strict=True))
    if not await _operator(request):
        for check in checks.values():
            check.pop("error", None)
    healthy = all(c["status"] == "healthy" for c in checks.values())
    critical_down = any(checks[name]["status"] != "healthy" for name in CRITICAL_CHECKS)
    s = container.settings
    body = {"status": "healthy" if healthy else "degraded", "system": s.SYSTEM_NAME, "environment": s.ENVIRONMENT,
            "checks": checks, "timestamp": now_iso()}
    return JSONResponse(body, status_code=503 if critical_down else 200)


@router.post("/health/debug/ingest", responses={401: {}, 403: {}, 503: {"description": "auth_not_configured"}})
async def debug_ingest(request: Request) -> JSONResponse:
    from paulp.api.routers.webhooks import run_job

    try:
        result = await run_in_threadpool(run_job, _container(request), "ingest")
    except Exception:
        return JSONResponse({"success": False, "error": "Ingestion failed", "code": "job_failed",
                             "timestamp": now_iso()}, status_code=502)
    return JSONResponse({"success": True, "message": "Ingestion triggered", "result": result,
                         "timestamp": now_iso()})
