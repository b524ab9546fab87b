"""NOAA CDO v2 client (api-and-security §3.3, §4, §7.3): token header, paced, evidenced, retried with care.

Every response body, success or error, is stored in the evidence store and its fetch indexed (with the
status) before it is parsed. Each request ends within ``timeout_s`` in total and brings at most
``max_response_bytes``; an answer cut off at either bound keeps its first bytes as evidence (ADR 0513). The token
travels only in the ``token`` header, so the endpoint and params that reach the index never hold it; an answer that
echoes it is stored, and read, with it replaced by ``***`` (ADR 0514). Synchronous on purpose: the scan job that
calls it is synchronous.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from paulp.adapters.evidence_store import EvidenceFetch, EvidenceStore
from paulp.adapters.http_bounds import DEADLINE, MIB, ResponseBounds, ResponseCutOff, bounded_client
from paulp.adapters.http_policy import (
    RETRY_STATUSES,
    HttpPolicy,
    cut_off_retry,
    full_jitter,
    retry_delay,
    secure_base_url,
)
from paulp.adapters.kalshi.client_errors import json_object, retry_after_seconds
from paulp.adapters.noaa.errors import (
    NoaaError,
    NoaaEvidenceWriteFailed,
    NoaaNotConfigured,
    NoaaResponseInvalid,
    NoaaResponseTooLarge,
    NoaaTimeout,
    error_for_status,
    error_for_transport,
)
from paulp.adapters.redact import scrub_for_evidence

DEFAULT_BASE_URL = "https://www.ncdc.noaa.gov/cdo-web/api/v2"
EVIDENCE_SOURCE = "noaa_cdo"
TOKEN_HEADER = "token"  # noqa: S105 - the header's name, not a secret
DEFAULT_MAX_RESPONSE_BYTES = 4 * MIB  # a full 1000-row /data page is about 150 KB
FetchRecorder = Callable[[EvidenceFetch], None]


def check_base_url(url: str) -> str:
    """https anywhere; plain http only to a loopback host (the test fake), so the token never travels in clear."""
    checked = secure_base_url(url)
    if checked is None:
        raise NoaaNotConfigured(f"NOAA_CDO_BASE_URL must be an https URL (http only for loopback), got {url!r}")
    return checked


@dataclass(frozen=True)
class NoaaClientConfig(HttpPolicy):
    """The §3.3 policy (``timeout_s`` is each request's total deadline), the CDO pace of 5 requests a second and
    the response size cap."""

    base_url: str = DEFAULT_BASE_URL
    requests_per_s: float = 5.0
    contact: str = ""
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    @property
    def user_agent(self) -> str:
        return f"Paul-P/1.0 (NOAA CDO client; contact: {self.contact.strip() or 'unset, see NOAA_CDO_CONTACT'})"


@dataclass(frozen=True)
class NoaaResponse:
    """A parsed 2xx body with the hash of the exact bytes it was parsed from."""

    status: int
    data: dict[str, Any]
    evidence_hash: str
    fetch: EvidenceFetch = field(repr=False)
    attempts: int = 1


class Pacer:
    """At most ``rate`` request starts a second, process-wide for this client (CDO's 5 rps)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._clock, self._sleep, self._next = clock, sleep, 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            delay = self._next - self._clock()
            if delay > 0:
                self._sleep(delay)
            self._next = max(self._clock(), self._next) + self.interval


class NoaaCdoClient:
    """Thin transport to CDO v2; one per scan. A missing token fails every call before anything is sent."""

    def __init__(
        self,
        evidence: EvidenceStore,
        token: str | None,
        *,
        config: NoaaClientConfig | None = None,
        record: FetchRecorder | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config or NoaaClientConfig()
        self._base_url = check_base_url(self.config.base_url)
        self._token = (token or "").strip() or None
        self._evidence, self._record, self._now = evidence, record, now
        self._sleep, self._jitter = sleep, jitter
        self._pacer = Pacer(self.config.requests_per_s)
        self.requests_sent = 0
        self._http = bounded_client(ResponseBounds(self.config.timeout_s, self.config.max_response_bytes),
                                    transport=transport, timeout=httpx.Timeout(self.config.timeout_s),
                                    headers={"Accept": "application/json", "User-Agent": self.config.user_agent},
                                    follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> NoaaCdoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def require_token(self) -> str:
        if self._token is None:
            raise NoaaNotConfigured("NOAA CDO token is not configured: set NOAA_CDO_TOKEN (no request was sent)")
        return self._token

    def get(self, path: str, params: Mapping[str, Any]) -> NoaaResponse:
        """One logical GET, retried per §3.3 on 429/5xx/timeouts; 401 and other 4xx are final."""
        token = self.require_token()
        url, query = self.url_for(path), {k: v for k, v in params.items() if v is not None}
        attempt = 0
        while True:
            attempt += 1
            self._pacer.wait()
            self.requests_sent += 1
            try:
                response = self._http.get(url, params=query, headers={TOKEN_HEADER: token})
            except ResponseCutOff as cut:  # over the deadline or the size cap (ADR 0513)
                error = self._cut_off_error(cut, url, path, query)
                delay = (cut_off_retry(cut, attempt, self._backoff, self._retry_delay)
                         if attempt <= self.config.max_retries else None)
                if delay is None:
                    raise error from None
                self._sleep(delay)
                continue
            except httpx.TransportError as exc:
                if attempt > self.config.max_retries:
                    raise error_for_transport(exc, path) from exc
                self._sleep(self._backoff(attempt))
                continue
            result = self._evidence_and_parse(response, url, path, query, attempt)
            if isinstance(result, NoaaResponse):
                return result
            if response.status_code in RETRY_STATUSES and attempt <= self.config.max_retries:
                delay = self._retry_delay(attempt, response.headers)
                if delay is not None:
                    self._sleep(delay)
                    continue
            raise result

    def url_for(self, path: str) -> str:
        """The endpoint as the evidence index records it: the full URL, never the token (§4.3, §4.6)."""
        return self._base_url + path

    def _store(self, body: bytes, status: int, url: str, path: str,
               params: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        """Store the bytes and index the fetch; the error context naming them, and the bytes stored, which are the
        ones to read: the answer's exact bytes unless it echoed the token, which is replaced (the fetch's params
        then say ``responseRedacted``; ADR 0514)."""
        body, params = scrub_for_evidence(body, (self._token,) if self._token else (), params)
        try:
            blob = self._evidence.put(body)
            fetch = EvidenceFetch(evidence_hash=blob.evidence_hash, source=EVIDENCE_SOURCE, endpoint=url,
                                  fetched_at=self._now().astimezone(UTC).isoformat(timespec="milliseconds"),
                                  size_bytes=len(body), request_method="GET", request_params=params,
                                  response_status=status)
            if self._record is not None:
                self._record(fetch)
        except Exception as exc:
            raise NoaaEvidenceWriteFailed(f"GET {path}: {status} response could not be stored as evidence "
                                          f"({type(exc).__name__})", status=status) from exc
        return {"status": status, "evidence_hash": blob.evidence_hash, "fetch": fetch, "path": path}, body

    def _cut_off_error(self, cut: ResponseCutOff, url: str, path: str, query: dict[str, Any]) -> NoaaError:
        """An answer abandoned at the deadline or the size cap: what of it arrived is evidenced (marked in the
        fetch's params, so a later scan never reuses it as a year's block); a timeout, a too-large answer, or the
        error its status means."""
        what = f"GET {path}: {cut}"
        if cut.status is None:
            return NoaaTimeout(what)
        ctx, _ = self._store(cut.prefix, cut.status, url, path, cut.evidence_params(query))
        if cut.reason == DEADLINE:
            return NoaaTimeout(what, **ctx)
        if 200 <= cut.status < 300:
            return NoaaResponseTooLarge(what, **ctx)
        response = httpx.Response(cut.status, headers=cut.headers)
        return error_for_status(response, ctx, self._retry_after(cut.headers))

    def _evidence_and_parse(self, response: httpx.Response, url: str, path: str, query: dict[str, Any],
                            attempt: int) -> NoaaResponse | NoaaError:
        """Store the bytes and index the fetch first; only then look inside the bytes stored."""
        status = response.status_code
        ctx, body = self._store(response.content, status, url, path, query)
        blob_hash, fetch = ctx["evidence_hash"], ctx["fetch"]
        if 200 <= status < 300:
            data = json_object(body) if body.strip() else {}
            if data is None:
                return NoaaResponseInvalid(f"GET {path}: {status} body is not a JSON object", **ctx)
            return NoaaResponse(status, data, blob_hash, fetch, attempt)
        return error_for_status(response, ctx, self._retry_after(response.headers))

    def _backoff(self, attempt: int) -> float:
        return full_jitter(attempt, self.config, self._jitter)

    def _retry_after(self, headers: httpx.Headers) -> float | None:
        return retry_after_seconds(headers.get("Retry-After"), int(self._now().timestamp() * 1000))

    def _retry_delay(self, attempt: int, headers: httpx.Headers) -> float | None:
        return retry_delay(attempt, self.config, self._retry_after(headers), self._jitter)
