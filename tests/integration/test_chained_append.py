"""The server-side append (migration 0040) agrees byte for byte with the domain's v1 chain formula.

The hash is computed in SQL because prev_hash is only known under the log's lock; domain/audit.py is the
reference every verify uses, so any drift between the two would show here first.
"""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresDatastore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.rows import dict_row

from paulp.adapters.audit_store import verify
from paulp.adapters.eventstore.chain import build_row, record_from_row
from paulp.adapters.eventstore.recorder import ChainedApplicationRecorder
from paulp.adapters.migrate import migrate
from paulp.api.wiring import application_env
from paulp.domain.audit import InvalidChainField
from tests.support.hypothesis_scale import examples

pytestmark = pytest.mark.integration

_names = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
_qualnames = st.from_regex(r"[A-Z][A-Za-z0-9]{0,10}(\.[A-Z][A-Za-z0-9]{0,10})?", fullmatch=True)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_states = st.one_of(
    st.dictionaries(st.text(max_size=10), _json_values, max_size=5).map(lambda d: json.dumps(d).encode()),
    st.builds(lambda d, h: json.dumps({**d, "evidence_hash": h}).encode(),
              st.dictionaries(st.text(max_size=10), _json_values, max_size=3),
              st.from_regex(r"[0-9a-f]{64}", fullmatch=True)),
    st.binary(max_size=40),  # not a JSON object: chained as base64
)
_events = st.lists(st.tuples(_names, _qualnames, _states), min_size=1, max_size=6)


@pytest.fixture
def recorder(fresh_db):
    migrate(fresh_db)
    env = application_env(fresh_db)
    datastore = PostgresDatastore(dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"],
                                  port=env["POSTGRES_PORT"], user=env["POSTGRES_USER"],
                                  password=env["POSTGRES_PASSWORD"], lock_timeout=10)
    rec = ChainedApplicationRecorder(datastore)
    rec.datastore.db_type_names.add(rec.stored_event_type_name)
    rec.datastore.register_type_adapters()
    yield rec
    datastore.close()


def _chain(db: str) -> list[dict]:  # type: ignore[type-arg]
    with psycopg.connect(db) as conn:
        return conn.cursor(row_factory=dict_row).execute(
            "SELECT c.*, e.originator_id, e.originator_version, e.topic, e.state FROM audit_chain c"
            " JOIN paulp_events e USING (notification_id) ORDER BY chain_seq").fetchall()


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(saves=st.lists(_events, min_size=1, max_size=4))
def test_append_when_generated_saves_then_sql_chain_equals_domain_formula(recorder, fresh_db, saves):
    before = len(_chain(fresh_db))
    for save in saves:
        events = [StoredEvent(uuid.uuid4(), 1, f"paulp.domain.{m}:{q}", s) for m, q, s in save]
        ids = recorder.insert_events(events)
        assert len(ids) == len(events) and list(ids) == sorted(ids)
    rows = _chain(fresh_db)
    assert len(rows) == before + sum(len(s) for s in saves)
    head = record_from_row(rows[before - 1]) if before else None
    for row in rows[before:]:
        expected = build_row(head, row["notification_id"], row["originator_id"], row["originator_version"],
                             row["topic"], bytes(row["state"]), row["timestamp"])
        assert expected.as_tuple() == tuple(row[k] for k in (
            "chain_seq", "notification_id", "event_id", "timestamp", "agent", "event_type", "payload",
            "payload_hash", "evidence_hash", "prev_hash", "hash"))
        head = expected.record
    assert verify(fresh_db).valid


def test_append_when_field_has_forbidden_character_then_refused_and_nothing_stored(recorder, fresh_db):
    recorder.insert_events([StoredEvent(uuid.uuid4(), 1, "paulp.domain.breaker:Ok", b"{}")])
    with pytest.raises(InvalidChainField):
        recorder.insert_events([StoredEvent(uuid.uuid4(), 1, "paulp.domain.breaker:Ok", b"{}"),
                                StoredEvent(uuid.uuid4(), 1, "paulp.domain.breaker:Bad|Type", b"{}")])
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT count(*) FROM paulp_events").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM audit_chain").fetchone()[0] == 1


def test_append_when_head_time_is_ahead_of_store_clock_then_time_never_goes_back(recorder, fresh_db):
    recorder.insert_events([StoredEvent(uuid.uuid4(), 1, "paulp.domain.breaker:A", b"{}")])
    future = "2999-01-01T00:00:00.000Z"
    with psycopg.connect(fresh_db, autocommit=True) as conn:  # a head stamped by a clock far ahead
        conn.execute("INSERT INTO audit_chain SELECT 2, -1, 'x', %s, 'a', 'b', '{}', 'p', NULL, 'q', 'h'", (future,))
    recorder.insert_events([StoredEvent(uuid.uuid4(), 1, "paulp.domain.breaker:B", b"{}")])
    rows = _chain(fresh_db)
    assert rows[-1]["chain_seq"] == 3 and rows[-1]["timestamp"] == future and rows[-1]["prev_hash"] == "h"


def test_append_when_version_already_stored_then_integrity_error_and_chain_unchanged(recorder, fresh_db):
    from eventsourcing.persistence import IntegrityError

    oid = uuid.uuid4()
    recorder.insert_events([StoredEvent(oid, 1, "paulp.domain.breaker:A", b"{}")])
    with pytest.raises(IntegrityError):
        recorder.insert_events([StoredEvent(oid, 1, "paulp.domain.breaker:A", b"{}")])
    assert len(_chain(fresh_db)) == 1
