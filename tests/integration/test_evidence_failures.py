"""Evidence store failures through the running system (ADR 0516), on real PostgreSQL and the loopback Kalshi
exchange. The store is broken for real: its folder swapped for a file (nothing can be written under it), a blob's
name holding a folder, a fan-out folder replaced by a file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from paulp.adapters.evidence_store import EvidenceFetch, EvidenceStore, record_fetch
from paulp.api.order_timers_job import run_order_timers
from paulp.api.signal_jobs import execute_pending
from paulp.api.venue_session import JobFailed
from paulp.domain.order_states import OrderState
from tests.fakes.kalshi_exchange import Fault
from tests.integration.helpers import NOW
from tests.integration.kalshi_system import AUTH, System, _system, pending_live_order, run_cli
from tests.support.evidence_damage import blob_made_a_folder, fanout_made_a_file

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
SECRET = "relay-secret-0123456789abcdefghij"


@pytest.fixture
def system(fresh_db, nats_url, namespace, exchange, key, tmp_path) -> Iterator[System]:
    yield from _system(fresh_db, nats_url, namespace, exchange, key, tmp_path, KALSHI_WEBHOOK_SECRET=SECRET)


def _break(folder: Path) -> None:
    """The evidence folder moved aside and a file put in its place: no blob can be written (even as root)."""
    if folder.exists():
        folder.rename(folder.with_name(folder.name + ".aside"))
    folder.write_bytes(b"not a folder")


def _mend(folder: Path) -> None:
    folder.unlink()
    aside = folder.with_name(folder.name + ".aside")
    if aside.exists():
        aside.rename(folder)


def _posts(system: System) -> int:
    return sum(1 for r in system.exchange.requests if r.method == "POST" and r.path.endswith("/portfolio/orders"))


def test_execute_when_the_market_read_cannot_be_stored_then_nothing_is_sent_and_the_code_names_the_store(
        system: System):
    # Arrange: a PENDING LIVE order; the evidence folder gone before the run reads the market
    _, order_id = pending_live_order(system)
    folder = system.container.settings.evidence_dir()
    _break(folder)
    # Act
    with pytest.raises(JobFailed) as failed:
        execute_pending(system.container)
    # Assert: fails closed with the store's code (Kalshi answered), no order sent, the order untouched, no row
    assert (failed.value.code, failed.value.message) == (
        "venue_evidence_write_failed", "No market could be read from Kalshi: venue_evidence_write_failed")
    assert _posts(system) == 0 and system.order(order_id).state == OrderState.PENDING
    assert _inbox_and_fetches(system) == (0, 0)
    # Act / Assert: the store back, the next run sends it once
    _mend(folder)
    system.project("orders")
    assert execute_pending(system.container)["executed"] == [order_id] and _posts(system) == 1


def test_live_order_when_kalshi_accepted_but_its_answer_cannot_be_stored_then_in_doubt_marked_and_settled_once(
        system: System):
    # Arrange: the evidence folder breaks once Kalshi has placed the order, before its answer is stored
    folder = system.container.settings.evidence_dir()
    system.exchange.inject(Fault(status=None, process=True, method="POST", path_contains="/portfolio/orders",
                                 then=lambda: _break(folder)))
    # Act
    _, out = system.live_order("evidence-lost", size=40, move_up_by=3)  # placed, resting at Kalshi
    # Assert: in doubt (never ERROR, which a retry would send again), the marker naming why and what Kalshi said
    order = system.order(out.order_id)
    assert (order.state, order.submission_in_doubt) == (OrderState.SUBMITTED, True)
    [doubt] = [h for h in order.history if h.metadata.get("venueOutcome") == "unknown"]
    assert doubt.metadata["detail"] == ("venue_outcome_unknown: venue outcome unknown"
                                        " (venue_evidence_write_failed, HTTP 201)")
    [placed] = system.exchange.orders

    # Act: the stale tick while the store is still broken: the lookup by client order id is not evidenced either
    system.container.clock.set(NOW + timedelta(seconds=301))  # type: ignore[attr-defined]
    system.project("orders")
    tick = run_order_timers(system.container)
    # Assert: asked, still in doubt (a lookup not evidenced is not "not found"), nothing sent again
    assert [r["outcome"] for r in tick["left"]] == ["in_doubt: venue lookup failed (EvidenceWriteFailed)"]
    assert system.order(out.order_id).submission_in_doubt and _posts(system) == 1

    # Act: the store mended, the next tick
    _mend(folder)
    system.project("orders")
    run_order_timers(system.container)
    # Assert: found by client order id: exactly one order at Kalshi, ours, sent once
    order = system.order(out.order_id)
    assert not order.submission_in_doubt and order.broker_order_id == placed["order_id"]
    assert len(system.exchange.orders) == 1 and _posts(system) == 1


def _inbox_and_fetches(system: System) -> tuple[int, int]:
    with psycopg.connect(system.container.database_url) as conn:
        inbox = conn.execute("SELECT count(*) FROM webhook_inbox").fetchone()
        fetches = conn.execute("SELECT count(*) FROM evidence_fetches").fetchone()
    return (int(inbox[0]) if inbox else 0, int(fetches[0]) if fetches else 0)


def test_webhook_when_the_body_cannot_be_stored_then_502_for_the_relay_to_retry_and_nothing_recorded(
        system: System):
    # Arrange
    folder = system.container.settings.evidence_dir()
    _break(folder)
    body = json.dumps({"event_type": "order_update", "event_id": "e-1",
                       "payload": {"orderId": "o-1", "status": "executed"}}).encode()
    headers = {"x-kalshi-webhook-secret": SECRET, "Content-Type": "application/json"}
    # Act
    refused = system.client.post("/webhooks/kalshi/events", content=body, headers=headers)
    # Assert: a 5xx with the hand-off's code (the relay retries), nothing queued, nothing indexed
    assert (refused.status_code, refused.json()) == (502, {
        "error": "Downstream failure", "code": "downstream_failed",
        "message": "The body could not be stored as evidence; nothing was recorded"})
    assert _inbox_and_fetches(system) == (0, 0)
    # Act / Assert: the relay's retry, once the store is back, is received once
    _mend(folder)
    retried = system.client.post("/webhooks/kalshi/events", content=body, headers=headers)
    assert (retried.status_code, retried.json()) == (200, {"received": True, "duplicate": False})
    assert _inbox_and_fetches(system) == (1, 1)


def _indexed(system: System, body: bytes) -> str:
    blob = EvidenceStore(system.container.settings.evidence_dir()).put(body)
    with psycopg.connect(system.container.database_url) as conn:
        record_fetch(conn, EvidenceFetch(blob.evidence_hash, "kalshi_trade_api", "/trade-api/v2/markets/KX-E",
                                         datetime(2026, 11, 29, tzinfo=UTC).isoformat(), blob.size_bytes,
                                         response_status=200))
    return blob.evidence_hash


def test_readers_when_blobs_cannot_be_read_then_cli_and_gate_report_each_without_a_traceback(
        system: System, monkeypatch: Any):
    # Arrange: two indexed blobs in different fan-out folders; one folder becomes a file, one blob a folder
    store = EvidenceStore(system.container.settings.evidence_dir())
    gone = _indexed(system, b'{"n":0}')
    unreadable = next(h for h in (_indexed(system, b'{"n":%d}' % i) for i in range(1, 50)) if h[:2] != gone[:2])
    fanout_made_a_file(store, gone)
    blob_made_a_folder(store, unreadable)
    monkeypatch.setenv("PAULP_EVIDENCE_DIR", str(store.root))
    # Act
    verified = run_cli(system, monkeypatch, "evidence", "verify", "--all", "--json")
    shown = run_cli(system, monkeypatch, "evidence", "show", unreadable)
    gate = system.client.get("/admin/gates/verify/3", headers=AUTH)
    # Assert: each reported as what it is, exit 1, no traceback; the gate answers and its criterion fails
    assert verified.exit_code == 1 and isinstance(verified.exception, SystemExit), verified.exception
    problems = {r["evidenceHash"]: r["problem"] for r in json.loads(verified.output)}
    assert problems[gone] == "blob missing"
    assert problems[unreadable] == f"Evidence unreadable: {unreadable} (IsADirectoryError: Is a directory)"
    assert shown.exit_code == 1 and isinstance(shown.exception, SystemExit), shown.exception
    assert json.loads(shown.output)["check"]["passed"] is False
    assert gate.status_code == 200, gate.text
    [p3] = [r for r in gate.json()["results"] if r["criterionId"] == "P3_EVIDENCE_CHAIN_VERIFIED"]
    assert not p3["passed"] and "blob missing from the evidence store" in p3["message"]
    assert f"{unreadable[:12]}: blob unreadable: Evidence unreadable" in p3["message"]
