"""Answers that misbehave on purpose, for any loopback fake: a body dripped slowly, a flood of bytes, a
Content-Length far beyond what follows (ADR 0513).

Bodies are generated as they are sent, never built in memory, and every one ends by itself (``for_s`` or
``total_bytes``) or as soon as the client has gone, so a client that does not give up still lets the test end.
A completed drip or flood is a valid JSON object (whitespace or one long string inside it), so a client that
reads it all accepts it: what the tests measure is whether it waited, and how much it read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from starlette.responses import StreamingResponse

MB = 1_000_000


@dataclass(frozen=True)
class HostileBody:
    """``drip``: ``chunk`` every ``every_s`` for ``for_s``; ``flood``: ``total_bytes`` as fast as the socket takes
    them; ``declared``: a Content-Length of ``declared_length`` and then a drip."""

    kind: str
    every_s: float = 0.05
    for_s: float = 3.0
    total_bytes: int = 0
    declared_length: int | None = None
    chunk_bytes: int = 64 * 1024

    @property
    def headers(self) -> dict[str, str]:
        return {} if self.declared_length is None else {"content-length": str(self.declared_length)}

    def chunks(self) -> Iterator[tuple[bytes, float]]:
        """(bytes to send, seconds to wait before sending them)."""
        if self.kind == "flood":
            head, tail = b'{"pad":"', b'"}'
            yield head, 0.0
            left = self.total_bytes - len(head) - len(tail)
            block = b"x" * self.chunk_bytes
            while left > 0:
                yield block[:left], 0.0
                left -= len(block)
            yield tail, 0.0
            return
        yield b'{"dripped":', 0.0
        for _ in range(max(1, int(self.for_s / self.every_s))):
            yield b" ", self.every_s
        yield b"true}", 0.0

    async def aiter(self) -> AsyncIterator[bytes]:
        for data, wait in self.chunks():
            if wait:
                await asyncio.sleep(wait)
            yield data

    def response(self, status: int = 200) -> StreamingResponse:
        """For the starlette fakes (Kalshi, LLM providers): chunked, or with the declared length."""
        return StreamingResponse(self.aiter(), status_code=status, headers=self.headers, media_type="application/json")

    def write_to(self, handler: BaseHTTPRequestHandler, status: int = 200) -> None:
        """For the http.server fakes (NOAA, JWKS, Turnstile); HTTP/1.0, so without a length the body ends at close."""
        try:
            handler.send_response(status)
            handler.send_header("content-type", "application/json")
            for name, value in self.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            for data, wait in self.chunks():
                if wait:
                    time.sleep(wait)
                handler.wfile.write(data)
                handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # the client gave up: what the tests want
            return


def drip(every_s: float = 0.05, for_s: float = 3.0) -> HostileBody:
    """Each byte well within any read timeout; the whole far beyond the deadline under test."""
    return HostileBody("drip", every_s=every_s, for_s=for_s)


def flood(total_bytes: int = 100 * MB) -> HostileBody:
    return HostileBody("flood", total_bytes=total_bytes)


def declared(length: int = 50 * 1024 * MB, for_s: float = 3.0) -> HostileBody:
    """Headers that promise ``length`` bytes, then a slow trickle that never gets there."""
    return HostileBody("declared", every_s=0.05, for_s=for_s, declared_length=length)
