"""A total deadline and a size cap on every outbound HTTP answer (ADR 0513).

httpx's ``Timeout(10)`` (and an SDK's ``timeout=``) bounds each socket operation, not the request: a server that
sends its headers and then a byte every few seconds holds the call for as long as it likes, and a body of
gigabytes is read whole into memory. Our clients therefore talk through a bounding transport that wraps the real
one (httpx or httpx2, the SDKs' fork):

* the whole exchange (connect, send, headers, body) ends at ``deadline_s``. The async transport runs it under
  ``asyncio.timeout``; the sync one gives every socket operation only the time left before the deadline (a
  network backend installed in the transport's connection pool), so a drip is cut at the deadline, not one read
  timeout later;
* the body is read as a stream and refused as soon as it passes ``max_bytes``: a declared Content-Length over the
  cap before a byte of it is read, a gzip/deflate body once its decoded size passes the cap (decoding bounded, so
  a compression bomb never expands in memory);
* a refusal is `ResponseCutOff`, carrying the status and at most ``max_bytes`` of the body when headers arrived,
  for the client to store as evidence (marked ``responseCutOff`` in the fetch's params) and to map into its own
  error taxonomy.

A body within both bounds reaches the client unchanged, exactly as the inner transport delivered it.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
import zlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import httpcore
import httpcore2
import httpx
import httpx2

DEADLINE = "deadline"
SIZE_CAP = "size_cap"
DECLARED_SIZE = "declared_size"
CUT_OFF_PARAM = "responseCutOff"  # the key marking a cut-off fetch's params in the evidence index
MIB = 1024 * 1024
_EARLY = 0.005  # a socket timeout may fire this much before the deadline it was set from

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("paulp_http_deadline", default=None)


@dataclass(frozen=True)
class ResponseBounds:
    """How long one request may take in total, and how many body bytes it may bring."""

    deadline_s: float
    max_bytes: int

    def __post_init__(self) -> None:
        if not self.deadline_s > 0 or self.max_bytes < 1:
            raise ValueError(f"response bounds need a positive deadline and cap, got {self}")


class ResponseCutOff(Exception):
    """Raised when an answer was abandoned: ``reason`` is `DEADLINE`, `SIZE_CAP` or `DECLARED_SIZE`.

    ``status`` is None when no headers had arrived (nothing to evidence); otherwise ``prefix`` holds the (decoded)
    body bytes kept, at most the cap, ``headers`` the answer's headers and ``request`` the request it answers."""

    def __init__(self, reason: str, bounds: ResponseBounds, *, request: Any, status: int | None = None,
                 headers: Any = None, prefix: bytes = b"", declared: int | None = None) -> None:
        self.reason, self.bounds, self.request = reason, bounds, request
        self.status, self.headers, self.prefix, self.declared = status, headers, prefix, declared
        super().__init__(self.describe())

    @property
    def answered(self) -> bool:
        return self.status is not None

    def describe(self) -> str:
        got = "no answer" if self.status is None else f"HTTP {self.status}, answer"
        if self.reason == DEADLINE:
            return f"{got} not complete within the {self.bounds.deadline_s:g} s deadline"
        if self.reason == DECLARED_SIZE:
            return f"{got} declared {self.declared} bytes, over the {self.bounds.max_bytes}-byte cap; not read"
        return f"{got} over the {self.bounds.max_bytes}-byte cap; cut off"

    def evidence_params(self, params: dict[str, Any] | None) -> dict[str, Any]:
        """The fetch's params with the marker that says its stored body is not the whole answer."""
        return {**(params or {}), CUT_OFF_PARAM: self.reason}


# -- body accounting ------------------------------------------------------------------------------------------------


def cut_off_in(exc: BaseException) -> ResponseCutOff | None:
    """The `ResponseCutOff` behind an exception an SDK wrapped it in (``raise APIConnectionError from err``)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ResponseCutOff):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _declared_length(headers: Any) -> int | None:
    value = headers.get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def decode_bounded(raw: bytes, content_encoding: str, limit: int) -> tuple[bytes, bool]:
    """``raw`` decoded as httpx decodes it (gzip, deflate; others passed through), at most ``limit`` bytes, and
    whether the decoded body is longer than that. Decoding stops at ``limit + 1`` bytes, so it never expands."""
    data = raw
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    for coding in reversed(codings):  # the last coding applied is undone first
        if coding in ("gzip", "x-gzip"):
            data = _inflate(data, zlib.MAX_WBITS | 16, limit)
        elif coding == "deflate":
            try:
                data = _inflate(data, zlib.MAX_WBITS, limit)
            except zlib.error:
                data = _inflate(data, -zlib.MAX_WBITS, limit)  # raw deflate, as httpx falls back to
    return data[:limit], len(data) > limit


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    return zlib.decompressobj(wbits).decompress(data, limit + 1)


class _Body:
    """Collects a body's raw chunks and refuses it as soon as it is known to be over the cap."""

    def __init__(self, bounds: ResponseBounds, request: Any, status: int, headers: Any) -> None:
        self.bounds, self.request, self.status, self.headers = bounds, request, status, headers
        self.encoding = headers.get("content-encoding") or ""
        self._raw = bytearray()
        declared = _declared_length(headers)
        if declared is not None and declared > bounds.max_bytes:
            raise ResponseCutOff(DECLARED_SIZE, bounds, request=request, status=status, headers=headers,
                                 declared=declared)

    def add(self, chunk: bytes) -> None:
        self._raw += chunk
        if len(self._raw) > self.bounds.max_bytes:  # raw bytes past the cap: the decoded body is too
            raise self.cut(SIZE_CAP)

    def finish(self) -> bytes:
        """The raw body, once its decoded size is known to be within the cap. A body that does not decode is passed
        on as it came: the client's own decoding refuses it as before (httpx's DecodingError)."""
        if self.encoding:
            try:
                over = decode_bounded(bytes(self._raw), self.encoding, self.bounds.max_bytes)[1]
            except zlib.error:
                over = False
            if over:
                raise self.cut(SIZE_CAP)
        return bytes(self._raw)

    def cut(self, reason: str) -> ResponseCutOff:
        prefix = self.prefix()
        return ResponseCutOff(reason, self.bounds, request=self.request, status=self.status, headers=self.headers,
                              prefix=prefix)

    def prefix(self) -> bytes:
        """What of the body arrived, decoded as the client would have stored it, at most the cap."""
        try:
            return decode_bounded(bytes(self._raw), self.encoding, self.bounds.max_bytes)[0]
        except zlib.error:
            return bytes(self._raw[: self.bounds.max_bytes])


def _cut_at_deadline(end: float, body: _Body | None, bounds: ResponseBounds, request: Any) -> ResponseCutOff | None:
    """What a timeout means for a request that had to end at ``end``: a cut-off at the deadline (with what of the
    body arrived, once headers had), or None while the deadline is still ahead (an ordinary, shorter timeout)."""
    if time.monotonic() < end - _EARLY:
        return None
    return ResponseCutOff(DEADLINE, bounds, request=request) if body is None else body.cut(DEADLINE)


def _clamp_timeouts(request: Any, seconds: float) -> None:
    """No single connect, write, read or pool wait may be longer than the whole request may take."""
    timeouts = request.extensions.get("timeout")
    if isinstance(timeouts, dict):
        request.extensions["timeout"] = {k: seconds if v is None else min(v, seconds) for k, v in timeouts.items()}


# -- sync: every socket operation gets only the time left (httpcore / httpcore2) ------------------------------------


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    end = _deadline.get()
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise error("request deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream:
    """A connection's socket stream whose reads, writes and TLS handshake end by the current request's deadline."""

    def __init__(self, inner: Any, core: ModuleType) -> None:
        self._inner, self._core = inner, core

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data: bytes = self._inner.read(max_bytes, _left(timeout, self._core.ReadTimeout))
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, self._core.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        stream = self._inner.start_tls(ssl_context, server_hostname, _left(timeout, self._core.ConnectTimeout))
        return _DeadlineStream(stream, self._core)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend:
    def __init__(self, inner: Any, core: ModuleType) -> None:
        self._inner, self._core = inner, core

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> _DeadlineStream:
        stream = self._inner.connect_tcp(host, port, _left(timeout, self._core.ConnectTimeout), local_address,
                                         socket_options)
        return _DeadlineStream(stream, self._core)

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
        stream = self._inner.connect_unix_socket(path, _left(timeout, self._core.ConnectTimeout), socket_options)
        return _DeadlineStream(stream, self._core)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _install_deadline(transport: Any, http_transport: type, core: ModuleType) -> None:
    """Give the pool of a real (not mock) transport the deadline-aware backend; loud if the library changed."""
    if not isinstance(transport, http_transport):
        return
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if backend is None:
        raise RuntimeError(f"{http_transport.__module__}: connection pool without a network backend; "
                           "the request deadline cannot be enforced (ADR 0513)")
    if not isinstance(backend, _DeadlineBackend):
        pool._network_backend = _DeadlineBackend(backend, core)  # type: ignore[union-attr]


class _SyncBounded:
    """The sync transport logic, shared by the httpx and httpx2 flavours below."""

    _lib: ModuleType
    _core: ModuleType

    def __init__(self, inner: Any, bounds: ResponseBounds) -> None:
        self._inner, self.bounds = inner, bounds
        _install_deadline(inner, self._lib.HTTPTransport, self._core)

    def _bounded(self, request: Any) -> Any:
        bounds, lib = self.bounds, self._lib
        _clamp_timeouts(request, bounds.deadline_s)
        end = time.monotonic() + bounds.deadline_s
        token = _deadline.set(end)
        body: _Body | None = None
        try:
            response = self._inner.handle_request(request)
            try:
                body = _Body(bounds, request, response.status_code, response.headers)
                for chunk in response.stream:
                    body.add(chunk)
            finally:
                response.close()
            raw = body.finish()
        except lib.TimeoutException:
            cut = _cut_at_deadline(end, body, bounds, request)
            if cut is None:
                raise  # an ordinary timeout, shorter than the deadline
            raise cut from None
        finally:
            _deadline.reset(token)
        return lib.Response(response.status_code, headers=response.headers, stream=lib.ByteStream(raw),
                            extensions=response.extensions)

    def close(self) -> None:
        self._inner.close()


class BoundedTransport(_SyncBounded, httpx.BaseTransport):
    """For an ``httpx.Client`` (NOAA, Gemini, Cloudflare)."""

    _lib, _core = httpx, httpcore

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = self._bounded(request)
        return response


class BoundedTransport2(_SyncBounded, httpx2.BaseTransport):
    """For the ``httpx2.Client`` handed to the anthropic and openai SDKs."""

    _lib, _core = httpx2, httpcore2

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response: httpx2.Response = self._bounded(request)
        return response


class BoundedAsyncTransport(httpx.AsyncBaseTransport):
    """For an ``httpx.AsyncClient`` (Kalshi, Cloudflare Access keys, Turnstile): the exchange runs under
    ``asyncio.timeout``, which ends it exactly at the deadline."""

    def __init__(self, inner: httpx.AsyncBaseTransport, bounds: ResponseBounds) -> None:
        self._inner, self.bounds = inner, bounds

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        bounds = self.bounds
        end = time.monotonic() + bounds.deadline_s
        body: _Body | None = None
        try:
            async with asyncio.timeout(bounds.deadline_s):
                response = await self._inner.handle_async_request(request)
                try:
                    body = _Body(bounds, request, response.status_code, response.headers)
                    async for chunk in response.stream:  # type: ignore[union-attr]
                        body.add(chunk)
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            cut = _cut_at_deadline(end, body, bounds, request)
            if cut is None:
                raise  # not ours: an ordinary timeout, shorter than the deadline
            raise cut from None
        return httpx.Response(response.status_code, headers=response.headers, stream=httpx.ByteStream(body.finish()),
                              extensions=response.extensions)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _bound_transports(client: Any, wrap: Any) -> Any:
    """Wrap the transports the client built as it always does (default, and one per proxy httpx mounted from
    ``HTTPS_PROXY`` …), so TLS and proxy settings stay the library's own and every route is bounded; loud if the
    library no longer keeps them where we look."""
    mounts = getattr(client, "_mounts", None)
    if not isinstance(mounts, dict) or getattr(client, "_transport", None) is None:
        raise RuntimeError(f"{type(client).__module__}: client transports not found; cannot bound them (ADR 0513)")
    client._transport = wrap(client._transport)
    client._mounts = {pattern: None if t is None else wrap(t) for pattern, t in mounts.items()}
    return client


def bounded_client(bounds: ResponseBounds, **kwargs: Any) -> httpx.Client:
    """An ``httpx.Client`` (as ``httpx.Client(**kwargs)`` builds it) whose every request is bounded."""
    client: httpx.Client = _bound_transports(httpx.Client(**kwargs), lambda t: BoundedTransport(t, bounds))
    return client


def bounded_client2(bounds: ResponseBounds, **kwargs: Any) -> httpx2.Client:
    """The ``httpx2.Client`` handed to an SDK, bounded as `bounded_client`."""
    client: httpx2.Client = _bound_transports(httpx2.Client(**kwargs), lambda t: BoundedTransport2(t, bounds))
    return client


def bounded_async_client(bounds: ResponseBounds, **kwargs: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` whose every request is bounded."""
    client: httpx.AsyncClient = _bound_transports(httpx.AsyncClient(**kwargs),
                                                  lambda t: BoundedAsyncTransport(t, bounds))
    return client
