"""The PostgreSQL connections a process's projectors share (ADR 0507).

Each projector used to open two connections of its own, one holding its advisory lock (which process consumes)
and one applying batches, so 26 projections took 52 of a default server's 100 connections and ``paulp up`` 60:
a second ``paulp up`` for failover, or a CLI command beside it, could be refused. Now one connection holds the
locks of every projector of the process, and a small pool lends a connection to each batch for its one
transaction; between batches a projector holds none.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from paulp.adapters.pools import CheckedPool

log = logging.getLogger("paulp.projector")

T = TypeVar("T")
LOCKS_APP = "paulp-projector-locks"  # application_name, so an operator sees whose connections these are
POOL_APP = "paulp-projectors"
PING_S = 5.0  # how stale the lock connection's last sign of life may be before a holder asks again
PING_TIMEOUT_S = 10.0
POOL_WAIT_S = 30.0  # a batch waits this long for a connection (all lent, or the server refusing) before it fails
STOP_POLL_S = 0.5  # ... but gives up within this once the workers are stopping


class LockLost(RuntimeError):
    """The connection holding a projector's advisory lock broke: another process may have taken the projection
    over, so this one stops consuming and takes its lock again (or waits as standby)."""


class SharedLocks:
    """Session advisory locks of several projectors on one connection.

    A broken connection drops every lock it held. The holders learn it from the generation: each lock is
    granted for the connection's generation, and a new connection starts a new one, so ``alive`` answers
    False to every holder of the old one and they restart to take their locks again."""

    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._generation = 0
        self._mutex = asyncio.Lock()
        self._pinged = 0.0

    async def try_acquire(self, key: str) -> int | None:
        """The generation the lock was granted in, or None while another session holds it."""
        async with self._mutex:
            conn = await self._connection()
            try:
                cur = await conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,))
                row = await cur.fetchone()
            except psycopg.Error:
                await self._drop()
                raise
            self._pinged = time.monotonic()
            return self._generation if row and row[0] else None

    async def release(self, key: str, generation: int) -> None:
        """Give the lock back (a lock of a generation that is gone went with its connection)."""
        async with self._mutex:
            if generation != self._generation or self._conn is None:
                return
            try:
                await self._conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))
            except psycopg.Error:
                await self._drop()

    async def alive(self, generation: int) -> bool:
        """Whether a lock granted in ``generation`` is still held: the connection answered within ``PING_S``
        (one ping serves every holder)."""
        async with self._mutex:
            if generation != self._generation or self._conn is None:
                return False
            if time.monotonic() - self._pinged < PING_S:
                return True
            try:  # bounded: a connection that hangs instead of failing must not hold every projector up
                await asyncio.wait_for(self._conn.execute("SELECT 1"), PING_TIMEOUT_S)
            except (psycopg.Error, TimeoutError) as e:
                log.warning("projector lock connection lost (%s: %s): every projector of this process takes its"
                            " lock again", type(e).__name__, e)
                await self._drop()
                return False
            self._pinged = time.monotonic()
            return True

    async def close(self) -> None:
        async with self._mutex:
            await self._drop()

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(self._url, autocommit=True,
                                                               application_name=LOCKS_APP)
            self._generation += 1
        return self._conn

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._generation += 1  # even if a new connection never comes, the old locks are gone
            await conn.close()


class ProjectorConnections:
    """One lock connection and one pool of at most ``size`` connections for a process's projectors; opened
    and closed around them (``async with``)."""

    def __init__(self, database_url: str, size: int = 4, wait_s: float = POOL_WAIT_S) -> None:
        self.locks = SharedLocks(database_url)
        self.wait_s = wait_s
        self._stopping = threading.Event()
        self.pool: ConnectionPool[psycopg.Connection[Any]] = CheckedPool(  # none a failover closed (ADR 0511)
            database_url, min_size=0, max_size=size, kwargs={"autocommit": True, "application_name": POOL_APP},
            open=False, name=POOL_APP, timeout=wait_s)

    async def __aenter__(self) -> ProjectorConnections:
        await asyncio.to_thread(self.pool.open)
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.locks.close()
        finally:
            await asyncio.to_thread(self.pool.close)

    def stopping(self) -> None:
        """Ends every wait for a connection (``PoolTimeout``) so that a stop is not held up while the server
        refuses connections: a thread blocked in the pool cannot be cancelled."""
        self._stopping.set()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(conn, *args)`` on a thread, with a connection lent for the call."""
        return await asyncio.to_thread(self._lend, fn, *args)

    def _lend(self, fn: Callable[..., T], *args: Any) -> T:
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                conn = self.pool.getconn(timeout=max(0.0, min(STOP_POLL_S, deadline - time.monotonic())))
                break
            except PoolTimeout:
                if self._stopping.is_set() or time.monotonic() >= deadline:
                    raise
        try:
            return fn(conn, *args)
        finally:
            self.pool.putconn(conn)
