"""Content-addressed evidence store (api-and-security §4) and its Postgres index."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from paulp.adapters.evidence_store import (
    EvidenceFetch,
    EvidenceHashMismatch,
    EvidenceNotFound,
    EvidenceStore,
    record_fetch,
)
from paulp.domain.evidence import EMPTY_SHA256, InvalidEvidenceHash, sha256_hex

BODY = b'{ "incomplete": true, "missing_bracket": '


def test_put_when_new_body_then_blob_at_fanout_path_holds_exact_bytes(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    stored = store.put(BODY)
    path = tmp_path / stored.evidence_hash[:2] / stored.evidence_hash
    assert stored.evidence_hash == sha256_hex(BODY)
    assert (stored.created, stored.size_bytes, path.read_bytes()) == (True, len(BODY), BODY)


def test_put_when_same_bytes_twice_then_second_is_not_created(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    first, second = store.put(b"x"), store.put(b"x")
    assert first.evidence_hash == second.evidence_hash
    assert (first.created, second.created) == (True, False)


def test_put_when_stored_blob_was_edited_then_rewritten_with_the_bytes_its_name_allows(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    h = store.put(BODY).evidence_hash
    store.path_for(h).write_bytes(b"tampered")
    again = store.put(BODY)
    assert (again.evidence_hash, again.created) == (h, True)
    assert store.get(h) == BODY
    assert store.put(BODY).created is False


def test_put_when_done_then_no_temp_files_left(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    stored = store.put(BODY)
    assert [p.name for p in (tmp_path / stored.evidence_hash[:2]).iterdir()] == [stored.evidence_hash]


def test_put_when_empty_body_then_stored_under_empty_digest(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    assert store.put(b"").evidence_hash == EMPTY_SHA256
    assert store.get(EMPTY_SHA256) == b""


def test_get_when_blob_intact_then_returns_bytes(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    h = store.put(BODY).evidence_hash
    assert store.get(h) == BODY and store.exists(h)


def test_get_when_blob_edited_on_disk_then_raises_hash_mismatch(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    h = store.put(BODY).evidence_hash
    store.path_for(h).write_bytes(b"tampered")
    with pytest.raises(EvidenceHashMismatch) as err:
        store.get(h)
    assert str(err.value) == f"Evidence hash mismatch: expected {h}, got {sha256_hex(b'tampered')}"


def test_get_when_absent_then_raises_not_found(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    with pytest.raises(EvidenceNotFound):
        store.get(EMPTY_SHA256)
    assert not store.exists(EMPTY_SHA256)


def test_get_when_hash_is_a_path_then_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidEvidenceHash):
        EvidenceStore(tmp_path).get("../../etc/passwd")


# --- index (real PostgreSQL, every migration applied) ---------------------------------


@pytest.fixture
def conn(fresh_db: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A migrated database: the index now appends each fetch's event to the log and the chain (ADR 0406)."""
    with psycopg.connect(fresh_db) as connection:
        yield connection


def _fetch(h: str, **kw: object) -> EvidenceFetch:
    base: dict[str, object] = {
        "evidence_hash": h, "source": "kalshi_trade_api", "endpoint": "/trade-api/v2/markets?limit=5",
        "fetched_at": "2026-03-01T12:00:00.000Z", "size_bytes": 3,
    }  # fmt: skip
    base.update(kw)
    return EvidenceFetch(**base)  # type: ignore[arg-type]


@pytest.mark.integration
def test_record_fetch_when_same_hash_fetched_twice_then_one_blob_row_two_fetch_rows(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    record_fetch(conn, _fetch(EMPTY_SHA256, response_status=200))
    record_fetch(conn, _fetch(EMPTY_SHA256, response_status=429, fetched_at="2026-03-02T00:00:00.000Z"))
    blobs = conn.execute("SELECT source, response_status, r2_key FROM evidence_blobs").fetchall()
    fetches = conn.execute("SELECT response_status FROM evidence_fetches ORDER BY id").fetchall()
    assert blobs == [("kalshi_trade_api", 200, f"{EMPTY_SHA256[:2]}/{EMPTY_SHA256}")]
    assert fetches == [(200,), (429,)]


@pytest.mark.integration
def test_record_fetch_when_params_hold_token_then_index_stores_redacted(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    record_fetch(conn, _fetch(EMPTY_SHA256, request_params={"token": "s3cret", "limit": 5}))
    [(params,)] = conn.execute("SELECT request_params FROM evidence_fetches").fetchall()
    assert "s3cret" not in json.dumps(params)
    assert params == {"limit": 5, "token": "[REDACTED]"}


def _stored_events(conn: psycopg.Connection[tuple[object, ...]]) -> list[tuple[dict[str, object], object]]:
    rows = conn.execute(
        "SELECT e.state, c.evidence_hash FROM paulp_events e JOIN audit_chain c USING (notification_id)"
        " WHERE e.topic = 'paulp.domain.evidence_records:EvidenceRecord.EvidenceStored'"
        " ORDER BY e.notification_id").fetchall()
    return [(json.loads(bytes(state)), chained) for state, chained in rows]  # type: ignore[arg-type]


@pytest.mark.integration
def test_record_fetch_when_indexed_then_evidence_stored_event_chained_with_the_row_values(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    # Arrange
    body_hash = sha256_hex(b"{}")
    # Act
    fetch_id = record_fetch(conn, _fetch(body_hash, response_status=404, size_bytes=2, request_method="get",
                                         request_params={"api_key": "k3y", "limit": 5}))
    conn.commit()
    # Assert: one event, its chain row carries the hash, its fields are the row's (secrets redacted)
    [(body, chained)] = _stored_events(conn)
    assert chained == body_hash
    assert (body["fetch_id"], body["evidence_hash"], body["source"], body["endpoint"], body["method"],
            body["status"], body["size"]) == (fetch_id, body_hash, "kalshi_trade_api",
                                              "/trade-api/v2/markets?limit=5", "GET", 404, 2)
    assert json.loads(str(body["params"])) == {"api_key": "[REDACTED]", "limit": 5}
    assert "k3y" not in json.dumps(body)


@pytest.mark.integration
def test_record_fetch_when_params_not_ascii_then_event_carries_canonical_json(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    """The chained event's params text is §4.7's canonical JSON: sorted, compact, UTF-8 kept (ensure_ascii=False)."""
    record_fetch(conn, _fetch(EMPTY_SHA256, request_params={"series": "Zürich 東京", "limit": 5}))
    conn.commit()
    [(body, _)] = _stored_events(conn)
    assert body["params"] == '{"limit":5,"series":"Zürich 東京"}'
    [(params,)] = conn.execute("SELECT request_params FROM evidence_fetches").fetchall()
    assert params == {"limit": 5, "series": "Zürich 東京"}


@pytest.mark.integration
def test_record_fetch_when_event_append_fails_then_raises_and_no_index_row_is_left(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    # Arrange: the log refuses this event (a real failure inside PostgreSQL, not a mock)
    conn.execute("CREATE FUNCTION refuse_evidence() RETURNS trigger LANGUAGE plpgsql AS"
                 " $$ BEGIN RAISE EXCEPTION 'log unavailable'; END $$")
    conn.execute("CREATE TRIGGER refuse_evidence BEFORE INSERT ON paulp_events FOR EACH ROW"
                 " EXECUTE FUNCTION refuse_evidence()")
    conn.commit()
    # Act / Assert: the fetch fails and neither index row survives
    with pytest.raises(psycopg.errors.RaiseException):
        record_fetch(conn, _fetch(EMPTY_SHA256, response_status=200))
    conn.commit()
    assert conn.execute("SELECT count(*) FROM evidence_fetches").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM evidence_blobs").fetchone() == (0,)
    assert _stored_events(conn) == []
