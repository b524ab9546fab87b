"""The request policy of api-and-security §3.3 that our HTTP clients share (Kalshi, NOAA CDO).

One place decides where a client may send its credentials and how long it backs off, so the two venues'
clients cannot drift apart on either.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from paulp.adapters.http_bounds import DEADLINE, ResponseCutOff

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})  # an idempotent read answered so is retried (§3.3)


@dataclass(frozen=True)
class HttpPolicy:
    """The §3.3 defaults, which are the normative values: 10 s per request, 3 retries of an idempotent
    read, back-off from 1 s doubling to at most 8 s with full jitter, and a server's Retry-After honoured
    up to 30 s (a longer one gives up instead of stalling the caller). Each client's config extends it."""

    base_url: str = ""
    timeout_s: float = 10.0
    max_retries: int = 3
    backoff_base_s: float = 1.0
    backoff_factor: float = 2.0
    backoff_cap_s: float = 8.0
    max_retry_after_s: float = 30.0


def secure_base_url(url: str) -> str | None:
    """The URL (no trailing slash) when it is https, or plain http to a loopback host (a test fake); else None,
    so a token or a signature never travels in clear over a real network."""
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if host and (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
        return url.strip().rstrip("/")
    return None


def full_jitter(attempt: int, policy: HttpPolicy, jitter: Callable[[], float]) -> float:
    """Uniform in [0, min(cap, base·factor^(attempt-1))]: retrying callers spread out instead of in step."""
    ceiling = min(policy.backoff_cap_s, policy.backoff_base_s * policy.backoff_factor ** (attempt - 1))
    return jitter() * ceiling


def retry_delay(attempt: int, policy: HttpPolicy, retry_after_s: float | None,
                jitter: Callable[[], float]) -> float | None:
    """At least the server's Retry-After when it gives one; None when that is longer than we may wait."""
    delay = full_jitter(attempt, policy, jitter)
    if retry_after_s is None:
        return delay
    if retry_after_s > policy.max_retry_after_s:
        return None
    return max(delay, retry_after_s)


def cut_off_retry(cut: ResponseCutOff, attempt: int, backoff: Callable[[int], float],
                  delay_for: Callable[[int, Any], float | None]) -> float | None:
    """§3.3 for a read cut off (ADR 0513): past its deadline it is retried after ``backoff``, a 429/5xx status after
    ``delay_for`` (which honours Retry-After); a too-large 2xx or 4xx is not, since the server would send it again."""
    if cut.reason == DEADLINE:
        return backoff(attempt)
    if cut.status in RETRY_STATUSES:
        return delay_for(attempt, cut.headers)
    return None
