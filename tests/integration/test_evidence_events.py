"""Evidence records are events in the audit chain (api-and-security §4.6; ADR 0406): a relayed webhook body and a
Kalshi response each get a chained EvidenceStored event in the index row's transaction; a refused append fails
the fetch; an index row changed by hand is reported by the phase-3 verification.

Real PostgreSQL and NATS; the loopback Kalshi exchange."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from paulp.adapters.evidence_audit import check_index
from paulp.adapters.evidence_store import EvidenceFetch, EvidenceStore, fetch_recorder, record_fetch
from paulp.adapters.gate_facts import DatabaseGateFacts, GateSources
from paulp.adapters.kalshi.client import KalshiClient, KalshiClientConfig
from paulp.adapters.kalshi.client_errors import EvidenceWriteFailed
from paulp.domain.evidence import sha256_hex
from paulp.domain.gate_checks import CHECKS
from tests.integration.kalshi_system import System, _system
from tests.support.evidence_events import evidence_stored

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
SECRET = "relay-secret-0123456789abcdefghij"


@pytest.fixture
def system(fresh_db, nats_url, namespace, exchange, key, tmp_path) -> Iterator[System]:
    yield from _system(fresh_db, nats_url, namespace, exchange, key, tmp_path, KALSHI_WEBHOOK_SECRET=SECRET)


def _client(system: System) -> KalshiClient:
    return KalshiClient(EvidenceStore(system.container.settings.evidence_dir()),
                        config=KalshiClientConfig(base_url=system.exchange.base_url, timeout_s=2.0, max_retries=0),
                        record=fetch_recorder(system.container.pool.connection))


def _get_market(system: System, ticker: str) -> Any:
    async def run() -> Any:
        client = _client(system)
        try:
            return await client.get_market(ticker)
        finally:
            await client.aclose()
    return asyncio.run(run())


def _fetch_rows(system: System) -> int:
    with psycopg.connect(system.container.database_url) as conn:
        row = conn.execute("SELECT count(*) FROM evidence_fetches").fetchone()
    return int(row[0]) if row else 0


def test_webhook_relay_when_body_received_then_evidence_stored_event_chained_with_its_hash(system: System):
    # Arrange
    raw = json.dumps({"event_type": "fill", "event_id": "ev-1", "payload": {
        "orderId": "o-1", "marketId": "KX-1", "side": "yes", "count_fp": "2.00", "yes_price_dollars": "0.4100",
        "timestamp": 1}}).encode()
    # Act
    r = system.client.post("/webhooks/kalshi/events", content=raw,
                           headers={"x-kalshi-webhook-secret": SECRET, "Content-Type": "application/json"})
    # Assert: the body's hash on the event and on its chain row; the fields are the index row's
    assert r.status_code == 200, r.text
    [(body, chained)] = evidence_stored(system.container.database_url)
    assert chained == body["evidence_hash"] == sha256_hex(raw)
    assert (body["source"], body["endpoint"], body["method"], body["status"], body["size"]) == (
        "kalshi_webhook", "/webhooks/kalshi/events", "POST", None, len(raw))
    with psycopg.connect(system.container.database_url) as conn:
        assert check_index(conn).valid


def test_kalshi_fetch_when_recorded_then_response_event_chained_and_index_matches(system: System):
    # Arrange
    ticker = system.tradable_ticker()
    # Act
    response = _get_market(system, ticker)
    # Assert
    [(body, chained)] = evidence_stored(system.container.database_url)
    assert chained == body["evidence_hash"] == response.evidence_hash
    assert (body["fetch_id"], body["endpoint"], body["status"]) == (1, f"/trade-api/v2/markets/{ticker}", 200)
    with psycopg.connect(system.container.database_url) as conn:
        report = check_index(conn)
    assert report.valid and report.unchained_rows == 0


def test_kalshi_fetch_when_event_append_refused_then_fetch_fails_and_nothing_is_indexed(system: System):
    # Arrange: the log refuses EvidenceStored events (a failure inside PostgreSQL, as a full disk would be)
    with psycopg.connect(system.container.database_url) as conn:
        conn.execute("CREATE FUNCTION refuse_evidence() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                     " IF NEW.topic LIKE '%%EvidenceStored' THEN RAISE EXCEPTION 'log unavailable'; END IF;"
                     " RETURN NEW; END $$")
        conn.execute("CREATE TRIGGER refuse_evidence BEFORE INSERT ON paulp_events FOR EACH ROW"
                     " EXECUTE FUNCTION refuse_evidence()")
    # Act / Assert: the response is not handed to the caller (§4.1), and no index row is left behind
    with pytest.raises(EvidenceWriteFailed):
        _get_market(system, system.tradable_ticker())
    assert _fetch_rows(system) == 0
    assert evidence_stored(system.container.database_url) == []


def _phase3_evidence(system: System) -> Any:
    facts = DatabaseGateFacts(GateSources(system.container.database_url,
                                          system.container.settings.evidence_dir(), {}, ())).phase3(
        system.container.clock.now())
    return facts, CHECKS["P3_EVIDENCE_CHAIN_VERIFIED"](facts)


def test_verification_when_index_rows_edited_deleted_or_added_by_hand_then_each_is_reported(system: System):
    # Arrange: three recorded fetches; the chain is valid and the gate check passes
    ticker = system.tradable_ticker()
    for _ in range(3):
        _get_market(system, ticker)
    facts, check = _phase3_evidence(system)
    assert facts.audit.valid and facts.evidence_index == [] and check.passed
    # Act: one row's status edited, one row deleted, one row written without an event
    with psycopg.connect(system.container.database_url) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM evidence_fetches ORDER BY id").fetchall()]
        conn.execute("UPDATE evidence_fetches SET response_status = 500 WHERE id = %s", (ids[0],))
        conn.execute("DELETE FROM evidence_fetches WHERE id = %s", (ids[1],))
        row = conn.execute("SELECT evidence_hash FROM evidence_fetches WHERE id = %s", (ids[2],)).fetchone()
        assert row is not None
        conn.execute("INSERT INTO evidence_fetches (evidence_hash, source, endpoint, response_status, fetched_at)"
                     " VALUES (%s, 'kalshi_trade_api', '/forged', 200, now())", (row[0],))
    facts, check = _phase3_evidence(system)
    # Assert: the chain itself is intact, the index is not, and the gate criterion names each row
    assert facts.audit.valid and not check.passed
    with psycopg.connect(system.container.database_url) as conn:
        report = check_index(conn)
    assert [(m.fetch_id, m.problem) for m in report.mismatches] == [
        (ids[0], "status"), (ids[1], "no_row"), (ids[2] + 1, "no_event")]
    assert facts.evidence_index == [m.describe() for m in report.mismatches]
    assert f"fetch {ids[0]}" in check.message and "deleted" in check.message


def test_verification_when_rows_predate_the_first_chained_fetch_then_counted_not_failed(system: System):
    # Arrange: a row written the way the index was written before ADR 0406 (no event), then a chained fetch
    with psycopg.connect(system.container.database_url) as conn:
        conn.execute("INSERT INTO evidence_blobs (evidence_hash, r2_key, source, endpoint, fetched_at,"
                     " response_size_bytes) VALUES (%s, 'x', 'noaa_cdo', '/old', now(), 0)", (sha256_hex(b""),))
        conn.execute("INSERT INTO evidence_fetches (evidence_hash, source, endpoint, fetched_at)"
                     " VALUES (%s, 'noaa_cdo', '/old', now())", (sha256_hex(b""),))
        # Act
        record_fetch(conn, EvidenceFetch(sha256_hex(b"{}"), "noaa_cdo", "https://cdo.example/data",
                                         "2026-03-01T12:00:00.000+00:00", 2, response_status=200))
        report = check_index(conn)
    # Assert
    assert report.valid and report.unchained_rows == 1
