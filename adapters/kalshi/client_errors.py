"""Typed Kalshi client failures with stable machine `code`s, and the mapping from responses to them (§3.3).

Every error raised after a response arrived carries the evidence hash of that response's bytes,
so an operator can open exactly what the venue said.
"""

from __future__ import annotations

import email.utils
import json
from datetime import UTC
from typing import Any

import httpx

from paulp.adapters.evidence_store import EvidenceFetch

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class KalshiError(Exception):
    """Base of venue failures: status, the venue's own error code and the evidence hash when known."""

    code = "venue_error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        evidence_hash: str | None = None,
        method: str = "",
        path: str = "",
        venue_code: str | None = None,
        fetch: EvidenceFetch | None = None,
        code: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.evidence_hash = evidence_hash
        self.method = method
        self.path = path
        self.venue_code = venue_code
        self.fetch = fetch
        if code is not None:
            self.code = code
        for name, value in extra.items():
            setattr(self, name, value)


class VenueAuthFailed(KalshiError):
    """Raised on 401: the venue rejected our signature or key; never retried."""

    code = "venue_auth_failed"


class VenueRateLimited(KalshiError):
    """Raised on 429 once retries are spent (reads) or at once (writes, which the venue did not accept)."""

    code = "venue_rate_limited"
    retry_after_s: float | None = None


class VenueUnavailable(KalshiError):
    """Raised when reads keep failing with 5xx/transport errors, or a request provably never left."""

    code = "venue_unavailable"


class VenueTimeout(KalshiError):
    """Raised when reads keep timing out after every retry."""

    code = "venue_timeout"


class VenueNotFound(KalshiError):
    """Raised on 404."""

    code = "venue_not_found"


class VenueConflict(KalshiError):
    """Raised on 409, e.g. a client order id the venue already holds."""

    code = "venue_conflict"


class VenueRequestRejected(KalshiError):
    """Raised on any other 4xx: the venue definitively refused the request."""

    code = "venue_request_rejected"


class VenueResponseInvalid(KalshiError):
    """Raised when a 2xx read body is not the JSON object the endpoint promises (it is still evidenced)."""

    code = "venue_response_invalid"


class VenueResponseTooLarge(VenueResponseInvalid):
    """Raised when a read's answer passed the response size cap (``KALSHI_MAX_RESPONSE_BYTES``, ADR 0513): cut off
    unread beyond the cap, its first bytes evidenced; not retried (the venue would send it again)."""

    code = "venue_response_too_large"


class EvidenceWriteFailed(KalshiError):
    """Raised when a read's response could not be stored; evidence-first means its data is not used."""

    code = "venue_evidence_write_failed"


class VenueOutcomeUnknown(KalshiError):
    """Raised when a write may or may not have taken effect (timeout, 5xx, unreadable answer).

    Resolution is a query (order by client order id), never a blind resend.
    """

    code = "venue_outcome_unknown"


def json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def venue_code_of(data: dict[str, Any] | None) -> str | None:
    err = (data or {}).get("error")
    if isinstance(err, dict) and isinstance(err.get("code"), str):
        return str(err["code"])
    return None


def error_for_status(response: httpx.Response, data: dict[str, Any] | None, write: bool,
                  ctx: dict[str, Any]) -> KalshiError:
    """Map a non-2xx to a typed error; the message names the call and status, never the body."""
    status = response.status_code
    venue_code = venue_code_of(data)
    message = f"Kalshi API error: {status} {response.reason_phrase} on {ctx['method']} {ctx['path']}"
    if venue_code:
        message += f" ({venue_code})"
    if status == 401:
        return VenueAuthFailed(message, venue_code=venue_code, **ctx)
    if status == 429:
        retry_after = retry_after_seconds(response.headers.get("Retry-After"), None)
        return VenueRateLimited(message, venue_code=venue_code, retry_after_s=retry_after, **ctx)
    if status >= 500:
        if write:
            return VenueOutcomeUnknown(message, venue_code=venue_code, **ctx)
        return VenueUnavailable(message, venue_code=venue_code, **ctx)
    if status == 404:
        return VenueNotFound(message, venue_code=venue_code, **ctx)
    if status == 409:
        return VenueConflict(message, venue_code=venue_code, **ctx)
    return VenueRequestRejected(message, venue_code=venue_code, **ctx)


def error_for_transport(exc: httpx.TransportError, method: str, full_path: str, write: bool) -> KalshiError:
    """A write that may have reached the venue is unknown; one that provably never left is merely unavailable."""
    what = f"{method} {full_path}: {type(exc).__name__}"
    if isinstance(exc, _NOT_SENT):
        return VenueUnavailable(f"{what} (request not sent)", method=method, path=full_path)
    if write:
        return VenueOutcomeUnknown(f"{what} (request may have reached the venue)", method=method, path=full_path)
    if isinstance(exc, httpx.TimeoutException):
        return VenueTimeout(what, method=method, path=full_path)
    return VenueUnavailable(what, method=method, path=full_path)


def retry_after_seconds(value: str | None, now_ms: int | None) -> float | None:
    """Retry-After as delta-seconds or an HTTP date (needs `now_ms`); unusable values are ignored."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        if now_ms is None:
            return None
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now_ms / 1000
    return max(0.0, seconds) if seconds == seconds else None  # NaN is not a delay
