"""Cloudflare Turnstile check on operator mutations (api-and-security §2.6, resolution: 5 s, fail closed)."""

from __future__ import annotations

import logging

import httpx

log = logging.getLogger("paulp.auth.turnstile")

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TIMEOUT_S = 5.0


class TurnstileFailure(Exception):
    """Raised when a mutation lacks a Turnstile token or the token does not verify."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def token_from(headers: dict[str, str]) -> str | None:
    return headers.get("cf-turnstile-response") or headers.get("x-turnstile-token") or None


async def verify(verify_url: str, secret: str, token: str | None, remote_ip: str | None) -> None:
    """Return when the token verifies; raise ``TurnstileFailure`` with the §2.6 message otherwise."""
    if not token:
        raise TurnstileFailure("turnstile_required", "Turnstile token required for mutating admin requests")
    form = {"secret": secret, "response": token}
    if remote_ip:
        form["remoteip"] = remote_ip
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False) as client:
            response = await client.post(verify_url, data=form)
        if not 200 <= response.status_code < 300:
            raise TurnstileFailure("turnstile_unavailable", "Turnstile verification service unavailable")
        outcome = response.json()
    except TurnstileFailure:
        raise
    except (httpx.HTTPError, ValueError):
        log.warning("turnstile verification error (network or parse)")
        raise TurnstileFailure("turnstile_failed", "Turnstile verification failed") from None
    if not isinstance(outcome, dict) or outcome.get("success") is not True:
        codes = outcome.get("error-codes") if isinstance(outcome, dict) else None
        names = [str(c) for c in codes] if isinstance(codes, list) and codes else ["invalid_token"]
        raise TurnstileFailure("turnstile_failed", f"Turnstile verification failed ({', '.join(names)})")
