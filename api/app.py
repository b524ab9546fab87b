"""FastAPI application factory: built per process from a Container, nothing at import."""

from __future__ import annotations

from fastapi import FastAPI

from paulp.api import auth, errors
from paulp.api.routers import admin, health, trades
from paulp.api.wiring import Container


def create_app(container: Container) -> FastAPI:
    app = FastAPI(title="Paul P", version="1.0.0")
    app.state.container = container
    errors.install(app)
    app.middleware("http")(auth.middleware(container.settings))
    app.include_router(health.router)
    app.include_router(admin.router)
    app.include_router(trades.router)
    return app
