"""FastAPI application factory: built per process from a Container, nothing at import."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from paulp.api import auth, errors
from paulp.api.asgi import GuardMiddleware
from paulp.api.read_pool import ReadPool
from paulp.api.routers import admin, audit, dashboard, exec, governance, health, metrics, routing, trades, webhooks
from paulp.api.routers import compliance as compliance_routes
from paulp.api.routers import orchestrator as orchestrator_routes
from paulp.api.routers import risk as risk_routes
from paulp.api.routers import strategies as strategies_router
from paulp.api.routers.gates import router as gates_router
from paulp.api.wiring import Container

log = logging.getLogger("paulp.api")


def create_app(container: Container) -> FastAPI:
    if not container.settings.operator_auth_configured:  # said where it matters: only an HTTP surface has routes
        log.warning("no operator auth configured (ADMIN_TOKEN / CF Access): every operator route answers 401")
    read_pool = ReadPool(container.database_url)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await read_pool.open()  # on the loop that serves requests
        try:
            yield
        finally:
            await read_pool.close()

    # The schema maps every operator route and its bodies; it and its UIs exist only in development and test
    # (ADR 0339). Elsewhere the paths are unrouted (404); app.openapi() still builds the schema in-process.
    docs = container.settings.serves_api_docs
    app = FastAPI(title="Paul P", version="1.0.0", lifespan=lifespan, openapi_url="/openapi.json" if docs else None,
                  docs_url="/docs" if docs else None, redoc_url="/redoc" if docs else None)
    # Paths match exactly, as the reference's router does: ``/health/`` is an unknown path (§1.1: 404), not a 307
    # to ``/health`` (ADR 0347).
    app.router.redirect_slashes = False
    app.state.container = container
    app.state.read_pool = read_pool
    errors.install(app)
    app.add_middleware(GuardMiddleware, guard=auth.guard(container.settings))
    app.add_middleware(GuardMiddleware, guard=errors.reject_nul_bytes)  # outermost: before auth and routing
    # The hottest reads first: the router tries routes in order (no path here overlaps another router's),
    # and each route passed costs a regex match plus FastAPI's scope bookkeeping on every request.
    app.include_router(trades.router)
    # GET /admin/trades is also served by a plain Starlette route placed ahead of everything: the same
    # endpoint, without FastAPI's per-request dependency resolution and response-model plumbing (~0.05-0.1 ms
    # of a 0.3 ms request, bench.trades_query). The FastAPI route behind it is never reached; it stays for
    # the OpenAPI schema. Same methods (GET only), same exception handlers, same guards in front.
    app.router.routes.insert(0, trades.plain_route())
    app.include_router(routing.router)
    app.include_router(health.router)
    app.include_router(admin.router)
    app.include_router(governance.router)
    app.include_router(exec.router)
    app.include_router(dashboard.router)
    app.include_router(webhooks.router)
    app.include_router(metrics.router)
    app.include_router(audit.router)
    app.include_router(orchestrator_routes.router)
    app.include_router(strategies_router.router)
    app.include_router(gates_router)
    app.include_router(risk_routes.router)
    app.include_router(compliance_routes.router)
    return app
