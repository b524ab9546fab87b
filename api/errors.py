"""One place mapping failures to HTTP: stable ``code`` in every 4xx/5xx, 500 bodies that leak nothing."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import IntegrityError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from paulp.domain.clock import iso_utc
from paulp.domain.errors import DomainError

log = logging.getLogger("paulp.api")

# Domain codes that are not plain 400s.
STATUS_BY_CODE: dict[str, int] = {
    "not_found": 404,
    "conflict": 409,  # a write lost to another writer's on every attempt (WriteConflict, ADR 0512): retry-able
    "BUDGET_EXCEEDED": 429,
    "POSITION_NOT_OPEN": 404,
    "CLOSE_REFUSED": 409,
    "EVENT_FROM_NEWER_RELEASE": 503,  # a newer release stored what this one would misread: it answers (ADR 0523)
}


CONFLICT_ERROR = "Conflicting write"
CONFLICT_MESSAGE = ("Another writer changed the same record at the same moment; this request's change was not"
                    " recorded. Reload and retry.")


def status_for(code: str, local: dict[str, int] | None = None) -> int:
    """A router's own status for ``code``, else the one every router shares (``conflict`` is 409 everywhere)."""
    if local is not None and code in local:
        return local[code]
    return STATUS_BY_CODE.get(code, 400)


def now_iso() -> str:
    return iso_utc(datetime.now(UTC))


class ApiError(Exception):
    """Raised by handlers for a request-level failure with an exact body."""

    def __init__(self, status: int, error: str, code: str, **extra: Any) -> None:
        super().__init__(error)
        self.status, self.error, self.code, self.extra = status, error, code, extra


def error_response(status: int, error: str, code: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": error, "code": code, **extra}, status_code=status)


async def reject_nul_bytes(request: Request) -> JSONResponse | None:
    """PostgreSQL text cannot hold NUL: refuse it at the edge (400) instead of failing deep inside (500).
    So is a query string that is not UTF-8 (raw bytes an HTTP server passed on): Starlette's ``request.url``
    decodes it strictly and raised, even inside the error handlers (ADR 0490)."""
    query = request.scope.get("query_string", b"")
    raw = query + request.scope.get("raw_path", b"")
    if b"%00" in raw or b"\x00" in raw or not _is_utf8(query):
        return error_response(400, "Invalid request", "invalid_characters")
    return None


def _is_utf8(raw: bytes) -> bool:
    if raw.isascii():
        return True
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.error, exc.code, **exc.extra)

    @app.exception_handler(DomainError)
    async def _domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return error_response(STATUS_BY_CODE.get(exc.code, 400), exc.message, exc.code)

    @app.exception_handler(IntegrityError)
    async def _write_conflict(request: Request, exc: IntegrityError) -> JSONResponse:
        """The safety net of ADR 0512: the store refused a save because another writer saved the same aggregate
        version first, in a command that neither ran again on the fresh state nor refused with a code of its own.
        Nothing of that save was recorded, so the client may retry: 409 ``conflict``, not a 500. Logged with its
        traceback, so a command that always collides (a bug, not a race) is still seen. ``WriteConflict`` never
        reaches here: it is a ``DomainError`` first (its MRO), answered by ``_domain_error`` with its 409."""
        log.warning("write conflict reached the HTTP layer path=%s", request.url.path, exc_info=exc)
        return error_response(409, CONFLICT_ERROR, "conflict", message=CONFLICT_MESSAGE)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "Invalid JSON body", "invalid_json")
        fields = sorted({".".join(str(p) for p in e.get("loc", ())[1:]) or "body" for e in errors})
        return error_response(400, "Validation failed", "validation_error", fields=fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code in (404, 405):
            # A known path asked with a method it does not serve is an unknown route, as the reference's
            # router answers it (api-and-security §1.1; ADR 0258 addendum): the same 404 body.
            return JSONResponse(
                {"error": "Not found", "code": "not_found", "path": request.url.path, "timestamp": now_iso()},
                status_code=404,
            )
        return error_response(exc.status_code, str(exc.detail), "http_error")

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        request_id = str(uuid.uuid4())
        log.exception("unhandled error request_id=%s path=%s", request_id, request.url.path)
        return JSONResponse(
            {"error": "Internal server error", "code": "internal_error", "request_id": request_id,
             "timestamp": now_iso()},
            status_code=500,
        )
