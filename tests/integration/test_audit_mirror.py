"""The audit mirror on real PostgreSQL (api-and-security §5.1, ADR 0385): every chain record copied once in the
spec's layout, resumed without duplicates, a changed file detected (and HALT), a broken folder loud but harmless."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row

from paulp.adapters.audit_mirror import MirrorUnavailable, mirror_pass
from paulp.adapters.audit_mirror_check import verify_mirror
from paulp.adapters.eventstore.chain import record_from_row
from paulp.api.app import create_app
from paulp.api.audit_mirror_job import mirror_loop, mirror_now
from paulp.api.wiring import Container
from paulp.domain.audit import ChainRecord
from paulp.domain.audit_mirror import mirror_body, mirror_key
from paulp.domain.breaker import BreakerState
from tests.integration.helpers import make_container

pytestmark = pytest.mark.integration
TOKEN = "test-admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def chain(db: str) -> list[ChainRecord]:
    with psycopg.connect(db) as conn, conn.cursor(row_factory=dict_row) as cur:
        return [record_from_row(r) for r in cur.execute("SELECT * FROM audit_chain ORDER BY chain_seq")]


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def moves(c: Container, n: int) -> None:
    for i in range(n):
        target = "NORMAL" if c.breaker.get().state is BreakerState.CAUTION else "CAUTION"
        c.breaker.transition(target, f"drill {i}", "tester")


def mirror_container(db: str, nats: str, ns: str, root: Path) -> Container:
    return make_container(db, nats, ns, admin_token=TOKEN, PAULP_AUDIT_MIRROR_DIR=str(root))


def test_mirror_when_events_appended_then_exactly_the_chain_in_spec_layout_and_status_in_sync(
        fresh_db, nats_url, namespace, tmp_path):
    c = mirror_container(fresh_db, nats_url, namespace, tmp_path)
    try:
        moves(c, 5)  # the breaker's creation and five transitions: six chain records
        client = TestClient(create_app(c))
        assert client.get("/admin/audit/status", headers=AUTH).json()["unsyncedEvents"] == 6

        first = mirror_now(c)

        records = chain(fresh_db)
        assert len(records) == 6
        assert (first.created, first.already, first.position, first.mismatch) == (6, 0, 6, None)
        assert files(tmp_path) == {mirror_key(r): mirror_body(r) for r in records}
        sample = json.loads((tmp_path / mirror_key(records[2])).read_bytes())
        assert (sample["eventSequence"], sample["id"], sample["prevHash"], sample["hash"]) == (
            3, records[2].id, records[1].hash, records[2].hash)
        assert sample["payload"] == json.loads(records[2].payload)
        assert {p.parent.name for p in tmp_path.rglob("*.json")} == {r.timestamp[:10] for r in records}
        status = client.get("/admin/audit/status", headers=AUTH).json()
        assert status["unsyncedEvents"] == 0 and status["mirror"]["mirroredThroughSequence"] == 6

        moves(c, 2)
        assert client.get("/admin/audit/status", headers=AUTH).json()["unsyncedEvents"] == 2
        second = mirror_now(c)
        assert (second.created, second.position) == (2, 8)
        assert files(tmp_path) == {mirror_key(r): mirror_body(r) for r in chain(fresh_db)}
        report = verify_mirror(fresh_db, tmp_path)
        assert report.valid and (report.checked, report.pending, report.position) == (8, 0, 8)
        deep = client.get("/health/deep", headers=AUTH).json()
        assert deep["checks"]["audit_mirror"]["status"] == "healthy"
    finally:
        c.close()


def test_mirror_when_stopped_midway_or_position_lost_then_resumes_without_duplicates(
        fresh_db, nats_url, namespace, tmp_path):
    c = mirror_container(fresh_db, nats_url, namespace, tmp_path)
    try:
        moves(c, 7)
        partial = mirror_pass(fresh_db, tmp_path, c.clock.now(), batch=3, max_batches=1)
        assert (partial.created, partial.position, partial.caught_up) == (3, 3, False)
        assert len(files(tmp_path)) == 3
        # a writer that died after its files but before its position: the files are there, the row says 0
        mirror_pass(fresh_db, tmp_path, c.clock.now(), batch=2, max_batches=1)
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            conn.execute("UPDATE audit_mirror_position SET chain_seq = 0")

        resumed = mirror_now(c)

        assert (resumed.created, resumed.already, resumed.position, resumed.mismatch) == (3, 5, 8, None)
        assert files(tmp_path) == {mirror_key(r): mirror_body(r) for r in chain(fresh_db)}
        assert not [p for p in tmp_path.rglob(".*")]  # no temp file left behind
        again = mirror_now(c)
        assert (again.created, again.already, again.position) == (0, 0, 8)

        # the folder wiped (or swapped) under the same path: the walk starts over and recreates it
        for p in sorted(tmp_path.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        rewalked = mirror_now(c)
        assert (rewalked.restarted, rewalked.created, rewalked.position) == (True, 8, 8)
        assert verify_mirror(fresh_db, tmp_path).valid
    finally:
        c.close()


def test_mirror_when_a_file_is_changed_missing_or_added_then_verification_names_each(
        fresh_db, nats_url, namespace, tmp_path):
    c = mirror_container(fresh_db, nats_url, namespace, tmp_path)
    try:
        moves(c, 4)
        mirror_now(c)
        records = chain(fresh_db)
        changed = tmp_path / mirror_key(records[2])
        changed.chmod(0o640)
        changed.write_bytes(changed.read_bytes().replace(b'"drill 1"', b'"drill X"'))
        (tmp_path / mirror_key(records[4])).unlink()
        stray = tmp_path / "audit/events/2001-01-01/000000000002-not-a-record.json"
        stray.parent.mkdir(parents=True)
        stray.write_bytes(b"{}")
        (tmp_path / "audit/events/README").write_text("x")
        moves(c, 1)  # record 6: not yet mirrored, so pending, not missing

        report = verify_mirror(fresh_db, tmp_path)

        assert not report.valid and (report.checked, report.position, report.pending) == (6, 5, 1)
        assert report.different.items == [{"sequence": 3, "key": mirror_key(records[2])}]
        assert report.missing.items == [{"sequence": 5, "key": mirror_key(records[4])}]
        assert sorted(report.extra.items) == ["audit/events/2001-01-01/000000000002-not-a-record.json",
                                              "audit/events/README"]
        assert c.breaker.get().state is BreakerState.CAUTION  # verifying reports; it changes nothing
    finally:
        c.close()


def test_mirror_when_file_ahead_differs_then_writer_stops_there_trips_halt_and_health_degrades(
        fresh_db, nats_url, namespace, tmp_path):
    c = mirror_container(fresh_db, nats_url, namespace, tmp_path)
    try:
        moves(c, 2)
        mirror_now(c)
        moves(c, 2)
        record = chain(fresh_db)[3]
        planted = tmp_path / mirror_key(record)
        planted.write_bytes(mirror_body(record).replace(record.hash.encode(), b"0" * 64))

        result = mirror_now(c)

        assert result.mismatch is not None and (result.mismatch.sequence, result.position) == (4, 3)
        assert planted.read_bytes() != mirror_body(record)  # never overwritten
        assert not (tmp_path / mirror_key(chain(fresh_db)[4])).exists()
        breaker = c.breaker.get()
        assert breaker.state is BreakerState.HALT
        client = TestClient(create_app(c))
        check = client.get("/health/deep", headers=AUTH).json()["checks"]["audit_mirror"]
        assert check["status"] == "unhealthy" and "differs from chain record 4" in check["error"]
        status = client.get("/admin/audit/status", headers=AUTH).json()
        assert (status["unsyncedEvents"], status["mirror"]["mismatchSequence"]) == (3, 4)

        # an operator moved the file aside after looking: the writer goes on and the alarm clears
        planted.rename(tmp_path / "planted.json.evidence")
        resumed = mirror_now(c)
        assert (resumed.mismatch, resumed.position) == (None, 6)  # 6: the HALT transition is on the chain too
        assert client.get("/health/deep", headers=AUTH).json()["checks"]["audit_mirror"]["status"] == "healthy"
    finally:
        c.close()


def test_mirror_when_position_past_the_chain_head_then_refused_and_saved(fresh_db, nats_url, namespace, tmp_path):
    """A database restored behind its mirror (or another database): the writer must not go on as if in step."""
    c = mirror_container(fresh_db, nats_url, namespace, tmp_path)
    try:
        moves(c, 1)
        mirror_now(c)
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            conn.execute("UPDATE audit_mirror_position SET chain_seq = 99")
        with pytest.raises(MirrorUnavailable, match="at sequence 99 but the chain has no such record"):
            mirror_now(c)
        with psycopg.connect(fresh_db) as conn:
            saved = conn.execute("SELECT chain_seq, last_error FROM audit_mirror_position").fetchone()
        assert saved is not None and saved[0] == 99 and "no such record" in saved[1]
    finally:
        c.close()


@pytest.mark.parametrize("breakage", ["audit-is-a-file", "root-missing"])
def test_mirror_when_folder_unwritable_then_fails_loudly_health_degraded_and_trading_goes_on(
        fresh_db, nats_url, namespace, tmp_path, caplog, breakage):
    root = tmp_path / "mirror"
    if breakage == "audit-is-a-file":
        root.mkdir()
        (root / "audit").write_text("in the way")
    c = mirror_container(fresh_db, nats_url, namespace, root)
    try:
        moves(c, 1)
        with pytest.raises(MirrorUnavailable):
            mirror_now(c)
        client = TestClient(create_app(c))
        deep = client.get("/health/deep", headers=AUTH).json()
        assert deep["status"] == "degraded" and deep["checks"]["audit_mirror"]["status"] == "unhealthy"
        assert deep["checks"]["primary_db"]["status"] == "healthy"
        assert client.get("/admin/audit/status", headers=AUTH).json()["unsyncedEvents"] == 2

        with caplog.at_level(logging.ERROR, logger="paulp.audit.mirror"), running_loop(c):
            wait_for(lambda: any("audit mirror write failed" in r.getMessage() for r in caplog.records))

        assert c.breaker.get().state is BreakerState.CAUTION  # nothing tripped
        c.breaker.transition("NORMAL", "trading goes on", "tester")  # the log still takes events
        assert c.breaker.get().state is BreakerState.NORMAL
    finally:
        c.close()


def test_mirror_loop_when_running_then_follows_the_chain_as_it_grows(fresh_db, nats_url, namespace, tmp_path):
    c = mirror_container(fresh_db, nats_url, namespace, tmp_path)
    try:
        moves(c, 3)
        with running_loop(c):
            wait_for(lambda: len(files(tmp_path)) == 4)
            moves(c, 2)  # appended while the loop runs: an append's NOTIFY wakes it
            wait_for(lambda: len(files(tmp_path)) == 6)
        assert files(tmp_path) == {mirror_key(r): mirror_body(r) for r in chain(fresh_db)}
    finally:
        c.close()


def wait_for(done: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll (bounded) until ``done()``; never a bare sleep."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.05)


@contextmanager
def running_loop(c: Container) -> Iterator[None]:
    """The scheduler's mirror loop in its own event loop and thread, stopped (bounded) on exit."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=lambda: loop.run_until_complete(mirror_loop(c, stop)), daemon=True)
    thread.start()
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        assert not thread.is_alive()
        loop.close()
