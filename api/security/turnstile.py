"""Cloudflare Turnstile check on operator mutations (api-and-security §2.6, resolution: 5 s, fail closed).

The 5 s bound the whole verification, body included, and a reply is read up to 64 KiB at most (ADR 0513): a reply
cut off at either is a network/parse error, ``turnstile_failed``."""

from __future__ import annotations

import logging

import httpx

from paulp.adapters.http_bounds import ResponseBounds, ResponseCutOff, bounded_async_client

log = logging.getLogger("paulp.auth.turnstile")

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TIMEOUT_S = 5.0
MAX_REPLY_BYTES = 64 * 1024  # siteverify answers a few hundred bytes


class TurnstileFailure(Exception):
    """Raised when a mutation lacks a Turnstile token or the token does not verify."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def token_from(headers: dict[str, str]) -> str | None:
    return headers.get("cf-turnstile-response") or headers.get("x-turnstile-token") or None


async def verify(verify_url: str, secret: str, token: str | None, remote_ip: str | None, *,
                 timeout_s: float = TIMEOUT_S, max_reply_bytes: int = MAX_REPLY_BYTES) -> None:
    """Return when the token verifies; raise ``TurnstileFailure`` with the §2.6 message otherwise."""
    if not token:
        raise TurnstileFailure("turnstile_required", "Turnstile token required for mutating admin requests")
    form = {"secret": secret, "response": token}
    if remote_ip:
        form["remoteip"] = remote_ip
    try:
        async with bounded_async_client(ResponseBounds(timeout_s, max_reply_bytes), timeout=timeout_s,
                                        follow_redirects=False) as client:
            response = await client.post(verify_url, data=form)
        if not 200 <= response.status_code < 300:
            raise TurnstileFailure("turnstile_unavailable", "Turnstile verification service unavailable")
        outcome = response.json()
    except TurnstileFailure:
        raise
    except ResponseCutOff as cut:
        log.warning("turnstile verification error (%s: %s)", cut.reason, cut.describe())
        raise TurnstileFailure("turnstile_failed", "Turnstile verification failed") from None
    except (httpx.HTTPError, ValueError):
        log.warning("turnstile verification error (network or parse)")
        raise TurnstileFailure("turnstile_failed", "Turnstile verification failed") from None
    if not isinstance(outcome, dict) or outcome.get("success") is not True:
        codes = outcome.get("error-codes") if isinstance(outcome, dict) else None
        names = [str(c) for c in codes] if isinstance(codes, list) and codes else ["invalid_token"]
        raise TurnstileFailure("turnstile_failed", f"Turnstile verification failed ({', '.join(names)})")
