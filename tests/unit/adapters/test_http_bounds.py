"""The bounding transports themselves (ADR 0513): compressed bodies are capped by their decoded size without being
expanded, bodies within bounds pass unchanged, and proxies from the environment are bounded too."""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import httpx
import pytest

from paulp.adapters.http_bounds import (
    SIZE_CAP,
    BoundedAsyncTransport,
    BoundedTransport,
    BoundedTransport2,
    ResponseBounds,
    ResponseCutOff,
    bounded_async_client,
    bounded_client,
    bounded_client2,
    decode_bounded,
)
from tests.fakes.loopback import LoopbackServer

pytestmark = pytest.mark.timeout(10)
CAP = 64 * 1024


def _bomb(decoded_mib: int) -> bytes:
    """``decoded_mib`` MiB of zeros, gzipped a MiB at a time (never held decoded): about 1 KB per MiB."""
    packer, block = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16), bytes(1024 * 1024)
    return b"".join(packer.compress(block) for _ in range(decoded_mib)) + packer.flush()


BOMB = _bomb(64)  # 64 MiB decoded, about 64 KB on the wire
SMALL = b'{"ok": true, "pad": "' + b"y" * 5000 + b'"}'


class Compressed(BaseHTTPRequestHandler):
    """``/bomb``: the gzip bomb; ``/small``: a small gzip body; ``/deflate``: the small body, zlib-deflated;
    ``/corrupt``: a body that says gzip and is not."""

    def do_GET(self) -> None:
        body, coding = {"/bomb": (BOMB, "gzip"), "/small": (gzip.compress(SMALL), "gzip"),
                        "/deflate": (zlib.compress(SMALL), "deflate"), "/corrupt": (b"not gzip", "gzip")}[self.path]
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-encoding", coding)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            return

    def log_message(self, *_: object) -> None:
        return


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    loopback = LoopbackServer(Compressed).start()
    yield loopback.url.rstrip("/")
    loopback.stop()


def test_gzip_bomb_when_fetched_then_cut_at_the_decoded_cap_without_expanding(server: str) -> None:
    # BOMB is ~64 KB on the wire (under the 1 MiB cap) but 64 MiB decoded
    bounds = ResponseBounds(2.0, 1024 * 1024)
    started = time.monotonic()
    with bounded_client(bounds) as client, pytest.raises(ResponseCutOff) as cut:
        client.get(server + "/bomb")
    assert cut.value.reason == SIZE_CAP and cut.value.status == 200
    assert cut.value.prefix == bytes(bounds.max_bytes)  # the decoded start, as the evidence would hold it
    assert time.monotonic() - started < bounds.deadline_s  # cut for its size (SIZE_CAP above), not its time


@pytest.mark.parametrize("path", ["/small", "/deflate"])
def test_compressed_body_within_bounds_when_fetched_then_decoded_unchanged_sync_async_and_sdk(
        server: str, path: str) -> None:
    bounds = ResponseBounds(2.0, CAP)
    with bounded_client(bounds) as client:
        assert client.get(server + path).content == SMALL
    with bounded_client2(bounds) as client2:
        assert client2.get(server + path).content == SMALL

    async def fetch() -> bytes:
        async with bounded_async_client(bounds) as client:
            return (await client.get(server + path)).content

    assert asyncio.run(fetch()) == SMALL


def test_corrupt_gzip_when_fetched_then_the_client_refuses_it_as_before(server: str) -> None:
    with bounded_client(ResponseBounds(2.0, CAP)) as client, pytest.raises(httpx.DecodingError):
        client.get(server + "/corrupt")


def test_decode_bounded_when_plain_or_unknown_coding_then_passed_through_and_measured() -> None:
    assert decode_bounded(b"abcdef", "", 4) == (b"abcd", True)
    assert decode_bounded(b"abc", "br", 4) == (b"abc", False)  # as httpx: a coding it cannot decode passes as is
    assert decode_bounded(gzip.compress(b"z" * 10), "gzip", 4) == (b"zzzz", True)


def test_proxies_from_the_environment_when_set_then_still_used_and_bounded_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    bounds = ResponseBounds(1.0, CAP)
    for client, kind in ((bounded_client(bounds), BoundedTransport), (bounded_client2(bounds), BoundedTransport2),
                         (bounded_async_client(bounds), BoundedAsyncTransport)):
        proxies = [t for t in client._mounts.values() if t is not None]  # type: ignore[union-attr]
        assert proxies and all(isinstance(t, kind) for t in [client._transport, *proxies])  # type: ignore[union-attr]
