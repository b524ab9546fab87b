"""Every path that opens a NATS client closes it: a connect that fails or is cut off, a relay or projector whose
database connection is refused after NATS connected, a drain while the server is gone (ADR 0504).

A client left open keeps its read loop, pinger and flusher pending. In the workers' background loop nobody then
closed, the garbage collector destroyed them later, in whichever test it ran, as PytestUnraisableExceptionWarning
("Exception ignored in: <coroutine object Client._flusher>: Event loop is closed"), more or fewer from run to run:
two xdist workers each running every projector ask PostgreSQL for more than its 100 connections, and each
projector refused one after connecting to NATS leaked a client at every restart.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import psycopg
import pytest
from psycopg_pool import PoolTimeout

from paulp.adapters.bus import BusNames, connect, release
from paulp.adapters.projector import Projector
from paulp.adapters.projector_connections import ProjectorConnections
from paulp.adapters.relay import Relay
from paulp.projections.registry import all_projections
from tests.integration.helpers import left_running

pytestmark = pytest.mark.integration

INFO = b'INFO {"server_id":"fake","version":"2.10.0","proto":1,"max_payload":1048576,"headers":true}\r\n'


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connect_when_nothing_listens_and_the_caller_gives_up_then_nothing_left_running() -> None:
    async def run() -> list[str]:
        with pytest.raises(TimeoutError):  # bus.connect retries for ever: the caller's timeout ends it
            await asyncio.wait_for(connect(f"nats://127.0.0.1:{_free_port()}", "nobody-there"), 1.0)
        return await left_running()

    assert asyncio.run(run()) == []


def test_connect_when_the_handshake_is_cut_off_then_its_socket_is_closed() -> None:
    """A server that accepts and never sends INFO: nats-py raised with the socket still open."""

    async def run() -> bytes:
        accepted: asyncio.Queue[asyncio.StreamReader] = asyncio.Queue()

        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await accepted.put(reader)

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            with pytest.raises(TimeoutError):
                await connect(f"nats://127.0.0.1:{port}", "cut-off", allow_reconnect=False, connect_timeout=0.5)
            reader = await asyncio.wait_for(accepted.get(), 2.0)
            return await asyncio.wait_for(reader.read(), 2.0)  # b"" once the client closed its side
        finally:
            server.close()

    assert asyncio.run(run()) == b""


def test_release_when_the_server_went_away_then_the_client_is_closed_and_nothing_left_running() -> None:
    """nats-py's drain raises ConnectionReconnectingError while reconnecting, and leaves the reconnect loop
    running for ever: a relay or projector stopped while NATS restarted did that."""

    async def run() -> tuple[bool, bool, list[str]]:
        hang_up = asyncio.Event()

        async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(INFO)
            await writer.drain()
            while b"PING" not in await reader.readline():  # CONNECT, then PING
                pass
            writer.write(b"PONG\r\n")
            await writer.drain()
            await hang_up.wait()
            writer.close()

        server = await asyncio.start_server(once, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        nc = await connect(f"nats://127.0.0.1:{port}", "server-goes")
        server.close()  # nothing to reconnect to
        hang_up.set()
        for _ in range(100):
            if nc.is_reconnecting:
                break
            await asyncio.sleep(0.02)
        reconnecting = nc.is_reconnecting
        await release(nc)
        return reconnecting, nc.is_closed, await left_running()

    reconnecting, closed, left = asyncio.run(run())
    assert reconnecting
    assert closed
    assert left == []


def _refuse_connection_number(monkeypatch: pytest.MonkeyPatch, refused: int) -> None:
    """psycopg's async connect refuses its ``refused``-th call as a full server does."""
    original = psycopg.AsyncConnection.connect.__func__  # type: ignore[attr-defined]
    calls = 0

    async def connect_or_refuse(cls: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == refused:
            raise psycopg.OperationalError("FATAL:  sorry, too many clients already")
        return await original(cls, *args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncConnection, "connect", classmethod(connect_or_refuse))


def test_relay_when_the_database_refuses_after_nats_connected_then_no_client_left(
    fresh_db: str, nats_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _refuse_connection_number(monkeypatch, 2)  # the lock's connection is the first; LISTEN's is refused

    async def run() -> list[str]:
        relay = Relay(fresh_db, nats_url, BusNames(namespace))
        with pytest.raises(psycopg.OperationalError, match="too many clients"):
            await asyncio.wait_for(relay.run(asyncio.Event()), 20)
        return await left_running()

    assert asyncio.run(run()) == []


def test_projector_when_the_database_refuses_after_nats_connected_then_no_client_left(
    fresh_db: str, nats_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise psycopg.OperationalError("FATAL:  sorry, too many clients already")

    # The lock's (async) connection is granted; the pool's (sync) connections, lent after NATS, are refused.
    monkeypatch.setattr(psycopg.Connection, "connect", classmethod(refused))

    async def run() -> list[str]:
        async with ProjectorConnections(fresh_db, size=1, wait_s=1.0) as db:
            projector = Projector(fresh_db, nats_url, BusNames(namespace), all_projections()["breaker_state"],
                                  connections=db)
            with pytest.raises(PoolTimeout):
                await asyncio.wait_for(projector.run(asyncio.Event()), 20)
            assert projector.active.is_set()  # it had its lock and NATS when the database refused
        return await left_running()

    assert asyncio.run(run()) == []
