"""EvidenceRecord: one write-once event per fetch (api-and-security §4.6; ADR 0406)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.evidence import EMPTY_SHA256, InvalidEvidenceHash
from paulp.domain.evidence_records import EvidenceRecord, InvalidEvidenceRecord

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ARGS = {"fetch_id": 1, "evidence_hash": EMPTY_SHA256, "source": "kalshi_trade_api", "endpoint": "/markets",
        "method": "get", "params": None, "status": 200, "size": 0, "fetched_at": AT}

zones = st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))])


@given(fetch_id=st.integers(1, 2**62), digest=st.from_regex(r"\A[0-9a-f]{64}\Z"),
       source=st.text(min_size=1).filter(str.strip), endpoint=st.text(min_size=1).filter(str.strip),
       status=st.none() | st.integers(100, 599),
       size=st.integers(0, 2**40), params=st.none() | st.text(), at=st.datetimes(timezones=zones))
def test_record_when_stored_and_read_back_then_the_rebuilt_record_equals_the_recorded(
        fetch_id, digest, source, endpoint, status, size, params, at) -> None:
    # Arrange
    record = EvidenceRecord.record(fetch_id, digest, source, endpoint, "post", params, status, size, at)
    mapper = make_mapper()
    # Act: through the store's transcoder, as a restart would read it
    [event] = record.collect_events()
    rebuilt = mapper.to_domain_event(mapper.to_stored_event(event)).mutate(None)
    # Assert
    assert vars(rebuilt) == vars(record)
    assert rebuilt.method == "POST" and rebuilt.fetched_at == at
    assert record.id == EvidenceRecord.create_id(fetch_id, source, endpoint, digest, at)


def test_record_when_fetched_at_is_naive_then_invalid_evidence_record() -> None:
    with pytest.raises(InvalidEvidenceRecord):
        EvidenceRecord.record(**{**ARGS, "fetched_at": AT.replace(tzinfo=None)})


def test_record_when_size_negative_or_source_blank_then_invalid_evidence_record() -> None:
    with pytest.raises(InvalidEvidenceRecord):
        EvidenceRecord.record(**{**ARGS, "size": -1})
    with pytest.raises(InvalidEvidenceRecord):
        EvidenceRecord.record(**{**ARGS, "source": " "})


def test_record_when_hash_not_sha256_then_invalid_evidence_hash() -> None:
    with pytest.raises(InvalidEvidenceHash):
        EvidenceRecord.record(**{**ARGS, "evidence_hash": "ABC"})


def test_create_id_when_any_identifying_field_differs_then_another_stream() -> None:
    base = EvidenceRecord.create_id(1, "kalshi_trade_api", "/markets", EMPTY_SHA256, AT)
    assert base == EvidenceRecord.create_id(1, "kalshi_trade_api", "/markets", EMPTY_SHA256, AT)
    assert base != EvidenceRecord.create_id(2, "kalshi_trade_api", "/markets", EMPTY_SHA256, AT)
    assert base != EvidenceRecord.create_id(1, "kalshi_trade_api", "/markets", EMPTY_SHA256, AT + timedelta(seconds=1))


# One thing wrong with an otherwise valid fetch: refused before any event exists (a write-once record has no
# commands, so this and the round trip above are its whole state space).
WRONG = st.one_of(
    st.datetimes().map(lambda at: ("fetched_at", at)),
    st.integers(max_value=-1).map(lambda n: ("size", n)),
    st.sampled_from(["source", "endpoint", "method"]).flatmap(
        lambda f: st.text(alphabet=" \t\n\r", max_size=3).map(lambda blank: (f, blank))),
    st.one_of(st.from_regex(r"\A[0-9A-F]{64}\Z").filter(lambda h: h != h.lower()), st.text(max_size=63),
              st.from_regex(r"\A[0-9a-f]{65}\Z")).map(lambda h: ("evidence_hash", h)),
)


@given(wrong=WRONG, method=st.text(min_size=1, max_size=8).filter(str.strip))
def test_record_when_any_one_field_is_invalid_then_refused_and_else_the_method_is_upper_cased(
        wrong: tuple[str, object], method: str) -> None:
    # Act / Assert: the valid fetch with this method is recorded
    record = EvidenceRecord.record(**{**ARGS, "method": method})
    assert record.method == method.upper() and len(record.collect_events()) == 1
    # Act / Assert: the same fetch with one wrong field is refused
    with pytest.raises((InvalidEvidenceRecord, InvalidEvidenceHash)):
        EvidenceRecord.record(**{**ARGS, "method": method, wrong[0]: wrong[1]})
