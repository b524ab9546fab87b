"""§9 weaknesses 6, 7, 10 and 13, each shown resolved on the real code (named after the item)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from paulp.adapters.audit_store import verify
from paulp.adapters.kalshi.signing import auth_headers, load_credentials, signing_message, verify_signature
from paulp.api.app import create_app
from paulp.domain.audit import InvalidChainField, append_record
from paulp.domain.clock import FixedClock
from tests.integration.helpers import MARKET, NOW, make_container, signal

pytestmark = pytest.mark.integration
AUTH = {"Authorization": "Bearer test-admin-token-0123456789abcdef"}


def test_weakness_06_kalshi_signature_covers_timestamp_method_and_path_only():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    creds = load_credentials(str(uuid.uuid4()), pem)
    ts = "1767225600000"
    headers = auth_headers(creds, "GET", "/trade-api/v2/portfolio/orders?limit=5&cursor=x", ts)
    signature = next(v for k, v in headers.items() if k.lower().endswith("signature"))
    # The published scheme: the query string (and any body) is not part of the signed message.
    assert verify_signature(key.public_key(), signing_message(ts, "GET", "/trade-api/v2/portfolio/orders"), signature)
    assert not verify_signature(key.public_key(),
                                ts + "GET" + "/trade-api/v2/portfolio/orders?limit=5&cursor=x", signature)


def test_weakness_07_audit_chain_concurrent_appends_stay_contiguous_and_delimiters_refused(
    fresh_db, nats_url, namespace
):
    container = make_container(fresh_db, nats_url, namespace)
    try:
        def record(i: int) -> int:
            return container.execution.record_venue_order("kalshi", {"order_id": f"k-{i}", "status": "open"})

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(record, range(80)))
        with psycopg.connect(fresh_db) as conn:
            seqs = [r[0] for r in conn.execute("SELECT chain_seq FROM audit_chain ORDER BY 1")]
            prevs = conn.execute("SELECT count(DISTINCT prev_hash) FROM audit_chain").fetchone()[0]
        assert seqs == list(range(1, 81)) and prevs == 80  # no duplicate sequence, no fork
        assert verify(fresh_db).valid
        with pytest.raises(InvalidChainField):
            append_record(None, id="a|b", timestamp="2026-01-01T00:00:00.000Z", agent="x", event_type="Y",
                          payload="{}")
    finally:
        container.close()


def test_weakness_10_unhandled_error_is_500_without_internals(fresh_db, nats_url, namespace):
    container = make_container(fresh_db, nats_url, namespace)
    try:
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            conn.execute("ALTER TABLE views.breaker_state RENAME TO breaker_state_gone")
        r = TestClient(create_app(container), raise_server_exceptions=False).get("/admin/status", headers=AUTH)
        assert r.status_code == 500
        body = r.json()
        assert set(body) == {"error", "code", "request_id", "timestamp"} and body["code"] == "internal_error"
        assert "breaker_state" not in r.text and "SELECT" not in r.text
    finally:
        container.close()


def test_weakness_13_concurrent_duplicate_signals_make_one_order_and_one_venue_order(fresh_db, nats_url, namespace):
    container = make_container(fresh_db, nats_url, namespace, clock=FixedClock(NOW))
    try:
        pipeline = container.pipeline(MARKET)

        def run(_: int) -> str:
            try:
                return pipeline.process(signal("dup-signal")).order_id
            except Exception as e:  # a losing racer sees the store's version conflict, never a second order
                return type(e).__name__

        with ThreadPoolExecutor(max_workers=4) as pool:
            outcomes = list(pool.map(run, range(4)))
        with psycopg.connect(fresh_db) as conn:
            orders = conn.execute("SELECT count(DISTINCT originator_id) FROM paulp_events"
                                  " WHERE topic LIKE '%%Order.Created'").fetchone()[0]
            venue = conn.execute("SELECT count(*) FROM paulp_events WHERE topic LIKE '%%VenueOrder.Recorded'"
                                 ).fetchone()[0]
        assert orders == 1 and venue == 1, outcomes
        assert pipeline.orders.find(next(o for o in outcomes if o.startswith("order-"))).state == "FILLED"
    finally:
        container.close()
