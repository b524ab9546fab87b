"""The projectors of a process share one lock connection and a small pool (ADR 0507), on real PostgreSQL and
NATS: the connection count no longer grows with the number of projections, and a lost lock connection stops
every projector of the process until it holds its lock again, with no event lost or applied twice."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg
import pytest
from psycopg_pool import PoolTimeout

from paulp.adapters import projector_connections
from paulp.adapters.bus import BusNames
from paulp.adapters.projector import Projector
from paulp.adapters.projector_connections import LOCKS_APP, POOL_APP, ProjectorConnections
from paulp.projections.registry import all_projections
from tests.integration.helpers import (
    assert_live_equals_replay,
    make_container,
    max_notification_id,
    wait_tracked,
    workers,
)

pytestmark = pytest.mark.integration


def _database(url: str) -> str:
    return psycopg.conninfo.conninfo_to_dict(url)["dbname"]  # type: ignore[return-value]


def _sessions(url: str) -> dict[str, list[int]]:
    """Backend pids of this database's projector connections, by application name."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT application_name, pid FROM pg_stat_activity WHERE datname = %s"
                            " AND application_name IN (%s, %s)", (_database(url), LOCKS_APP, POOL_APP)).fetchall()
    out: dict[str, list[int]] = {LOCKS_APP: [], POOL_APP: []}
    for app, pid in rows:
        out[app].append(pid)
    return out


def _advisory_locks(url: str, pid: int) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = %s AND granted",
                           (pid,)).fetchone()
    return int(row[0]) if row else 0


def _projector_locks(url: str, namespace: str) -> int:
    """Granted advisory locks on this namespace's projector keys, whoever holds them."""
    with psycopg.connect(url, autocommit=True) as conn:
        keys = conn.execute("SELECT array_agg(hashtext(%s || '/projector/' || name)) FROM projection_tracking",
                            (namespace,)).fetchone()
        row = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                           " AND objid::int = ANY(%s) AND database = (SELECT oid FROM pg_database"
                           " WHERE datname = current_database())", (keys[0] if keys else [],)).fetchone()
    return int(row[0]) if row else 0


def _all_tracked(container: Any, nid: int) -> None:
    for name in container.projections:
        wait_tracked(container.database_url, name, nid)


def _events(container: Any, n: int) -> int:
    for i in range(n):
        target = "NORMAL" if container.breaker.get().state.value == "CAUTION" else "CAUTION"
        container.breaker.transition(target, f"step {i}", "test")
    return max_notification_id(container.database_url)


def _until(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.05)


def test_workers_when_every_projection_runs_then_one_lock_connection_and_at_most_the_pool(
    fresh_db: str, nats_url: str, namespace: str
) -> None:
    container = make_container(fresh_db, nats_url, namespace, PAULP_PROJECTOR_CONNECTIONS=2)
    try:
        with workers(container):
            _all_tracked(container, _events(container, 6))
            sessions = _sessions(fresh_db)
            assert len(sessions[LOCKS_APP]) == 1
            assert 1 <= len(sessions[POOL_APP]) <= 2
            # every projection's lock is held by the one lock connection
            assert _advisory_locks(fresh_db, sessions[LOCKS_APP][0]) == len(container.projections)
        assert _sessions(fresh_db) == {LOCKS_APP: [], POOL_APP: []}  # all closed once stopped
        assert_live_equals_replay(container, "breaker_state")
    finally:
        container.close()


def test_workers_when_the_lock_connection_is_killed_then_locks_taken_again_and_nothing_lost(
    fresh_db: str, nats_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(projector_connections, "PING_S", 0.1)
    container = make_container(fresh_db, nats_url, namespace)
    try:
        with workers(container):
            _all_tracked(container, _events(container, 4))
            old = _sessions(fresh_db)[LOCKS_APP][0]
            with psycopg.connect(fresh_db, autocommit=True) as conn:
                conn.execute("SELECT pg_terminate_backend(%s)", (old,))
            new = _until(lambda: [p for p in _sessions(fresh_db)[LOCKS_APP] if p != old])
            assert len(new) == 1
            _until(lambda: _advisory_locks(fresh_db, new[0]) == len(container.projections))
            _all_tracked(container, _events(container, 4))
        assert_live_equals_replay(container, "breaker_state")
    finally:
        container.close()


def test_workers_when_the_active_process_loses_its_locks_then_each_projection_has_one_consumer(
    fresh_db: str, nats_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A standby process beside the active one: after the active one's lock connection dies, each lock is
    held once (by either process) and the views still equal a replay of the log."""
    monkeypatch.setattr(projector_connections, "PING_S", 0.1)
    active = make_container(fresh_db, nats_url, namespace)
    standby = make_container(fresh_db, nats_url, namespace)
    try:
        with workers(active):
            _all_tracked(active, _events(active, 3))
            with workers(standby, relay=False):
                holders = _until(lambda: len(_sessions(fresh_db)[LOCKS_APP]) == 2 and _sessions(fresh_db))
                first = next(p for p in holders[LOCKS_APP] if _advisory_locks(fresh_db, p))
                assert _projector_locks(fresh_db, namespace) == len(active.projections)
                with psycopg.connect(fresh_db, autocommit=True) as conn:
                    conn.execute("SELECT pg_terminate_backend(%s)", (first,))
                _until(lambda: _projector_locks(fresh_db, namespace) == len(active.projections))
                _all_tracked(active, _events(active, 5))
                assert _projector_locks(fresh_db, namespace) == len(active.projections)
        assert_live_equals_replay(active, "breaker_state")
    finally:
        standby.close()
        active.close()


def test_workers_when_stopped_while_the_server_refuses_connections_then_they_stop_without_the_full_wait(
    fresh_db: str, nats_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A projector waiting for a pool connection sits in a thread that cannot be cancelled; ``stopping`` ends
    the wait, so a stop during an outage is not held up for ``POOL_WAIT_S`` (30 s) per projector."""

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise psycopg.OperationalError("FATAL:  sorry, too many clients already")

    monkeypatch.setattr(psycopg.Connection, "connect", classmethod(refused))  # the pool's; the lock's is async

    async def run() -> tuple[bool, float]:
        async with ProjectorConnections(fresh_db, size=1) as db:
            projector = Projector(fresh_db, nats_url, BusNames(namespace), all_projections()["breaker_state"],
                                  connections=db)
            stop = asyncio.Event()
            task = asyncio.create_task(projector.run(stop))
            await asyncio.wait_for(projector.active.wait(), 20)  # lock held; now waiting on the refused pool
            await asyncio.sleep(0.5)
            stop.set()
            db.stopping()
            t0 = time.monotonic()
            with pytest.raises(PoolTimeout):
                await asyncio.wait_for(task, db.wait_s)
            return task.done(), time.monotonic() - t0

    done, waited = asyncio.run(run())
    assert done and waited < projector_connections.POOL_WAIT_S / 2  # within a poll or two, not the full wait
