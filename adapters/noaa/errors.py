"""Typed NOAA CDO client failures with stable machine ``code``s (api-and-security §3.3, §7.3).

An error raised after a response arrived carries the evidence hash of that response's bytes; messages
name the call and the status, never the body or the token.
"""

from __future__ import annotations

from typing import Any

import httpx

from paulp.adapters.evidence_store import EvidenceFetch


class NoaaError(Exception):
    """Base of NOAA CDO failures: status and evidence hash when a response arrived."""

    code = "noaa_error"

    def __init__(self, message: str, *, status: int | None = None, evidence_hash: str | None = None,
                 fetch: EvidenceFetch | None = None, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.evidence_hash, self.fetch = status, evidence_hash, fetch
        if code is not None:
            self.code = code
        for name, value in extra.items():
            setattr(self, name, value)


class NoaaNotConfigured(NoaaError):
    """Raised before any request when NOAA_CDO_TOKEN is unset or blank, or the base URL is unusable."""

    code = "noaa_not_configured"


class NoaaAuthFailed(NoaaError):
    """Raised on 401/403: CDO refused the token; never retried."""

    code = "noaa_auth_failed"


class NoaaRateLimited(NoaaError):
    """Raised on 429 once retries are spent (or Retry-After asks for longer than we may wait)."""

    code = "noaa_rate_limited"
    retry_after_s: float | None = None


class NoaaUnavailable(NoaaError):
    """Raised when reads keep failing with 5xx or transport errors."""

    code = "noaa_unavailable"


class NoaaTimeout(NoaaError):
    """Raised when reads keep timing out after every retry."""

    code = "noaa_timeout"


class NoaaRequestRejected(NoaaError):
    """Raised on any other 4xx: CDO refused the request as asked (bad station, range over a year, ...)."""

    code = "noaa_request_rejected"


class NoaaResponseInvalid(NoaaError):
    """Raised when a 2xx body is not the JSON object ``/data`` promises (it is still evidenced)."""

    code = "noaa_response_invalid"


class NoaaResponseTooLarge(NoaaResponseInvalid):
    """Raised when a 2xx answer passed the size cap (``NOAA_CDO_MAX_RESPONSE_BYTES``, ADR 0513): cut off unread
    beyond it, its first bytes evidenced; not retried (CDO would send it again)."""

    code = "noaa_response_too_large"


class NoaaEvidenceWriteFailed(NoaaError):
    """Raised when a response could not be stored or indexed; evidence-first means its data is not used."""

    code = "noaa_evidence_write_failed"


def error_for_status(response: httpx.Response, ctx: dict[str, Any], retry_after_s: float | None) -> NoaaError:
    status = response.status_code
    message = f"NOAA CDO error: {status} {response.reason_phrase} on GET {ctx['path']}"
    if status in (401, 403):
        return NoaaAuthFailed(message, **ctx)
    if status == 429:
        return NoaaRateLimited(message, retry_after_s=retry_after_s, **ctx)
    if status >= 500:
        return NoaaUnavailable(message, **ctx)
    return NoaaRequestRejected(message, **ctx)


def error_for_transport(exc: httpx.TransportError, path: str) -> NoaaError:
    what = f"GET {path}: {type(exc).__name__}"
    if isinstance(exc, httpx.TimeoutException):
        return NoaaTimeout(what)
    return NoaaUnavailable(what)
