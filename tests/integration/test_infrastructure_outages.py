"""A running Paul P through infrastructure outages: NATS restarted (with its store, and without it) under the
relay and the projectors, and every PostgreSQL connection of a running ``paulp up`` terminated. Each role must
recover by itself, in the same process, with every event of the log in the stream once and the views equal to a
replay from the log (ADR 0511).

Bounded: every wait has a deadline and everything runs on loopback. The NATS tests use a nats-server of their own
(the wheel's, on a free port, its JetStream store under ``tmp_path``) so that stopping it touches nobody else; the
recovery times measured are printed (``-s``) and recorded in the ADR.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nats
import psycopg
import pytest

from paulp.adapters.bus import BusNames
from paulp.adapters.services_embedded import EmbeddedNats
from paulp.api.scheduler import LOCK_HELD
from paulp.api.wiring import Container
from paulp.projections.registry import all_projections
from tests.integration.helpers import (
    assert_live_equals_replay,
    log_ids,
    make_container,
    max_notification_id,
    stream_ids,
    wait_tracked,
    workers,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TOKEN = "outage-token-0123456789abcdefghijklmnop"
PROJECTIONS = sorted(all_projections())


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A nats-server of this test's own (JetStream store in ``tmp_path/nats``), stopped afterwards."""
    server = EmbeddedNats(tmp_path, timeout=20)
    server.start()
    yield server
    server.stop()


def _append(container: Container, events: int, tag: str) -> None:
    """``events`` breaker alerts in one save (one transaction of the log)."""
    breaker = container.breaker.get()
    for i in range(events):
        breaker.raise_alert("OUTAGE", "warning", container.clock.now(), f"{tag}/{i}")
    container.breaker.save(breaker)


def _wait_all_tracked(db_url: str, head: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for name in PROJECTIONS:
        wait_tracked(db_url, name, head, timeout=max(0.1, deadline - time.monotonic()))


async def _stream_last_seq(url: str, names: BusNames) -> int:
    nc = await nats.connect(url)
    try:
        return int((await nc.jetstream().stream_info(names.stream)).state.last_seq)
    finally:
        await nc.close()


def _wait_publishing(url: str, names: BusNames, past: int, short_of: int, timeout: float = 20.0) -> int:
    """The stream's last sequence once the relay has published beyond ``past`` (the backlog under way)."""
    deadline = time.monotonic() + timeout
    while True:
        seq = asyncio.run(_stream_last_seq(url, names))
        if seq > past:
            assert seq < short_of, "the relay published the whole backlog before NATS could be killed"
            return seq
        assert time.monotonic() < deadline, f"the relay published nothing past {past} within {timeout} s"
        time.sleep(0.005)


def _assert_stream_is_the_log_and_views_replay(container: Container, nats_url: str) -> None:
    in_log = log_ids(container.database_url)
    in_stream = asyncio.run(stream_ids(nats_url, container.names))
    assert in_stream == in_log, (f"stream differs from the log: {len(in_stream)} messages for {len(in_log)} events,"
                                 f" {len(set(in_stream))} distinct")
    assert_live_equals_replay(container, "breaker_state")  # the view these events build; the others pass them by


def test_nats_restarted_with_its_store_then_the_relay_resumes_and_projectors_catch_up_exactly_once(
        fresh_db, namespace, private_nats):
    # Arrange: relay and every projector, as `paulp up` / `paulp relay` + `paulp project` run them
    container = make_container(fresh_db, private_nats.url, namespace)
    url = private_nats.url
    try:
        with workers(container):
            _append(container, 50, "before")
            _wait_all_tracked(fresh_db, max_notification_id(fresh_db), timeout=30)
            # Act 1: stopped (SIGTERM), events appended meanwhile, started again on its port with its store
            private_nats.stop()
            _append(container, 50, "stopped")
            private_nats.start()
            restarted = time.monotonic()
            _append(container, 50, "restarted")
            _wait_all_tracked(fresh_db, max_notification_id(fresh_db), timeout=30)
            after_stop = time.monotonic() - restarted
            # Act 2: kill -9 while the relay publishes a backlog (the acks in flight die with the connection)
            before = max_notification_id(fresh_db)
            _append(container, 1500, "backlog")
            _wait_publishing(private_nats.url, container.names, before, max_notification_id(fresh_db))
            os.kill(private_nats.pid or 0, signal.SIGKILL)
            private_nats.stop()  # reaps it and keeps its port for the restart
            _append(container, 50, "killed")
            private_nats.start()
            restarted = time.monotonic()
            _append(container, 50, "after")
            head = max_notification_id(fresh_db)
            _wait_all_tracked(fresh_db, head, timeout=40)
            after_kill = time.monotonic() - restarted
        # Assert
        print(f"\nNATS restarted with its store: every projector at the log head {after_stop:.1f} s after a"
              f" SIGTERM restart, {after_kill:.1f} s after a kill -9 mid-publish ({head} events)")
        assert private_nats.url == url
        _assert_stream_is_the_log_and_views_replay(container, private_nats.url)
    finally:
        container.close()


def test_nats_back_with_an_empty_store_then_the_relay_says_so_republishes_the_log_and_projectors_catch_up(
        fresh_db, namespace, private_nats, caplog):
    # Arrange
    caplog.set_level(logging.WARNING, logger="paulp")
    container = make_container(fresh_db, private_nats.url, namespace)
    try:
        with workers(container):
            _append(container, 100, "before")
            before = max_notification_id(fresh_db)
            _wait_all_tracked(fresh_db, before, timeout=30)
            # Act: NATS stops, loses its store (disk replaced, volume not mounted) and comes back empty
            private_nats.stop()
            shutil.rmtree(private_nats.store_dir)
            _append(container, 50, "during")
            private_nats.start()
            restarted = time.monotonic()
            _append(container, 50, "after")
            head = max_notification_id(fresh_db)
            _wait_all_tracked(fresh_db, head, timeout=40)
            caught_up = time.monotonic() - restarted
        # Assert
        print(f"\nNATS back with an empty store: stream rebuilt from the log, every projector at the log head"
              f" {caught_up:.1f} s after the restart ({head} events)")
        _assert_stream_is_the_log_and_views_replay(container, private_nats.url)
        told = [r.getMessage() for r in caplog.records if r.name == "paulp.relay" and r.levelno == logging.ERROR]
        assert any(f"stream {container.names.stream} lost messages" in m and f"published up to notification id"
                   f" {before}" in m and "republishing the log after notification id 0" in m for m in told), told
    finally:
        container.close()


# ------------------------------------------------------------------------------------ PostgreSQL connections killed


def _request(url: str, method: str = "GET", body: dict[str, str] | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body else None, headers=headers,
                                 method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _up(env: dict[str, str], stderr: Path) -> tuple[subprocess.Popen[str], str]:
    """``paulp up`` on a free port, and its URL once it says it answers (at most 90 s)."""
    with stderr.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "paulp.api", "up", "--host", "127.0.0.1", "--port", "0"],
                                env=env, stdout=subprocess.PIPE, stderr=err, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or ()], daemon=True).start()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            assert proc.poll() is None, f"paulp up exited {proc.returncode}: {stderr.read_text()[-3000:]}"
            continue
        if "Paul P up on http://" in line:
            return proc, line.split(" on ", 1)[1].split()[0]
    proc.kill()
    raise AssertionError(f"paulp up did not answer within 90 s: {stderr.read_text()[-3000:]}")


def _held(conn: psycopg.Connection, keys: list[str]) -> set[str]:
    return {key for key in keys if conn.execute(LOCK_HELD, (key,)).fetchone() == (1,)}


def _reads(url: str, pool: ThreadPoolExecutor) -> list[tuple[str, int, bytes]]:
    """Concurrent operator reads, enough to take every connection the API's pools hold."""
    paths = ["/health", "/health/ready", "/admin/trades", "/admin/orchestrator/runs", "/admin/status"] * 4
    return [(p, *f.result()) for p, f in [(p, pool.submit(_request, url + p)) for p in paths]]


def _wrong(answers: list[tuple[str, int, bytes]]) -> list[tuple[str, int, bytes]]:
    """Answers that are not a full, healthy 200 (``/admin/trades`` may say 200 with ``partial: true``)."""
    return [a for a in answers if a[1] != 200 or (a[0] == "/admin/trades" and json.loads(a[2])["partial"])]


def _until(check: Callable[[], bool], timeout: float, what: str) -> float:
    began = time.monotonic()
    while not check():
        assert time.monotonic() - began < timeout, f"{what} not within {timeout} s"
        time.sleep(0.1)
    return time.monotonic() - began


def test_postgres_connections_terminated_under_paulp_up_then_every_role_recovers_in_the_same_process(
        fresh_db, nats_url, namespace, tmp_path):
    # Arrange: `paulp up` (API, relay, projectors, scheduler in one process), every role holding its lock
    names = BusNames(namespace)
    roles = {"relay": names.lock_key("relay"), "scheduler": names.lock_key("scheduler"),
             **{f"projector:{p}": names.lock_key(f"projector/{p}") for p in PROJECTIONS}}
    env = {**os.environ, "ENVIRONMENT": "test", "PAULP_DATABASE_URL": fresh_db, "PAULP_NATS_URL": nats_url,
           "PAULP_NAMESPACE": namespace, "PAULP_STATE_DIR": str(tmp_path), "PAULP_MARKS": "false",
           "PAULP_SCHEDULE_TRADING": "false", "ADMIN_TOKEN": TOKEN,
           "KALSHI_BASE_URL": "http://127.0.0.1:9/trade-api/v2"}  # nothing leaves loopback
    proc, url = _up(env, tmp_path / "stderr")
    reader = ThreadPoolExecutor(max_workers=20)
    try:
        assert _request(f"{url}/admin/circuit-breaker/transition", "POST",
                        {"targetState": "CAUTION", "reason": "before the kill"})[0] == 200
        with psycopg.connect(fresh_db, autocommit=True) as admin:
            _until(lambda: _held(admin, list(roles.values())) == set(roles.values()), 60, "every role's lock")
            wait_tracked(fresh_db, "breaker_state", max_notification_id(fresh_db), timeout=30)
            assert _wrong(_reads(url, reader)) == []  # the pools are warm: connections idle in each
            # Act: terminate every backend of this database but our own, as a failover or an operator would
            killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                                   " WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()
            began = time.monotonic()
            first = _reads(url, reader)
            moved = _request(f"{url}/admin/circuit-breaker/transition", "POST",
                             {"targetState": "NORMAL", "reason": "after the kill"})
            wait_tracked(fresh_db, "breaker_state", max_notification_id(fresh_db), timeout=30)
            projected = time.monotonic() - began
            back: dict[str, float] = {}

            def recovered() -> bool:
                held = _held(admin, [k for r, k in roles.items() if r not in back])
                back.update({r: time.monotonic() - began for r, k in roles.items() if k in held})
                return len(back) == len(roles)

            _until(recovered, 45, "every role taking its lock again")  # the scheduler's next tick: <= 30 s
            later = _reads(url, reader)
            transitions = admin.execute("SELECT from_state, to_state, reason FROM views.breaker_transitions"
                                        " ORDER BY 1 DESC").fetchall()
        alive = proc.poll() is None
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    finally:
        reader.shutdown()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    # Assert
    slowest = max((t, r) for r, t in back.items() if r.startswith("projector:"))
    print(f"\nPostgreSQL backends terminated: {killed[0] if killed else 0}; relay lock back after"
          f" {back['relay']:.1f} s, projectors after {slowest[0]:.1f} s ({slowest[1]}), scheduler after"
          f" {back['scheduler']:.1f} s; an event posted after the kill in breaker_state after {projected:.1f} s;"
          f" reads right after the kill not a healthy 200: {[(p, s) for p, s, _ in _wrong(first)]}")
    assert killed is not None and killed[0] >= len(roles) // 4  # the relay's, the projectors', the API's, ...
    assert alive, f"paulp up died: {(tmp_path / 'stderr').read_text()[-3000:]}"
    assert moved[0] == 200, moved
    assert _wrong(first) == [], "reads answered wrong right after the kill"
    assert _wrong(later) == []
    assert transitions == [("NORMAL", "CAUTION", "before the kill"), ("CAUTION", "NORMAL", "after the kill")]
    assert code == 0, (tmp_path / "stderr").read_text()[-3000:]
    container = make_container(fresh_db, nats_url, namespace)
    try:
        assert asyncio.run(stream_ids(nats_url, names)) == log_ids(fresh_db)
        assert_live_equals_replay(container, "breaker_state")
    finally:
        container.close()
