"""Projector batch semantics on real PostgreSQL: idempotent, poison events dead-lettered, never skipped."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from paulp.adapters.projector import Delivered, apply_batch, catch_up_from_log
from paulp.domain.breaker import CircuitBreaker
from paulp.projections.breaker import BreakerStateProjection
from tests.integration.helpers import make_container

pytestmark = pytest.mark.integration


class ExplodingOnAlert(BreakerStateProjection):
    """The real breaker projection, except one alert code is poison."""

    def apply(self, event: Any, cur: Any, notification_id: int) -> None:  # type: ignore[override]
        if isinstance(event, CircuitBreaker.AlertRaised) and event.code == "POISON":
            raise ValueError("cannot project this alert")
        super().apply(event, cur, notification_id)


def _log(db: str) -> list[Delivered]:
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT notification_id, originator_id, originator_version, topic, state"
                            " FROM paulp_events ORDER BY 1").fetchall()
    return [Delivered(i + 1, n, str(o), v, t, bytes(s)) for i, (n, o, v, t, s) in enumerate(rows)]


def test_batch_when_poison_event_then_dead_lettered_and_rest_applied(fresh_db, nats_url, namespace):
    container = make_container(fresh_db, nats_url, namespace)
    try:
        b = container.breaker.get()
        for code in ("A", "POISON", "B"):
            b.raise_alert(code, "warning", container.clock.now())
        container.breaker.save(b)
        batch = _log(fresh_db)
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            out = apply_batch(conn, ExplodingOnAlert(), batch)
            again = apply_batch(conn, ExplodingOnAlert(), batch)  # redelivery: all skipped
            alerts = [r[0] for r in conn.execute("SELECT code FROM views.breaker_alerts ORDER BY notification_id")]
            dead = conn.execute("SELECT notification_id, error FROM projection_dead_letters").fetchall()
            tracked = conn.execute("SELECT last_notification_id FROM projection_tracking").fetchone()[0]
        assert (out.applied, out.dead_lettered, again.applied, again.skipped) == (3, 1, 0, 4)
        assert alerts == ["A", "B"]
        assert [d[0] for d in dead] == [3] and "cannot project" in dead[0][1]
        assert tracked == batch[-1].notification_id
    finally:
        container.close()


def test_catch_up_when_run_twice_then_identical_rows(fresh_db, nats_url, namespace):
    container = make_container(fresh_db, nats_url, namespace)
    try:
        for target in ("CAUTION", "HALT"):
            container.breaker.transition(target, "x", "t")
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            first = catch_up_from_log(conn, container.projections["breaker_state"])
            second = catch_up_from_log(conn, container.projections["breaker_state"])
            state = conn.execute("SELECT state FROM views.breaker_state").fetchone()[0]
        assert (first, second, state) == (3, 0, "HALT")
    finally:
        container.close()


def test_batch_when_ids_were_applied_from_the_log_since_the_tracked_stream_seq_then_skipped_and_next_applied(
        fresh_db, nats_url, namespace):
    """A bus projector that ran, then ``catch_up_from_log`` (tracked id ahead of the tracked stream seq): the
    redelivered messages are skipped and move the stream position, so the next one is not a stream gap."""
    container = make_container(fresh_db, nats_url, namespace)
    try:
        b = container.breaker.get()
        for code in ("A", "B", "C", "D"):
            b.raise_alert(code, "warning", container.clock.now())
        container.breaker.save(b)
        batch = _log(fresh_db)  # stream seq i + 1 for the i-th event
        proj = BreakerStateProjection()
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            apply_batch(conn, proj, batch[:2])  # from the bus: tracked id 2, stream seq 2
            catch_up_from_log(conn, proj)  # from the log: tracked id 5, stream seq still 2
            out = apply_batch(conn, proj, batch[2:])  # the bus redelivers 3..5
            b.raise_alert("E", "warning", container.clock.now())
            container.breaker.save(b)
            fresh = apply_batch(conn, proj, _log(fresh_db)[5:])
            tracked = conn.execute("SELECT last_notification_id, last_stream_seq FROM projection_tracking").fetchone()
            alerts = [r[0] for r in conn.execute("SELECT code FROM views.breaker_alerts ORDER BY notification_id")]
        assert (out.skipped, out.applied, fresh.applied) == (3, 0, 1)
        assert tracked == (6, 6) and alerts == ["A", "B", "C", "D", "E"]
    finally:
        container.close()
