"""The sources registry's rules (api-and-security §4.8; ADR 0432): deterministic ids, the evidence a source rests
on, lineage traced breadth-first and cycle-safe, no FACT claim without an evidence pointer, and a citation's
status machine (active ⇄ unverified → expired / retracted) rebuilt identically from its events."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.citation_keys import ClaimKey, claim_key
from paulp.domain.sources import (
    Citation,
    CitationStatus,
    InvalidSource,
    Source,
    citation_id,
    citation_number,
    computed_evidence_hash,
    source_id,
    trace_lineage,
)
from tests.support.hypothesis_scale import examples, steps

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
H1, H2 = "1" * 64, "2" * 64


def _source(**over: Any) -> Source:
    fields: dict[str, Any] = {"source_type": "api_response", "url": "https://api.elections.kalshi.com/x",
                              "vendor": "kalshi", "quality": "primary", "fetched_at": T0, "actor": "ops",
                              "evidence_hash": H1}
    return Source.register(**(fields | over))


def test_source_id_is_sha256_derived_and_the_same_for_the_same_fetch() -> None:
    a, b = _source(), _source()
    assert a.source_id == b.source_id == source_id("api_response", "kalshi", "https://api.elections.kalshi.com/x", T0)
    assert a.source_id.startswith("src-") and len(a.source_id) == 36
    assert _source(fetched_at=T0 + timedelta(seconds=1)).source_id != a.source_id
    assert a.id == Source.create_id(a.source_id)


def test_evidence_is_the_blob_else_the_parents_else_url_and_time() -> None:
    parent = _source()
    computed = _source(source_type="computed", evidence_hash=None, lineage=[parent.source_id], url="calc:edge")
    assert (computed.evidence_hash, computed.blob_stored) == (computed_evidence_hash([parent.source_id]), False)
    assert computed.evidence_hash == hashlib.sha256(parent.source_id.encode()).hexdigest()
    manual = _source(source_type="manual_entry", evidence_hash=None, url="note://desk")
    assert manual.evidence_hash == hashlib.sha256(b"note://desk:2026-11-27T09:00:00.000Z").hexdigest()
    assert _source().blob_stored


@pytest.mark.parametrize("over", [
    {"source_type": "rss"}, {"quality": "raw"}, {"url": " "}, {"vendor": ""}, {"actor": None},
    {"evidence_hash": "ABC"}, {"fetched_at": datetime(2026, 1, 1)}, {"ttl_seconds": 0}, {"ttl_seconds": True},
    {"ttl_seconds": 1.5}, {"lineage": ["src-x"]}, {"lineage": ["src-" + "a" * 32] * 2},
    {"source_type": "computed", "evidence_hash": None},
    {"ttl_seconds": 10**26}, {"metadata": {"a": float("inf")}}, {"metadata": {"a": "\ud800"}},  # ADR 0499
])
def test_register_refuses_bad_input(over: dict[str, Any]) -> None:
    with pytest.raises(InvalidSource):
        _source(**over)


def test_ttl_sets_expiry_and_expire_is_once() -> None:
    s = _source(ttl_seconds=60)
    assert s.expires_at == T0 + timedelta(seconds=60)
    assert not s.due_to_expire(T0 + timedelta(seconds=59)) and s.due_to_expire(T0 + timedelta(seconds=60))
    assert s.expire("ttl", T0 + timedelta(minutes=2)) and not s.expire("again", T0 + timedelta(minutes=3))
    assert not s.due_to_expire(T0 + timedelta(days=1))


@given(st.dictionaries(st.sampled_from("abcdefghijkl"), st.lists(st.sampled_from("abcdefghijklm"), max_size=3),
                       max_size=12), st.sampled_from("abcdefghijkl"), st.integers(1, 12))
def test_trace_is_breadth_first_each_once_bounded_and_ends_on_cycles(graph: dict[str, list[str]], start: str,
                                                                    limit: int) -> None:
    out = trace_lineage(start, graph.get, limit)
    assert out[0] == start and len(out) == len(set(out)) <= limit
    reachable = {start}
    frontier = [start]
    while frontier:
        frontier = [p for n in frontier for p in graph.get(n, []) if p not in reachable]
        reachable.update(frontier)
    assert set(out) <= reachable
    assert len(out) == min(limit, len(reachable))


def _citation(**over: Any) -> Citation:
    fields: dict[str, Any] = {"number": 7, "claim": "NYC high on Nov 27 was 48F", "source_type": "api_response",
                              "retrieved_at": T0, "actor": "ops", "evidence_hash": H1}
    return Citation.record(**(fields | over))


def test_no_fact_without_an_evidence_pointer() -> None:
    with pytest.raises(InvalidSource, match="evidence pointer"):
        _citation(evidence_hash=None)
    with pytest.raises(InvalidSource, match="input evidence hashes"):
        _citation(source_type="computation", evidence_hash=None, input_evidence_hashes=[H1])
    c = _citation(source_type="computation", evidence_hash=None, input_evidence_hashes=[H1, H2],
                  computation_code_ref="paulp.domain.clv@abc123")
    assert c.evidence == [H1, H2] and c.citation_id == "SR-007" == citation_id(7)
    assert citation_number("SR-1234") == 1234
    for bad in ("SR-7", "sr-007", "SR-007x"):
        with pytest.raises(InvalidSource):
            citation_number(bad)


def test_claim_key_when_same_claim_and_evidence_then_same_key_else_another() -> None:
    # Arrange: a blob citation and a computation, keyed as the service keys them (ADR 0527)
    blob = claim_key("NYC high was 48F", H1, [], None)
    computed = claim_key("NYC range was 9F", None, [H1, H2], "weather.range@1")
    # Act / Assert: the inputs in another order (or named twice) are the same evidence; any other field is not
    assert claim_key("NYC high was 48F", H1, [], None) == blob
    assert claim_key("NYC range was 9F", None, [H2, H1, H2], "weather.range@1") == computed
    others = {claim_key("NYC high was 48 F", H1, [], None), claim_key("NYC high was 48F", H2, [], None),
              claim_key("NYC range was 9F", None, [H1], "weather.range@1"),
              claim_key("NYC range was 9F", None, [H1, H2], "weather.range@2"), blob, computed}
    assert len(others) == 6


def test_claim_key_aggregate_when_cited_again_then_points_at_the_new_citation_and_replays() -> None:
    key = claim_key("NYC high was 48F", H1, [], None)
    index = ClaimKey(key, "SR-001")
    index.cite("SR-004")
    mapper = make_mapper()
    rebuilt = None
    for ev in [mapper.to_domain_event(mapper.to_stored_event(e)) for e in index.collect_events()]:
        rebuilt = ev.mutate(rebuilt)
    assert isinstance(rebuilt, ClaimKey) and (rebuilt.id, rebuilt.citation_id) == (ClaimKey.create_id(key), "SR-004")


class CitationMachine(RuleBasedStateMachine):
    """Random verify/retract/expire sequences: the status is always one of the four, closed is final, a refused
    command records nothing, and the events rebuild the same citation."""

    def __init__(self) -> None:
        super().__init__()
        self.c = _citation(auto_reverify_days=30)
        self.events = list(self.c.collect_events())
        self.now = T0
        self.closed = False

    def _apply(self, command: Any) -> None:
        before = self.c.status
        try:
            command()
        except InvalidSource:
            assert self.closed and self.c.status == before
        self.events += self.c.collect_events()
        self.now += timedelta(days=1)

    @rule(ok=st.booleans())
    def verify(self, ok: bool) -> None:
        self._apply(lambda: self.c.verify([] if ok else [H1], "ops", self.now))

    @rule()
    def retract(self) -> None:
        self._apply(lambda: self.c.retract("wrong", "ops", self.now))
        self.closed = True

    @rule()
    def expire(self) -> None:
        self._apply(lambda: self.c.expire("stale", "ops", self.now))
        self.closed = True

    @invariant()
    def legal_and_replayable(self) -> None:
        assert self.c.status in {s.value for s in CitationStatus}
        assert self.closed == (self.c.status in ("retracted", "expired"))
        mapper = make_mapper()
        rebuilt = None
        for e in [mapper.to_domain_event(mapper.to_stored_event(ev)) for ev in self.events]:
            rebuilt = e.mutate(rebuilt)
        assert rebuilt is not None
        assert (rebuilt.status, rebuilt.verified_current_at, rebuilt.version) == (
            self.c.status, self.c.verified_current_at, self.c.version)


TestCitationMachine = CitationMachine.TestCase
TestCitationMachine.settings = settings(max_examples=examples(40), stateful_step_count=steps(12), deadline=None)
