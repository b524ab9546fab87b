"""Anchors pin the chain head; a consistent rewrite of the whole chain is still caught; a break halts."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import psycopg
import pytest
from fastapi.testclient import TestClient

from paulp.adapters.anchors import verify_stored_anchors, write_anchor
from paulp.adapters.audit_store import verify
from paulp.adapters.eventstore.chain import build_row
from paulp.api.app import create_app
from paulp.api.audit_job import anchor_and_verify
from tests.integration.helpers import make_container

pytestmark = pytest.mark.integration
AUTH = {"Authorization": "Bearer test-admin-token-0123456789abcdef"}


def test_anchor_when_chain_intact_then_verified_and_status_reports_head(fresh_db, nats_url, namespace):
    c = make_container(fresh_db, nats_url, namespace)
    try:
        for t in ("CAUTION", "NORMAL"):
            c.breaker.transition(t, "x", "t")
        client = TestClient(create_app(c))
        before = client.get("/admin/audit/status", headers=AUTH).json()
        assert (before["latestAnchor"], before["unsyncedEvents"]) == (None, before["chainHead"]["sequence"])
        outcome = anchor_and_verify(c)
        assert outcome.valid and outcome.anchors.verified == 1
        status = client.get("/admin/audit/status", headers=AUTH).json()
        assert status["chainHead"]["sequence"] == 3 and status["lastVerification"]["valid"] is True
        # unsyncedEvents counts records not in the audit mirror (ADR 0385): an anchor does not mirror them
        assert (status["unsyncedEvents"], status["mirror"]) == (3, None)
        c.breaker.transition("CAUTION", "after the anchor", "t")
        after = client.get("/admin/audit/status", headers=AUTH).json()
        assert after["unsyncedEvents"] == 4
        with psycopg.connect(fresh_db) as conn:  # read from the chain head, it is still the log's row count (ADR 0518)
            assert after["totalEvents"] == conn.execute("SELECT count(*) FROM paulp_events").fetchone()[0] == 4
        assert client.get("/admin/audit/anchors", headers=AUTH).json()["failed"] == 0
        r = client.post("/admin/audit/verify", json={"startSeq": 3, "endSeq": 1}, headers=AUTH)
        assert (r.status_code, r.json()["code"]) == (400, "validation_error")
        assert client.post("/admin/audit/verify", json={"startSeq": 1}, headers=AUTH).json()["valid"] is True
        with psycopg.connect(fresh_db, autocommit=True) as conn, pytest.raises(psycopg.Error, match="append-only"):
            conn.execute("DELETE FROM audit_anchor.anchors")
    finally:
        c.close()


def test_anchor_when_whole_chain_rewritten_consistently_then_break_detected_and_breaker_halts(
    fresh_db, nats_url, namespace
):
    c = make_container(fresh_db, nats_url, namespace)
    try:
        for t in ("CAUTION", "NORMAL", "CAUTION"):
            c.breaker.transition(t, "x", "t")
        assert anchor_and_verify(c).valid
        # An attacker with superuser rewrites event 2 AND recomputes every chain record after it consistently.
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            conn.execute("SET session_replication_role = replica")
            conn.execute("UPDATE paulp_events SET state = convert_to(replace(convert_from(state, 'UTF8'),"
                         " '\"x\"', '\"y\"'), 'UTF8') WHERE notification_id = 2")
            rows = conn.execute("SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state,"
                                " c.timestamp FROM paulp_events e JOIN audit_chain c USING (notification_id)"
                                " ORDER BY 1").fetchall()
            conn.execute("DELETE FROM audit_chain")
            head = None
            for nid, oid, ver, topic, state, ts in rows:
                at = datetime.fromisoformat(ts.replace("Z", "+00:00"))
                row = build_row(head, nid, oid, ver, topic, bytes(state), at)
                conn.execute("INSERT INTO audit_chain VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)", row.as_tuple())
                head = row.record
        outcome = anchor_and_verify(c)
        assert outcome.chain.valid  # internally consistent forgery...
        assert outcome.anchors.failed >= 1  # ...but the first anchor no longer matches
        assert c.breaker.get().state == "HALT"
    finally:
        c.close()


def test_verify_and_anchors_when_streamed_in_small_batches_then_same_findings_as_one_batch(
    fresh_db, nats_url, namespace
):
    """The jobs stream the chain through server-side cursors; batch boundaries must not change a verdict."""
    c = make_container(fresh_db, nats_url, namespace)
    try:
        for t in ("CAUTION", "NORMAL") * 4:
            c.breaker.transition(t, "x", "t")
        early = write_anchor(fresh_db, c.anchor_url, batch=2)
        assert early == dataclasses.replace(write_anchor(fresh_db, c.anchor_url), id=early.id, anchor_sequence=1)
        assert verify_stored_anchors(fresh_db, c.anchor_url, batch=2).failed == 0
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            conn.execute("SET session_replication_role = replica")
            gone_seq, gone_nid = conn.execute(
                "DELETE FROM audit_chain WHERE chain_seq = 5 RETURNING chain_seq, notification_id").fetchone()
            edited_nid = conn.execute("SELECT notification_id FROM audit_chain WHERE chain_seq = 7").fetchone()[0]
            conn.execute("UPDATE paulp_events SET state = convert_to(replace(convert_from(state, 'UTF8'),"
                         " '\"x\"', '\"y\"'), 'UTF8') WHERE notification_id = %s", (edited_nid,))
        small, whole = verify(fresh_db, batch=2), verify(fresh_db)
        assert small == whole
        assert small.chain.gaps == (gone_seq,)
        assert {(m.kind, m.notification_id, m.sequence) for m in small.event_mismatches} == {
            ("chain_missing", gone_nid, gone_seq), ("event_payload", edited_nid, 7)}
        streamed = verify_stored_anchors(fresh_db, c.anchor_url, batch=2)
        assert streamed == verify_stored_anchors(fresh_db, c.anchor_url)
        assert streamed.failed == 2 and all("Chain length mismatch" in (a.reason or "") for a in streamed.anchors)
    finally:
        c.close()
