"""Operator authentication (api-and-security §2.1), run before routing for every protected prefix.

Bearer tokens are compared as SHA-256 digests with ``hmac.compare_digest``, never short-circuiting on
length. Tokens are never logged. Cloudflare Access, allowlists and Turnstile arrive with the HTTP-surface issue;
until then a request that is not a valid bearer is refused (fail closed).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from paulp.adapters.config import Settings

log = logging.getLogger("paulp.auth")

PROTECTED = ("/admin", "/exec", "/dashboard")
MESSAGES = {
    "/admin": "Admin routes require Authorization bearer token or Cloudflare Access (email + JWT headers)",
    "/exec": "Authentication required. Provide Authorization: Bearer <token> or Cloudflare Access headers.",
}


@dataclass(frozen=True)
class Actor:
    name: str


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def bearer(header: str | None) -> str | None:
    """Exactly ``Bearer `` (capital B, one space); the rest untrimmed."""
    if header is None or not header.startswith("Bearer "):
        return None
    return header[len("Bearer ") :]


def token_matches(provided: str, expected: list[str]) -> bool:
    got = _digest(provided)
    matched = False
    for token in expected:  # every token compared: no early exit leaks which one matched
        matched |= hmac.compare_digest(got, _digest(token))
    return matched


def protected_prefix(path: str) -> str | None:
    for prefix in PROTECTED:
        if path == prefix or path.startswith(prefix + "/"):
            return prefix
    return None


def authenticate(request: Request, settings: Settings) -> Actor | JSONResponse:
    prefix = protected_prefix(request.url.path) or "/admin"
    token = bearer(request.headers.get("authorization"))
    tokens = settings.admin_tokens()
    if token is not None and tokens and token_matches(token, tokens):
        return Actor("api-token-user")
    log.warning("auth failure path=%s ip=%s reason=%s", request.url.path, _client_ip(request),
                "bad_bearer" if token is not None else "no_credentials")
    body: dict[str, str] = {"error": "Unauthorized", "code": "auth_required"}
    if prefix in MESSAGES:
        body["message"] = MESSAGES[prefix]
    return JSONResponse(body, status_code=401)


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "-"


def middleware(settings: Settings) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def check(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if protected_prefix(request.url.path) is None:
            return await call_next(request)
        outcome = authenticate(request, settings)
        if isinstance(outcome, JSONResponse):
            return outcome
        request.state.actor = outcome
        return await call_next(request)

    return check
