"""A rolling deploy's version skew on real PostgreSQL and NATS (ADR 0523): events a newer release stored — a topic
this code does not know, or a ``class_version`` above its class's — read by this (older) code. Projectors stop
at such an event, loudly, and resume once a release that reads it runs them; the relay publishes it untouched;
aggregates, rebuilds, replays and postmortems refuse it with ``EVENT_FROM_NEWER_RELEASE`` instead of a
traceback, a skipped event or a wrong aggregate."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID, uuid4

import nats
import psycopg
import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic, register_topic
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paulp.adapters.bus import HDR_EVENT, BusNames
from paulp.adapters.market_data import StaticMarketData
from paulp.adapters.projector import catch_up_from_log
from paulp.api.app import create_app
from paulp.api.cli import app
from paulp.api.wiring import Container
from paulp.domain.breaker import CircuitBreaker
from paulp.domain.clock import FixedClock
from paulp.domain.errors import EventFromNewerRelease
from paulp.domain.order_record import OrderRecord
from paulp.domain.orders import Order
from tests.integration.helpers import NOW, facts, make_container, signal, wait_tracked, workers

pytestmark = pytest.mark.integration

AUTH = {"Authorization": "Bearer test-admin-token-0123456789abcdef"}
BACKOFF = (0.3, 0.3, 0.3, 0.3)  # retries (and, stopped, re-checks) 0.3 s apart: five deliveries well within 2 s
KINDS = ["unknown_topic", "class_version_ahead"]
TICKER = "KXSKEW-A"


class SkewProbe(Aggregate.Event):
    """The class a newer release stores under the unknown topics below (registered only once it is 'deployed')."""

    note: str


@pytest.fixture
def container(fresh_db: str, nats_url: str, namespace: str) -> Iterator[Container]:
    c = make_container(fresh_db, nats_url, namespace, clock=FixedClock(NOW),
                       PAULP_PROJECTOR_BACKOFF_S=",".join(map(str, BACKOFF)))
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def cli_env(fresh_db: str, nats_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("ENVIRONMENT", "test"), ("PAULP_DATABASE_URL", fresh_db), ("PAULP_NATS_URL", nats_url),
                        ("PAULP_NAMESPACE", namespace), ("COLUMNS", "250")):
        monkeypatch.setenv(name, value)


def _unknown_topic(tag: str) -> str:
    return f"paulp.domain.breaker:CircuitBreaker.SkewProbe{tag}{uuid4().hex[:8]}"


def _state_of(db: str, topic: str) -> dict[str, Any]:
    """The stored state of the last event of ``topic`` (a real body to make a newer version of)."""
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT state FROM paulp_events WHERE topic = %s ORDER BY notification_id DESC LIMIT 1",
                           (topic,)).fetchone()
    assert row is not None, topic
    body: dict[str, Any] = json.loads(bytes(row[0]))
    return body


def _store(c: Container, originator: UUID, version: int, topic: str, body: dict[str, Any]) -> int:
    """Store one event as a newer release would, through the real (chained) recorder; its notification id."""
    c.breaker.recorder.insert_events([StoredEvent(originator, version, topic, json.dumps(body).encode())])
    with psycopg.connect(c.database_url) as conn:
        row = conn.execute("SELECT notification_id FROM paulp_events WHERE originator_id = %s"
                           " AND originator_version = %s", (originator, version)).fetchone()
    assert row is not None
    return int(row[0])


def _newer_alert(c: Container, kind: str, originator: UUID | None = None, version: int = 1) -> tuple[int, str, str]:
    """An alert-like event of a newer release: (notification id, topic, stored body)."""
    if kind == "unknown_topic":
        topic = _unknown_topic("Alert")
        body = {"timestamp": NOW.isoformat(), "note": "newer"}
    else:  # AlertRaised v2: a field this code reads means something else now
        topic = get_topic(CircuitBreaker.AlertRaised)
        body = {**_state_of(c.database_url, topic), "class_version": 2, "code": "RENAMED"}
    nid = _store(c, originator or uuid4(), version, topic, body)
    return nid, topic, json.dumps(body)


def _raise(c: Container, *codes: str) -> None:
    b = c.breaker.get()
    for code in codes:
        b.raise_alert(code, "warning", c.clock.now())
    c.breaker.save(b)


def _alerts(db: str) -> list[str]:
    with psycopg.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT code FROM views.breaker_alerts ORDER BY notification_id")]


def _count(db: str, sql: str) -> int:
    with psycopg.connect(db) as conn:
        return int(conn.execute(sql).fetchone()[0])


def _tracked(db: str, name: str) -> int:
    return _count(db, f"SELECT coalesce(max(last_notification_id), 0) FROM projection_tracking WHERE name = '{name}'")


def _head(db: str) -> int:
    return _count(db, "SELECT coalesce(max(notification_id), 0) FROM paulp_events")


def _until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def _stops(caplog: pytest.LogCaptureFixture, nid: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "paulp.projector" and f"stopped at event {nid}" in r.getMessage()]


# ----------------------------------------------------------------------------------------------- 1. projectors


@pytest.mark.parametrize("kind", KINDS)
def test_projector_when_an_event_from_a_newer_release_arrives_then_stops_there_loudly_and_sets_nothing_aside(
        container: Container, fresh_db: str, namespace: str, caplog: pytest.LogCaptureFixture, cli_env: None,
        kind: str) -> None:
    # Arrange: A, an event of a newer release, then B
    caplog.set_level(logging.DEBUG, logger="paulp.projector")
    _raise(container, "A")
    newer, topic, _ = _newer_alert(container, kind)
    _raise(container, "B")
    key = BusNames(namespace).lock_key("projector/breaker_state")
    taken: list[bool] = []
    # Act
    with workers(container, projections=["breaker_state"]):
        _until(lambda: len(_stops(caplog, newer)) > 5)  # met more often than the five deliveries of a dead letter
        with psycopg.connect(fresh_db, autocommit=True) as conn:  # a newer release's projector could take over
            deadline = time.monotonic() + 20
            while not taken and time.monotonic() < deadline:
                if conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,)).fetchone()[0]:
                    taken.append(True)
                    conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))
                time.sleep(0.02)
    # Assert: stopped at it, not past it, nothing dead-lettered
    assert taken == [True]
    assert _alerts(fresh_db) == ["A"]
    assert _tracked(fresh_db, "breaker_state") == newer - 1
    assert _count(fresh_db, "SELECT count(*) FROM projection_dead_letters") == 0
    assert _count(fresh_db, "SELECT count(*) FROM paulp_events WHERE topic LIKE '%MessageDeadLettered'") == 0
    # one clear line naming the event, its topic and version, no traceback; the re-checks are quiet
    loud = [r for r in _stops(caplog, newer) if r.levelno >= logging.WARNING]
    assert len(loud) == 1 and loud[0].exc_info is None, [r.getMessage() for r in loud]
    line = loud[0].getMessage()
    assert "EVENT_FROM_NEWER_RELEASE" in line and topic in line and "\n" not in line
    if kind == "class_version_ahead":
        assert "class_version 2" in line and "up to 1" in line
    assert not [r for r in caplog.records if r.name == "paulp.projector" and r.exc_info]
    # metrics and doctor show it
    client = TestClient(create_app(container))
    gauge = client.get("/metrics", headers=AUTH).text
    assert f'paulp_projection_stopped_at_event{{projection="breaker_state"}} {newer}' in gauge
    assert 'paulp_projection_stopped_at_event{projection="orders"} 0' in gauge
    deep = client.get("/health/deep", headers=AUTH).json()
    assert deep["status"] == "degraded" and deep["checks"]["projections"]["status"] == "unhealthy"
    assert f"breaker_state stopped at event {newer} ({topic})" in deep["checks"]["projections"]["error"]
    doctor = CliRunner().invoke(app, ["doctor"])
    assert doctor.exit_code == 1, doctor.output
    assert f"projection breaker_state STOPPED at event {newer}" in " ".join(doctor.output.split()), doctor.output


def test_projector_when_a_release_that_reads_the_event_runs_then_resumes_at_it_and_nothing_is_lost(
        container: Container, fresh_db: str, caplog: pytest.LogCaptureFixture) -> None:
    # Arrange
    caplog.set_level(logging.INFO, logger="paulp.projector")
    _raise(container, "A")
    topic = _unknown_topic("Resume")
    newer = _store(container, uuid4(), 1, topic, {"timestamp": NOW.isoformat(), "note": "newer"})
    _raise(container, "B")
    with workers(container, projections=["breaker_state"]):
        _until(lambda: bool(_stops(caplog, newer)))
        assert _alerts(fresh_db) == ["A"]
        # Act: the newer release's code is now what reads the log (in this process: its event class resolves)
        register_topic(topic, SkewProbe)
        wait_tracked(fresh_db, "breaker_state", _head(fresh_db), timeout=30)
    # Assert
    assert _alerts(fresh_db) == ["A", "B"]
    assert _count(fresh_db, "SELECT count(*) FROM projection_dead_letters") == 0


@pytest.mark.parametrize("kind", KINDS)
def test_catch_up_from_log_when_an_event_from_a_newer_release_then_stops_before_it_and_raises(
        container: Container, fresh_db: str, kind: str) -> None:
    _raise(container, "A")
    newer, _, _ = _newer_alert(container, kind)
    _raise(container, "B")
    with psycopg.connect(fresh_db, autocommit=True) as conn, pytest.raises(EventFromNewerRelease) as refused:
        catch_up_from_log(conn, container.projections["breaker_state"])
    assert refused.value.code == "EVENT_FROM_NEWER_RELEASE" and refused.value.notification_id == newer
    assert _alerts(fresh_db) == ["A"] and _tracked(fresh_db, "breaker_state") == newer - 1
    assert _count(fresh_db, "SELECT count(*) FROM projection_dead_letters") == 0


# ----------------------------------------------------------------------------------------------- 2. relay


async def _stream(url: str, names: BusNames, upto: int) -> list[Any]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        return [await js.get_msg(names.stream, seq) for seq in range(1, upto + 1)]
    finally:
        await nc.close()


def test_relay_when_events_from_a_newer_release_then_publishes_their_bytes_unread(
        container: Container, fresh_db: str, nats_url: str, namespace: str) -> None:
    # Arrange
    _raise(container, "A")
    unknown, unknown_topic, unknown_body = _newer_alert(container, "unknown_topic")
    ahead, ahead_topic, ahead_body = _newer_alert(container, "class_version_ahead")
    _raise(container, "B")
    head = _head(fresh_db)
    names = BusNames(namespace)
    # Act
    with workers(container, projections=[]):
        _until(lambda: _published(nats_url, names) == head)
    # Assert: byte for byte, in order, on the subject the topic names
    msgs = {int(m.headers[HDR_EVENT].split(" ")[0]): m for m in asyncio.run(_stream(nats_url, names, head))}
    assert sorted(msgs) == list(range(1, head + 1))
    for nid, topic, body in ((unknown, unknown_topic, unknown_body), (ahead, ahead_topic, ahead_body)):
        assert msgs[nid].data == body.encode()
        assert msgs[nid].subject == names.subject(topic)
        assert msgs[nid].headers[HDR_EVENT].split(" ")[3] == topic


def _published(url: str, names: BusNames) -> int:
    async def last() -> int:
        nc = await nats.connect(url)
        try:
            info = await nc.jetstream().stream_info(names.stream)
            return int(info.state.last_seq)
        except Exception:  # no stream yet
            return 0
        finally:
            await nc.close()
    return asyncio.run(last())


# ----------------------------------------------------------------------------------------------- 3. aggregates


def _filled_order(c: Container) -> tuple[str, UUID, int]:
    outcome = c.pipeline(StaticMarketData({TICKER: facts(TICKER)})).process(signal("skew-1", TICKER))
    assert outcome.state == "FILLED"
    oid = Order.create_id(outcome.order_id)
    return outcome.order_id, oid, len(c.orders.history(outcome.order_id))


def _newer_order_event(c: Container, oid: UUID, version: int, kind: str) -> str:
    if kind == "unknown_topic":
        topic = f"paulp.domain.orders:Order.SkewProbe{uuid4().hex[:8]}"
        _store(c, oid, version, topic, {"timestamp": NOW.isoformat(), "note": "newer"})
        return topic
    topic = get_topic(OrderRecord.FillRecorded)  # v3: the sizes are now in lots of 10 contracts
    _store(c, oid, version, topic, {**_state_of(c.database_url, topic), "class_version": 3, "filled_size": 9})
    return topic


@pytest.mark.parametrize("kind", KINDS)
def test_order_when_a_newer_release_appended_an_event_then_loading_refuses_with_a_code_never_a_wrong_order(
        container: Container, cli_env: None, kind: str) -> None:
    # Arrange: a filled order (cached by this process), then an event a newer release appended to it
    order_id, oid, version = _filled_order(container)
    topic = _newer_order_event(container, oid, version + 1, kind)
    # Act / Assert: cached and fast-forwarded, or loaded afresh, it is refused, with the event named
    for load in (lambda: container.orders.repository.get(oid), lambda: container.orders.find(order_id),
                 lambda: container.orders.history(order_id)):
        with pytest.raises(EventFromNewerRelease) as refused:
            load()
        assert refused.value.code == "EVENT_FROM_NEWER_RELEASE" and refused.value.topic == topic
    # the operator's command: exit 1, one line with the code, no traceback, nothing recorded
    before = _head(container.database_url)
    for args in (["orders", "show", order_id], ["orders", "cancel", order_id, "--reason", "skew"]):
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 1, r.output
        assert "EVENT_FROM_NEWER_RELEASE" in r.output and topic in " ".join(r.output.split()), r.output
        assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert _head(container.database_url) == before


@pytest.mark.parametrize("kind", KINDS)
def test_breaker_transition_when_a_newer_release_appended_an_event_then_503_with_the_code_and_nothing_saved(
        container: Container, kind: str) -> None:
    _raise(container, "A")
    breaker = container.breaker.get()
    _newer_alert(container, kind, breaker.id, breaker.version + 1)
    before = _head(container.database_url)
    client = TestClient(create_app(container), raise_server_exceptions=False)
    r = client.post("/admin/circuit-breaker/transition", headers=AUTH,
                    json={"targetState": "CAUTION", "reason": "drill"})
    assert r.status_code == 503, r.text
    assert r.json()["code"] == "EVENT_FROM_NEWER_RELEASE"
    assert _head(container.database_url) == before


# ------------------------------------------------------------------------------- 4. rebuild, replay, postmortem


@pytest.mark.parametrize("kind", KINDS)
def test_rebuild_when_the_log_holds_an_event_of_a_newer_release_then_refused_and_the_view_untouched(
        container: Container, fresh_db: str, cli_env: None, kind: str) -> None:
    # Arrange: a newer release's projector applied everything (its tracking row past the event)
    _raise(container, "A")
    newer, _, _ = _newer_alert(container, kind)
    _raise(container, "B")
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("INSERT INTO projection_tracking (name) VALUES ('breaker_state') ON CONFLICT DO NOTHING")
        conn.execute("UPDATE projection_tracking SET last_notification_id = %s WHERE name = 'breaker_state'",
                     (_head(fresh_db),))
        view = conn.execute("SELECT * FROM views.breaker_alerts ORDER BY notification_id").fetchall()
    # Act
    r = CliRunner().invoke(app, ["rebuild", "--projection", "breaker_state", "--yes"])
    # Assert
    assert r.exit_code == 1, r.output
    assert "EVENT_FROM_NEWER_RELEASE" in r.output and str(newer) in r.output, r.output
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT * FROM views.breaker_alerts ORDER BY notification_id").fetchall() == view


@pytest.mark.parametrize("kind", KINDS)
def test_replay_when_the_log_holds_an_event_of_a_newer_release_then_named_and_exit_1(
        container: Container, fresh_db: str, cli_env: None, kind: str) -> None:
    _raise(container, "A")
    newer, topic, _ = _newer_alert(container, kind)
    _raise(container, "B")
    r = CliRunner().invoke(app, ["replay", "--projection", "breaker_state"])
    assert r.exit_code == 1, r.output
    flat = " ".join(r.output.split())
    assert f"event {newer}" in flat and "EVENT_FROM_NEWER_RELEASE" in flat and topic in flat, r.output


@pytest.mark.parametrize("kind", KINDS)
def test_postmortem_when_the_window_holds_an_event_of_a_newer_release_then_exit_1_naming_it(
        container: Container, cli_env: None, kind: str) -> None:
    _raise(container, "A")
    newer, _, _ = _newer_alert(container, kind)
    r = CliRunner().invoke(app, ["postmortem", "--from", "2000-01-01T00:00:00Z", "--to", "2100-01-01T00:00:00Z"])
    assert r.exit_code == 1, r.output
    flat = " ".join(r.output.split())
    assert f"event {newer}" in flat and "EVENT_FROM_NEWER_RELEASE" in flat, r.output
