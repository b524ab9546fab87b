"""Audit mirror key and body (api-and-security §5.1): the layout, and a body an outside reader can verify."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paulp.domain.audit import GENESIS, ChainRecord, append_record, payload_hash, record_hash
from paulp.domain.audit_mirror import UnmirrorableRecord, mirror_body, mirror_key, parse_key
from paulp.domain.canonical import canonical_json

FIELDS = ("id", "eventSequence", "timestamp", "agent", "eventType", "payload", "payloadHash", "evidenceHash",
          "prevHash", "hash")


def record(payload: str = '{"a":1}', **over: object) -> ChainRecord:
    r = append_record(None, id="evt-example", timestamp="2026-01-01T00:00:00.000Z", agent="example-agent",
                      event_type="EXAMPLE_EVENT", payload=payload)
    return ChainRecord(**{**r.__dict__, **over})  # type: ignore[arg-type]


def test_key_when_spec_example_then_day_of_timestamp_and_twelve_digit_sequence() -> None:
    assert mirror_key(record()) == "audit/events/2026-01-01/000000000001-evt-example.json"
    assert mirror_key(record(sequence=123456789012)) == "audit/events/2026-01-01/123456789012-evt-example.json"


def test_body_when_spec_example_then_fields_in_spec_order_and_worked_hashes() -> None:
    body = json.loads(mirror_body(record()))
    assert tuple(body) == FIELDS
    assert body == {"id": "evt-example", "eventSequence": 1, "timestamp": "2026-01-01T00:00:00.000Z",
                    "agent": "example-agent", "eventType": "EXAMPLE_EVENT", "payload": {"a": 1},
                    "payloadHash": "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862",
                    "evidenceHash": None, "prevHash": GENESIS,
                    "hash": "9ef8bbcfb7fd368006743307671c50dc182438d48b61b5ee4f60464a2ad3ea00"}


def test_body_when_payload_not_a_json_object_then_kept_as_its_text() -> None:
    for text in ("base64:AAEC", "[1,2]", '{"x":NaN}'):
        assert json.loads(mirror_body(record(payload=text)))["payload"] == text


@pytest.mark.parametrize("over", [{"timestamp": "yesterday"}, {"id": "a/b"}, {"id": ".."}, {"id": ""},
                                  {"id": "a\\b"}, {"sequence": 0}, {"sequence": 10**12}])
def test_key_when_field_cannot_name_a_file_then_refused(over: dict[str, object]) -> None:
    with pytest.raises(UnmirrorableRecord):
        mirror_key(record(**over))


@pytest.mark.parametrize("day,name", [("2026-1-01", "000000000001-x.json"), ("2026-01-01", "1-x.json"),
                                      ("2026-01-01", "000000000000-x.json"), ("2026-01-01", "000000000001-x.txt"),
                                      ("2026-01-01", "000000000001-.json"), ("notaday", "000000000001-x.json")])
def test_parse_key_when_not_the_layout_then_none(day: str, name: str) -> None:
    assert parse_key(day, name) is None


safe_text = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="|/\\"), min_size=1,
                    max_size=20).filter(lambda s: s not in (".", ".."))
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10)
                           | st.floats(allow_nan=False, allow_infinity=False),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                        max_size=3), max_leaves=8)


@given(id_=safe_text, agent=safe_text, payload=st.dictionaries(st.text(max_size=8), json_values, max_size=4),
       evidence=st.none() | st.text("0123456789abcdef", min_size=64, max_size=64),
       seq=st.integers(1, 10**12 - 1), day=st.dates(), prev=st.text("0123456789abcdef", min_size=64, max_size=64))
def test_body_when_any_record_then_reader_rebuilds_it_and_its_hashes(id_: str, agent: str, payload: dict[str, object],
                                                                     evidence: str | None, seq: int, day: object,
                                                                     prev: str) -> None:
    """What an auditor does with a file alone: read the record back, hash the payload's bytes as they stand
    in the file, recompute the record hash, and find the file under the name its fields give."""
    text = canonical_json(payload)
    stamp = f"{day}T12:00:00.000Z"
    h = record_hash(id_, stamp, agent, "E", payload_hash(text), evidence, prev)
    r = ChainRecord(seq, id_, stamp, agent, "E", text, payload_hash(text), evidence, prev, h)
    raw = mirror_body(r)
    body = json.loads(raw)
    start = raw.index(b'"payload":') + len(b'"payload":')
    end = raw.rindex(b',"payloadHash":')
    assert raw[start:end].decode() == text and payload_hash(raw[start:end].decode()) == body["payloadHash"]
    assert body["payload"] == payload
    assert record_hash(body["id"], body["timestamp"], body["agent"], body["eventType"], body["payloadHash"],
                       body["evidenceHash"], body["prevHash"]) == body["hash"] == h
    key = mirror_key(r)
    _, _, folder, name = key.split("/")
    assert parse_key(folder, name) is not None and parse_key(folder, name).sequence == seq  # type: ignore[union-attr]
    assert mirror_body(r) == raw  # same record, same bytes
