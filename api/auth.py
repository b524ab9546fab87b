"""Operator authentication (api-and-security §2.1-2.6), run before routing for every protected prefix.

Path A is a bearer token (``ADMIN_TOKEN`` → ``api-token-user``, ``ADMIN_TOKENS`` ``name=token`` →
``token:<name>``) compared as SHA-256 digests in constant time; path B is Cloudflare Access (e-mail
header cross-checked against a verified RS256 JWT). Then the IP allowlist and, for admin and exec
mutations, Turnstile. Every failure is logged as a structured record without any credential.

``/metrics`` is guarded the same way and also takes ``METRICS_TOKEN``, a scrape-only bearer that opens no
other route (ADR 0338).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette._utils import get_route_path  # the function starlette.routing matches routes on
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match

from paulp.adapters.config import Settings
from paulp.api.security import turnstile
from paulp.api.security.cf_access import AccessJwtInvalid, AccessVerifier
from paulp.api.security.client_ip import IpAddress, client_ip, ip_allowed
from paulp.api.security.logsafe import escape
from paulp.api.security.secrets import bearer, match_index

log = logging.getLogger("paulp.auth")

METRICS = "/metrics"
PROTECTED = ("/admin", "/exec", "/dashboard", "/health/debug", METRICS)
NO_CREDENTIALS = {
    "/admin": "Admin routes require Authorization bearer token or Cloudflare Access (email + JWT headers)",
    "/exec": "Authentication required. Provide Authorization: Bearer <token> or Cloudflare Access headers.",
    "/health/debug": "Admin routes require Authorization bearer token or Cloudflare Access (email + JWT headers)",
    METRICS: "Metrics require Authorization: Bearer <METRICS_TOKEN or operator token> or Cloudflare Access headers",
}
EMAIL_NOT_ALLOWED = {
    "/admin": "Authenticated user is not allowed for admin access",
    "/exec": "Authenticated user is not allowed for exec access",
    "/dashboard": "User not in email allowlist",
    "/health/debug": "Authenticated user is not allowed for admin access",
    METRICS: "Authenticated user is not allowed for metrics access",
}
NOT_CONFIGURED = {
    "/health/debug": "ADMIN_TOKEN or CF Access must be configured for debug endpoints",
    METRICS: "METRICS_TOKEN, ADMIN_TOKEN or CF Access must be configured to scrape metrics",
}
METRICS_ACTOR = "metrics-token"
IP_MESSAGES = {
    "ip_unavailable": "Client IP unavailable for allowlist check",
    "ip_not_allowed": "Client IP is not in allowlist",
}
TURNSTILE_PREFIXES = ("/admin", "/exec")
# Guarded only where a route answers (method and path): §1.1 names /admin, /exec and /dashboard as the prefixes
# whose unknown paths are refused before routing; any other request here is the §1.1 404 (ADR 0446).
ROUTE_GUARDED = ("/health/debug",)


@dataclass(frozen=True)
class Actor:
    name: str
    via: str = "bearer"  # "bearer" | "access"


class AuthFailure(Exception):
    """Raised inside the procedure when a request must be refused; carries the exact response."""

    def __init__(self, status: int, error: str, code: str, message: str | None) -> None:
        super().__init__(code)
        self.status, self.error, self.code, self.message = status, error, code, message

    def response(self) -> JSONResponse:
        body: dict[str, str] = {"error": self.error, "code": self.code}
        if self.message is not None:
            body["message"] = self.message
        return JSONResponse(body, status_code=self.status)


def protected_prefix(path: str) -> str | None:
    for prefix in PROTECTED:
        if path == prefix or path.startswith(prefix + "/"):
            return prefix
    return None


def routed(request: Request) -> bool:
    """Some route of the application matches both the method and the path of this request."""
    app = request.scope.get("app")
    routes = getattr(getattr(app, "router", None), "routes", None)
    if routes is None:
        return True  # no router to ask: guard rather than let a request through unchecked
    return any(route.matches(request.scope)[0] is Match.FULL for route in routes)


def _unauthorized(code: str, message: str | None) -> AuthFailure:
    return AuthFailure(401, "Unauthorized", code, message)


class OperatorAuth:
    """The §2.1 procedure for one application's settings (the JWKS cache lives here)."""

    # Failures are counted per client IP (§2.8), but the caller picks the address (any of an IPv6 /64):
    # past this many distinct addresses new ones share one bucket, so the table cannot grow without bound.
    MAX_TRACKED_IPS = 4096
    OTHER_IPS = "other"

    def __init__(self, settings: Settings) -> None:
        settings.validate_startup()
        self.settings = settings
        self.tokens = settings.named_tokens()
        self.metrics_token = settings.metrics_token()
        self.emails = settings.allowed_emails()
        self.allowed = settings.allowed_networks()
        self.trusted = settings.trusted_proxies()
        self.failures_by_ip: Counter[str] = Counter()
        self.failures_total = 0
        domain, audience, url = settings.cf_team_domain(), settings.cf_audience(), settings.cf_certs_url()
        self.verifier = AccessVerifier(domain, audience, url) if domain and audience and url else None

    @property
    def configured(self) -> bool:
        return bool(self.tokens) or self.settings.cf_access_configured

    def configured_for(self, prefix: str) -> bool:
        """Some credential could pass on this prefix (the scrape token counts on /metrics only)."""
        return self.configured or (prefix == METRICS and self.metrics_token is not None)

    def client_ip(self, request: Request) -> IpAddress | None:
        peer = request.client.host if request.client else None
        return client_ip(peer, request.headers, self.trusted)

    async def authenticate(self, request: Request, prefix: str) -> Actor:
        headers = request.headers
        ip = self.client_ip(request)
        token = bearer(headers.get("authorization"))
        accepted = [(t.actor, t.token) for t in self.tokens]
        if prefix == METRICS and self.metrics_token is not None:
            accepted.append((METRICS_ACTOR, self.metrics_token))
        index = match_index(token, [t for _, t in accepted]) if token is not None and accepted else None
        if index is not None:
            self._check_ip(ip, prefix)
            actor = Actor(accepted[index][0], "bearer")
        elif headers.get("cf-access-authenticated-user-email") is not None:
            actor = await self._access(request, prefix)
            self._check_ip(ip, prefix)
        else:
            raise _unauthorized("auth_required", NO_CREDENTIALS.get(prefix))
        await self._turnstile(request, prefix, ip)
        return actor

    async def _access(self, request: Request, prefix: str) -> Actor:
        header_email = request.headers["cf-access-authenticated-user-email"]
        assertion = request.headers.get("cf-access-jwt-assertion")
        if not assertion:
            raise _unauthorized("cf_access_jwt_missing", "Cloudflare Access JWT assertion is required")
        if self.verifier is None:
            raise AuthFailure(500, "Server Configuration Error", "cf_access_not_configured",
                              "CF Access JWT validation not configured. Contact administrator.")
        try:
            claims = await self.verifier.verify(assertion)
        except AccessJwtInvalid as exc:
            raise _unauthorized("cf_access_jwt_invalid", f"JWT validation failed: {exc.reason}") from None
        email = str(claims["email"]).strip().lower()
        if email != header_email.strip().lower():
            raise _unauthorized("cf_access_email_mismatch", "Email header does not match JWT claims")
        if self.emails and email not in self.emails:
            raise AuthFailure(403, "Forbidden", "email_not_allowed", EMAIL_NOT_ALLOWED[prefix])
        return Actor(email, "access")

    def _check_ip(self, ip: IpAddress | None, prefix: str) -> None:
        code = ip_allowed(ip, self.allowed)
        if code is None:
            return
        message = IP_MESSAGES[code]
        if code == "ip_not_allowed" and prefix in ("/admin", "/health/debug"):
            message = "Client IP is not in admin allowlist"
        raise AuthFailure(403, "Forbidden", code, message)

    async def _turnstile(self, request: Request, prefix: str, ip: IpAddress | None) -> None:
        secret = self.settings.turnstile_secret()
        if secret is None or prefix not in TURNSTILE_PREFIXES or request.method not in turnstile.MUTATING:
            return
        try:
            await turnstile.verify(self.settings.ADMIN_TURNSTILE_VERIFY_URL, secret,
                                   turnstile.token_from(dict(request.headers)), str(ip) if ip else None)
        except turnstile.TurnstileFailure as exc:
            raise _unauthorized(exc.code, exc.message) from None

    def log_failure(self, request: Request, failure: AuthFailure) -> None:
        ip = self.client_ip(request)
        ip_text = str(ip) if ip else "-"
        tracked = ip_text in self.failures_by_ip or len(self.failures_by_ip) < self.MAX_TRACKED_IPS
        self.failures_by_ip[ip_text if tracked else self.OTHER_IPS] += 1
        self.failures_total += 1
        hint = request.headers.get("cf-access-authenticated-user-email") or "-"
        record = {
            "route": escape(request.url.path), "method": escape(request.method), "reason_code": failure.code,
            "client_ip": ip_text, "actor_hint": escape(hint),
            "request_id": str(uuid.uuid4()),
        }
        log.warning("auth failure route=%(route)s method=%(method)s reason_code=%(reason_code)s "
                    "client_ip=%(client_ip)s actor_hint=%(actor_hint)s request_id=%(request_id)s", record,
                    extra={"auth_failure": record})


def guard(settings: Settings) -> Callable[[Request], Awaitable[Response | None]]:
    """Authenticate protected prefixes before routing: a response on failure, None to pass through."""
    auth = OperatorAuth(settings)

    async def check(request: Request) -> Response | None:
        request.state.operator_auth = auth  # optional auth elsewhere (e.g. /health/deep error detail)
        # The path the router will match (scope path less any ASGI root_path), not request.url.path: with a
        # root_path the two differ and a protected route was reachable unauthenticated (ADR 0312).
        prefix = protected_prefix(get_route_path(request.scope))
        if prefix is None or (prefix in ROUTE_GUARDED and not routed(request)):
            return None
        try:
            if prefix in NOT_CONFIGURED and not auth.configured_for(prefix):
                raise AuthFailure(503, "Auth not configured", "auth_not_configured", NOT_CONFIGURED[prefix])
            request.state.actor = await auth.authenticate(request, prefix)
        except AuthFailure as failure:
            auth.log_failure(request, failure)
            return failure.response()
        return None

    return check
