"""A critical ``/webhooks/alert`` delivered again (a retrying sender) escalates the breaker once; a new alert still
escalates (ADR 0524, closing ADR 0517's loose end). Real PostgreSQL, the app over HTTP, a fixed clock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from paulp.api.app import create_app
from paulp.api.wiring import Container
from paulp.domain.clock import FixedClock
from tests.integration.helpers import NOW, make_container
from tests.integration.write_gate import race

pytestmark = pytest.mark.integration
TRIGGER = "trigger-token-0123456789abcdef0123"
AUTH = {"Authorization": f"Bearer {TRIGGER}"}
DISK = {"severity": "critical", "source": "monitor", "message": "disk full", "context": {"host": "db-1"}}


@contextmanager
def _app(db: str, nats_url: str, ns: str) -> Iterator[tuple[TestClient, Container, FixedClock]]:
    clock = FixedClock(NOW)
    container = make_container(db, nats_url, ns, clock, WEBHOOK_TRIGGER_TOKEN=TRIGGER)
    try:
        with TestClient(create_app(container)) as client:
            yield client, container, clock
    finally:
        container.close()


def _transitions(container: Container) -> list[tuple[str, str]]:
    app = container.breaker
    stored = app.recorder.select_events(app.get().id)
    events = [app.mapper.to_domain_event(s) for s in stored]
    return [(e.from_state, e.to_state) for e in events if type(e).__name__ == "Transitioned"]


def _post(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/webhooks/alert", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_critical_alert_when_delivered_again_then_it_escalates_once_and_the_repeat_gets_the_first_outcome(
        fresh_db: str, nats_url: str, namespace: str) -> None:
    with _app(fresh_db, nats_url, namespace) as (client, container, clock):
        # Act: the alert, then the sender's retry 30 s later (its keys in another order: the same JSON)
        first = _post(client, DISK)
        clock.set(NOW + timedelta(seconds=30))
        again = _post(client, dict(reversed(list(DISK.items()))))
        # Assert: one escalation; the retry answered with it
        assert container.breaker.get().state.value == "CAUTION"
        assert _transitions(container) == [("NORMAL", "CAUTION")]
        assert first == {"received": True, "duplicate": False,
                         "breaker": {"from": "NORMAL", "to": "CAUTION", "at": "2026-03-02T15:00:00.000Z"}}
        assert again == {**first, "duplicate": True}


def test_critical_alert_when_new_or_repeated_after_the_window_then_it_escalates(
        fresh_db: str, nats_url: str, namespace: str) -> None:
    with _app(fresh_db, nats_url, namespace) as (client, container, clock):
        _post(client, DISK)
        # Act: another alert (other context) at once; then the first body again 10 minutes after it acted
        other = _post(client, {**DISK, "context": {"host": "db-2"}})
        clock.set(NOW + timedelta(minutes=10))
        later = _post(client, DISK)
        # Assert: each escalated one step (HALT stays HALT on the third)
        assert (other["duplicate"], other["breaker"]["to"]) == (False, "HALT")
        assert (later["duplicate"], later["breaker"]) == (
            False, {"from": "HALT", "to": "HALT", "at": "2026-03-02T15:10:00.000Z"})
        assert _transitions(container) == [("NORMAL", "CAUTION"), ("CAUTION", "HALT")]


def test_critical_alert_when_delivered_twice_at_once_then_one_escalation(
        fresh_db: str, nats_url: str, namespace: str) -> None:
    with _app(fresh_db, nats_url, namespace) as (client, container, _):
        # Act: the second delivery decides while the first one's save waits, uncommitted
        first, second = race(fresh_db, lambda: _post(client, DISK), lambda: _post(client, DISK))
        # Assert
        assert container.breaker.get().state.value == "CAUTION"
        assert _transitions(container) == [("NORMAL", "CAUTION")]
        assert {first["duplicate"], second["duplicate"]} == {False, True}
        assert first["breaker"] == second["breaker"]


def test_warning_and_info_alerts_when_repeated_then_answered_as_before(
        fresh_db: str, nats_url: str, namespace: str) -> None:
    with _app(fresh_db, nats_url, namespace) as (client, container, _):
        for severity in ("info", "warning", "info"):
            assert _post(client, {**DISK, "severity": severity}) == {"received": True}
        assert container.breaker.get().state.value == "NORMAL"
