"""The checked pools lend no connection the server has closed: after every idle connection was terminated (a
failover, a restart, ``pg_terminate_backend``), the next lend is a working connection, at once (ADR 0511)."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest

from paulp.adapters.pools import CheckedAsyncPool, CheckedPool

pytestmark = pytest.mark.integration
IDLE = 4


def _terminate(db_url: str, application: str) -> int:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                           " WHERE application_name = %s", (application,)).fetchone()
    time.sleep(0.05)  # the server's goodbye reaches the sockets
    return int(row[0]) if row else 0


def test_checked_pool_when_every_idle_connection_was_terminated_then_the_next_lends_work_at_once(fresh_db):
    # Arrange: a pool with IDLE connections, all idle
    kwargs = {"autocommit": True, "application_name": "checked-sync"}
    with CheckedPool(fresh_db, min_size=IDLE, max_size=IDLE, kwargs=kwargs, open=True) as pool:
        pool.wait(timeout=10)
        killed = _terminate(fresh_db, "checked-sync")
        # Act: as many lends as there were dead connections
        began = time.monotonic()
        answers = []
        for _ in range(IDLE):
            with pool.connection(timeout=5) as conn:
                answers.append(conn.execute("SELECT 1").fetchone())
        elapsed = time.monotonic() - began
    # Assert: none failed, and none waited for the pool's 1 s, 2 s, ... between dead connections
    assert killed == IDLE
    assert answers == [(1,)] * IDLE
    assert elapsed < 1.0, elapsed


def test_checked_async_pool_when_every_idle_connection_was_terminated_then_the_next_lends_work_at_once(fresh_db):
    async def run() -> tuple[int, list[object], float]:
        kwargs = {"autocommit": True, "application_name": "checked-async"}
        async with CheckedAsyncPool(fresh_db, min_size=IDLE, max_size=IDLE, kwargs=kwargs, open=False) as pool:
            await pool.wait(timeout=10)
            killed = await asyncio.to_thread(_terminate, fresh_db, "checked-async")
            began = time.monotonic()
            answers = []
            for _ in range(IDLE):
                async with pool.connection(timeout=5) as conn:
                    answers.append(await (await conn.execute("SELECT 1")).fetchone())
            return killed, answers, time.monotonic() - began

    killed, answers, elapsed = asyncio.run(run())
    assert killed == IDLE
    assert answers == [(1,)] * IDLE
    assert elapsed < 1.0, elapsed
