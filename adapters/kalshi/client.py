"""Async Kalshi REST client (api-and-security §3.2, §3.3, §4): signed, paced, evidenced, retried with care.

Every response body, success or error, is stored in the evidence store before it is parsed and its
hash travels with the parsed data or the error. Reads are retried on 429/5xx/timeouts; writes never
are: a write whose fate is unknown raises `VenueOutcomeUnknown`, resolved by asking the venue
(ADR 0230). Each request ends within its timeout in total and brings at most ``max_response_bytes``; an answer
cut off at either bound keeps its first bytes as evidence and is a timeout, a too-large answer, or (a write) an
unknown outcome (ADR 0513). An answer that echoes our key id is stored, and then read, with it replaced by ``***``
(ADR 0514).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from paulp.adapters.evidence_store import EvidenceFetch, EvidenceStore
from paulp.adapters.http_bounds import DEADLINE, MIB, ResponseBounds, ResponseCutOff, bounded_async_client
from paulp.adapters.http_policy import (
    RETRY_STATUSES,
    HttpPolicy,
    cut_off_retry,
    full_jitter,
    retry_delay,
    secure_base_url,
)
from paulp.adapters.kalshi.client_errors import (
    EvidenceWriteFailed,
    KalshiError,
    VenueOutcomeUnknown,
    VenueResponseInvalid,
    VenueResponseTooLarge,
    VenueTimeout,
    error_for_status,
    error_for_transport,
    json_object,
    retry_after_seconds,
)
from paulp.adapters.kalshi.rate_limit import BASIC, KalshiRateLimiter, RateTier, tier_from_env
from paulp.adapters.kalshi.signing import (
    KEY_ENV,
    PRIVATE_KEY_ENV,
    KalshiAuth,
    KalshiCredentials,
    KalshiCredentialsError,
    KalshiSigner,
    credentials_from_env,
    requires_signature,
    wall_clock_ms,
)
from paulp.adapters.redact import scrub_for_evidence
from paulp.domain.js_text import js_trim

DEFAULT_BASE_URL = "https://api.elections.kalshi.com/trade-api/v2"
BASE_URL_ENV = "KALSHI_BASE_URL"
TIMEOUT_ENV = "KALSHI_TIMEOUT_SECONDS"
MAX_RESPONSE_BYTES_ENV = "KALSHI_MAX_RESPONSE_BYTES"
DEFAULT_MAX_RESPONSE_BYTES = 16 * MIB  # a 100-market page is well under 1 MiB; candle ranges are the largest
EVIDENCE_SOURCE = "kalshi_trade_api"
USER_AGENT = "Paul-P/1.0"
FetchRecorder = Callable[[EvidenceFetch], None]  # indexes a fetch and appends its event; raising fails the fetch


def _check_base_url(url: str) -> str:
    """https anywhere; plain http only to a loopback host (the test fake), so signed bytes never travel in clear."""
    checked = secure_base_url(url)
    if checked is None:
        raise KalshiError(f"{BASE_URL_ENV} must be an https URL (http only for loopback), got {url!r}",
                          code="venue_config_invalid")
    return checked


@dataclass(frozen=True)
class KalshiClientConfig(HttpPolicy):
    """The §3.3 policy (``timeout_s`` is each request's total deadline), the response size cap and the account's
    rate tier."""

    base_url: str = DEFAULT_BASE_URL
    tier: RateTier = BASIC
    burst_seconds: float = 1.0
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: Any) -> KalshiClientConfig:
        raw_timeout = env.get(TIMEOUT_ENV, "").strip()
        try:
            timeout = float(raw_timeout) if raw_timeout else 10.0
        except ValueError:
            raise KalshiError(f"{TIMEOUT_ENV} must be a number of seconds", code="venue_config_invalid") from None
        raw_cap = env.get(MAX_RESPONSE_BYTES_ENV, "").strip()
        try:
            cap = int(raw_cap) if raw_cap else DEFAULT_MAX_RESPONSE_BYTES
        except ValueError:
            cap = 0
        if cap < 1:
            raise KalshiError(f"{MAX_RESPONSE_BYTES_ENV} must be a positive number of bytes",
                              code="venue_config_invalid")
        values: dict[str, Any] = {
            "base_url": env.get(BASE_URL_ENV, "").strip() or DEFAULT_BASE_URL,
            "timeout_s": timeout,
            "tier": tier_from_env(env),
            "max_response_bytes": cap,
        }
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True)
class KalshiResponse:
    """A parsed 2xx body with the hash of the exact bytes it was parsed from."""

    status: int
    data: dict[str, Any]
    evidence_hash: str
    fetch: EvidenceFetch = field(repr=False)
    attempts: int = 1


def _clean(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    return {k: v for k, v in params.items() if v is not None} or None


def _seg(value: str) -> str:
    return quote(value, safe="")


class KalshiClient:
    """Thin, typed transport to the Kalshi trade API; one instance per process and event loop."""

    def __init__(
        self,
        evidence: EvidenceStore,
        *,
        config: KalshiClientConfig | None = None,
        credentials: KalshiCredentials | None = None,
        credentials_error: KalshiCredentialsError | None = None,
        limiter: KalshiRateLimiter | None = None,
        now_ms: Callable[[], int] = wall_clock_ms,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        transport: httpx.AsyncBaseTransport | None = None,
        record: FetchRecorder | None = None,
    ) -> None:
        self.config = config or KalshiClientConfig()
        self._record = record
        base_url = _check_base_url(self.config.base_url)
        self._base_path = urlsplit(base_url).path.rstrip("/")
        self._evidence = evidence
        self._signer = KalshiSigner(credentials, now_ms) if credentials is not None else None
        self._credentials_error = credentials_error
        self._limiter = limiter or KalshiRateLimiter(self.config.tier, burst_seconds=self.config.burst_seconds)
        self._now_ms = now_ms
        self._sleep = sleep
        self._jitter = jitter
        self._http = bounded_async_client(
            ResponseBounds(self.config.timeout_s, self.config.max_response_bytes),
            base_url=base_url,
            timeout=httpx.Timeout(self.config.timeout_s),
            headers={"Accept": "application/json", "Content-Type": "application/json", "User-Agent": USER_AGENT},
            auth=KalshiAuth(self._signer),
            transport=transport,
            follow_redirects=False,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str], evidence: EvidenceStore, **kwargs: Any) -> KalshiClient:
        """Both secrets unset → public-only client; a partial or broken pair fails every signed call unsent."""
        config = kwargs.pop("config", None) or KalshiClientConfig.from_env(env)
        creds: KalshiCredentials | None = None
        problem: KalshiCredentialsError | None = None
        if js_trim(env.get(KEY_ENV) or "") or js_trim(env.get(PRIVATE_KEY_ENV) or ""):
            try:
                creds = credentials_from_env(env)
            except KalshiCredentialsError as exc:
                problem = exc
        return cls(evidence, config=config, credentials=creds, credentials_error=problem, **kwargs)

    @property
    def has_credentials(self) -> bool:
        return self._signer is not None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> KalshiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- transport -------------------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Mapping[str, Any] | None = None,
    ) -> KalshiResponse:
        """One logical call; GETs are retried per §3.3, anything else is sent exactly once."""
        method = method.upper()
        full_path = self._base_path + path
        self._require_credentials(method, full_path)
        write = method != "GET"
        query = _clean(params)
        content = None if json_body is None else json.dumps(json_body, separators=(",", ":")).encode("utf-8")
        attempt = 0
        while True:
            attempt += 1
            await self._limiter.acquire(method, full_path)
            try:
                response = await self._http.request(method, path, params=query, content=content)
            except ResponseCutOff as cut:  # over the deadline or the size cap (ADR 0513)
                error = await self._cut_off_error(cut, method, full_path, query, write)
                delay = (None if write or attempt > self.config.max_retries
                         else cut_off_retry(cut, attempt, self._backoff, self._retry_delay))
                if delay is None:
                    raise error from None
                await self._sleep(delay)
                continue
            except httpx.TransportError as exc:
                error = error_for_transport(exc, method, full_path, write)
                if write or attempt > self.config.max_retries:
                    raise error from exc
                await self._sleep(self._backoff(attempt))
                continue
            result = await self._evidence_and_parse(response, method, full_path, query, write, attempt)
            if isinstance(result, KalshiResponse):
                return result
            if not write and response.status_code in RETRY_STATUSES and attempt <= self.config.max_retries:
                delay = self._retry_delay(attempt, response.headers)
                if delay is not None:
                    await self._sleep(delay)
                    continue
            raise result

    def _require_credentials(self, method: str, full_path: str) -> None:
        if self._signer is None and requires_signature(full_path):
            if self._credentials_error is not None:
                raise KalshiCredentialsError(str(self._credentials_error))
            raise KalshiCredentialsError(
                f"{method} {full_path} needs Kalshi credentials: set {KEY_ENV} and {PRIVATE_KEY_ENV}"
            )

    async def _store(self, body: bytes, status: int, request: httpx.Request, method: str, full_path: str,
                     params: dict[str, Any] | None, write: bool) -> tuple[dict[str, Any], bytes]:
        """Store the bytes and index the fetch; the error context naming them, and the bytes stored, which are the
        ones to read. They are the answer's exact bytes unless it echoed our key id (``KALSHI-ACCESS-KEY``): that is
        replaced, and the fetch's params say ``responseRedacted`` (ADR 0514)."""
        body, params = scrub_for_evidence(body, (self._signer.key_id,) if self._signer is not None else (), params)
        try:
            blob = await asyncio.to_thread(self._evidence.put, body)
            fetch = EvidenceFetch(
                evidence_hash=blob.evidence_hash, source=EVIDENCE_SOURCE,
                endpoint=request.url.raw_path.decode("ascii"), fetched_at=self._iso_now(),
                size_bytes=len(body), request_method=method, request_params=params, response_status=status,
            )
            if self._record is not None:  # index row + chained EvidenceStored event (ADR 0406)
                await asyncio.to_thread(self._record, fetch)
        except Exception as exc:
            if write:  # the venue answered (it may have acted): in doubt, marked as an answer we could not keep
                raise VenueOutcomeUnknown(f"{method} {full_path}: HTTP {status} answer not evidenced "
                                          f"({type(exc).__name__})", status=status, method=method, path=full_path,
                                          reason_code=EvidenceWriteFailed.code) from exc
            raise EvidenceWriteFailed(f"{method} {full_path}: response could not be stored as evidence",
                                      status=status, method=method, path=full_path) from exc
        return {"status": status, "evidence_hash": blob.evidence_hash, "method": method, "path": full_path,
                "fetch": fetch}, body

    async def _cut_off_error(self, cut: ResponseCutOff, method: str, full_path: str,
                             query: dict[str, Any] | None, write: bool) -> KalshiError:
        """An answer abandoned at the deadline or the size cap: what of it arrived is evidenced (marked in the
        fetch's params); a write's outcome is unknown, a read is a timeout, a too-large answer, or its status."""
        ctx: dict[str, Any] = {"method": method, "path": full_path}
        if cut.status is not None:
            ctx, _ = await self._store(cut.prefix, cut.status, cut.request, method, full_path,
                                       cut.evidence_params(query), write)
        what = f"{method} {full_path}: {cut}"
        late = cut.reason == DEADLINE
        if write:
            return VenueOutcomeUnknown(f"{what} (request may have reached the venue)",
                                       reason_code=VenueTimeout.code if late else VenueResponseTooLarge.code, **ctx)
        if late:
            return VenueTimeout(what, **ctx)
        assert cut.status is not None  # a size is only known once headers arrived
        if 200 <= cut.status < 300:
            return VenueResponseTooLarge(what, **ctx)
        return error_for_status(httpx.Response(cut.status, headers=cut.headers), None, write, ctx)

    async def _evidence_and_parse(
        self, response: httpx.Response, method: str, full_path: str, query: dict[str, Any] | None,
        write: bool, attempt: int,
    ) -> KalshiResponse | KalshiError:
        """Store the bytes first; only then look inside the bytes stored."""
        status = response.status_code
        ctx, body = await self._store(response.content, status, response.request, method, full_path, query, write)
        blob_hash, fetch = ctx["evidence_hash"], ctx["fetch"]
        data = json_object(body)
        if 200 <= status < 300:
            if data is None and body.strip():
                if write:
                    return VenueOutcomeUnknown(f"{method} {full_path}: {status} with unreadable body", **ctx)
                return VenueResponseInvalid(f"{method} {full_path}: {status} body is not a JSON object", **ctx)
            return KalshiResponse(status, data or {}, blob_hash, fetch, attempt)
        return error_for_status(response, data, write, ctx)

    def _backoff(self, attempt: int) -> float:
        return full_jitter(attempt, self.config, self._jitter)

    def _retry_delay(self, attempt: int, headers: httpx.Headers) -> float | None:
        retry_after = retry_after_seconds(headers.get("Retry-After"), self._now_ms())
        return retry_delay(attempt, self.config, retry_after, self._jitter)

    def _iso_now(self) -> str:
        moment = datetime.fromtimestamp(self._now_ms() / 1000, tz=UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    # -- endpoints (§3.2, published paths) ---------------------------------------------------------------------

    async def get_markets(self, *, limit: int | None = None, cursor: str | None = None,
                          series_ticker: str | None = None, event_ticker: str | None = None) -> KalshiResponse:
        return await self.request("GET", "/markets", params={
            "limit": limit, "cursor": cursor, "series_ticker": series_ticker, "event_ticker": event_ticker})

    async def get_market(self, ticker: str) -> KalshiResponse:
        return await self.request("GET", f"/markets/{_seg(ticker)}")

    async def get_events(self, *, limit: int | None = None, cursor: str | None = None, status: str | None = None,
                         series_ticker: str | None = None) -> KalshiResponse:
        return await self.request("GET", "/events", params={
            "limit": limit, "cursor": cursor, "status": status, "series_ticker": series_ticker})

    async def get_orderbook(self, ticker: str, *, depth: int | None = None) -> KalshiResponse:
        return await self.request("GET", f"/markets/{_seg(ticker)}/orderbook", params={"depth": depth})

    async def get_trades(self, ticker: str, *, limit: int | None = None, cursor: str | None = None) -> KalshiResponse:
        return await self.request("GET", "/markets/trades", params={"ticker": ticker, "limit": limit, "cursor": cursor})

    async def get_candlesticks(self, series_ticker: str, ticker: str, *, period_interval: int, start_ts: int,
                               end_ts: int) -> KalshiResponse:
        return await self.request(
            "GET", f"/series/{_seg(series_ticker)}/markets/{_seg(ticker)}/candlesticks",
            params={"period_interval": period_interval, "start_ts": start_ts, "end_ts": end_ts})

    async def create_order(self, body: Mapping[str, Any]) -> KalshiResponse:
        """Sent once. Timeout/5xx → `VenueOutcomeUnknown`; resolve by client order id, never by resending blind."""
        return await self.request("POST", "/portfolio/orders", json_body=body)

    async def cancel_order(self, order_id: str) -> KalshiResponse:
        return await self.request("DELETE", f"/portfolio/orders/{_seg(order_id)}")

    async def get_order(self, order_id: str) -> KalshiResponse:
        return await self.request("GET", f"/portfolio/orders/{_seg(order_id)}")

    async def get_orders(self, *, ticker: str | None = None, status: str | None = None, limit: int | None = None,
                         cursor: str | None = None) -> KalshiResponse:
        return await self.request("GET", "/portfolio/orders", params={
            "ticker": ticker, "status": status, "limit": limit, "cursor": cursor})

    async def get_positions(self, *, ticker: str | None = None, event_ticker: str | None = None,
                            limit: int | None = None, cursor: str | None = None) -> KalshiResponse:
        return await self.request("GET", "/portfolio/positions", params={
            "ticker": ticker, "event_ticker": event_ticker, "limit": limit, "cursor": cursor})

    async def get_balance(self) -> KalshiResponse:
        return await self.request("GET", "/portfolio/balance")

    async def get_historical_cutoff(self) -> KalshiResponse:
        return await self.request("GET", "/historical/cutoff")

    async def get_historical_markets(self, *, limit: int | None = None, cursor: str | None = None,
                                     series_ticker: str | None = None) -> KalshiResponse:
        return await self.request("GET", "/historical/markets", params={
            "limit": limit, "cursor": cursor, "series_ticker": series_ticker})

    async def get_historical_candlesticks(self, ticker: str, *, period_interval: int, start_ts: int,
                                          end_ts: int | None = None) -> KalshiResponse:
        return await self.request("GET", f"/historical/markets/{_seg(ticker)}/candlesticks", params={
            "period_interval": period_interval, "start_ts": start_ts, "end_ts": end_ts})
