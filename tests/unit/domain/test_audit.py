"""Audit chain: v1 hashes, §5.2 verification, §5.3 anchors and walks."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from paulp.domain.audit import (
    EMPTY_SNAPSHOT,
    GENESIS,
    ChainRecord,
    ChainTimestampRegressed,
    InvalidChainField,
    RangeWalk,
    append_record,
    chain_gaps,
    last_good_state,
    payload_hash,
    record_hash,
    snapshot,
    verify_range,
)
from paulp.domain.audit_anchors import (
    Anchor,
    AnchorEventMissing,
    AnchorNotFound,
    Link,
    anchor_for,
    anchor_for_ordered,
    verify_anchor,
    verify_anchors,
    verify_anchors_and_pin,
    verify_anchors_ordered,
    walk_from_anchor,
    walk_from_anchor_id,
)
from tests.support.hypothesis_scale import examples, steps

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _ts(i: int) -> str:
    return (T0 + timedelta(seconds=i)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_chain(n: int) -> list[ChainRecord]:
    records: list[ChainRecord] = []
    for i in range(n):
        prev = records[-1] if records else None
        evidence = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" if i % 3 == 2 else None
        records.append(
            append_record(
                prev, id=f"evt-{i + 1}", timestamp=_ts(i), agent="kalshi-exec", event_type="ORDER_UPDATE",
                payload=f'{{"n":{i}}}', evidence_hash=evidence,
            )
        )  # fmt: skip
    return records


def rehash_from(records: list[ChainRecord], index: int) -> list[ChainRecord]:
    """Rewrite records[index:] so they are internally consistent again (an attacker's suffix rewrite)."""
    out = records[:index]
    for rec in records[index:]:
        prev_hash = out[-1].hash if out else GENESIS
        p_hash = payload_hash(rec.payload)
        h = record_hash(rec.id, rec.timestamp, rec.agent, rec.event_type, p_hash, rec.evidence_hash, prev_hash)
        out.append(dataclasses.replace(rec, payload_hash=p_hash, prev_hash=prev_hash, hash=h))
    return out


def kinds(records: list[ChainRecord], start: int = 1, end: int | None = None) -> list[tuple[int, str]]:
    return [(b.sequence, b.kind) for b in verify_range(records, start, end).broken_links]


# --- hashes ---------------------------------------------------------------------------------


def test_record_hash_when_spec_worked_example_then_matches_published_digest() -> None:
    p_hash = payload_hash('{"a":1}')
    h = record_hash("evt-example", "2026-01-01T00:00:00.000Z", "example-agent", "EXAMPLE_EVENT", p_hash, None, GENESIS)
    assert p_hash == "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862"
    assert h == "9ef8bbcfb7fd368006743307671c50dc182438d48b61b5ee4f60464a2ad3ea00"


def test_append_record_when_agent_holds_bar_then_raises_invalid_chain_field() -> None:
    with pytest.raises(InvalidChainField) as err:
        append_record(None, id="e1", timestamp=_ts(0), agent="a|b", event_type="X", payload="{}")
    assert err.value.code == "INVALID_CHAIN_FIELD"


@pytest.mark.parametrize("agent", ["a\x85b", "a\x9fb", "a\x80", "\x7f"])
def test_append_record_when_agent_holds_c1_control_or_del_then_raises(agent: str) -> None:
    """§5.5 refuses control characters: Unicode Cc is C0, DEL and C1 (NEL U+0085 is one)."""
    with pytest.raises(InvalidChainField):
        append_record(None, id="e1", timestamp=_ts(0), agent=agent, event_type="X", payload="{}")


def test_append_record_when_agent_holds_non_control_unicode_then_accepted() -> None:
    rec = append_record(None, id="e1", timestamp=_ts(0), agent="agent-\u00e9\u00a0\u2028", event_type="X", payload="{}")
    assert rec.agent == "agent-\u00e9\u00a0\u2028"


def test_append_record_when_timestamp_goes_backwards_then_raises() -> None:
    first = append_record(None, id="e1", timestamp=_ts(5), agent="a", event_type="X", payload="{}")
    with pytest.raises(ChainTimestampRegressed):
        append_record(first, id="e2", timestamp=_ts(4), agent="a", event_type="X", payload="{}")


def test_append_record_when_chained_then_links_and_sequences_follow() -> None:
    chain = make_chain(3)
    assert [r.sequence for r in chain] == [1, 2, 3]
    assert chain[0].prev_hash == GENESIS
    assert chain[2].prev_hash == chain[1].hash


# --- §5.2 verify ------------------------------------------------------------------------------


def test_verify_range_when_chain_untouched_then_valid_with_counts() -> None:
    result = verify_range(make_chain(5), 1, 5)
    assert result.to_dict() == {
        "valid": True, "gaps": [], "brokenLinks": [], "eventsChecked": 5, "firstSequence": 1, "lastSequence": 5,
    }  # fmt: skip


def test_verify_range_when_range_empty_then_valid_with_requested_bounds() -> None:
    result = verify_range(make_chain(3), 10, 20)
    assert (result.valid, result.events_checked, result.first_sequence, result.last_sequence) == (True, 0, 10, 20)


def test_verify_range_when_no_end_then_runs_to_head() -> None:
    assert verify_range(make_chain(4)).last_sequence == 4


def test_verify_range_when_subrange_then_first_record_not_link_checked() -> None:
    chain = make_chain(5)
    assert verify_range(chain, 3, 5).valid


def test_verify_range_when_record_deleted_then_reports_gap_and_link() -> None:
    chain = make_chain(5)
    del chain[2]
    result = verify_range(chain, 1, 5)
    assert result.gaps == (3,)
    assert kinds(chain) == [(4, "link")]
    assert not result.valid


def test_verify_range_when_payload_edited_then_one_payload_entry_with_prefixed_hashes() -> None:
    chain = make_chain(3)
    chain[1] = dataclasses.replace(chain[1], payload='{"n":99}')
    [entry] = verify_range(chain).broken_links
    assert (entry.sequence, entry.kind, entry.event_id) == (2, "payload", "evt-2")
    assert entry.expected_prev_hash == f"payload_hash:{payload_hash(chain[1].payload)}"
    assert entry.actual_prev_hash == f"payload_hash:{chain[1].payload_hash}"


def test_verify_range_when_stored_hash_overwritten_then_hash_entry_and_next_link() -> None:
    chain = make_chain(4)
    chain[1] = dataclasses.replace(chain[1], hash="tampered")
    result = verify_range(chain).to_dict()
    assert [(e["sequence"], e["kind"]) for e in result["brokenLinks"]] == [(2, "hash"), (3, "link")]
    assert result["brokenLinks"][0]["actualPrevHash"] == "stored_hash:tampered"
    assert result["brokenLinks"][1]["expectedPrevHash"] == "tampered"


def test_verify_range_when_suffix_rewritten_consistently_then_valid_but_anchor_catches_it() -> None:
    chain = make_chain(5)
    anchor = anchor_for(chain, "anchor-1", 1)
    rewritten = rehash_from([*chain[:1], dataclasses.replace(chain[1], agent="evil"), *chain[2:]], 1)
    assert verify_range(rewritten).valid
    check = verify_anchor(rewritten, anchor)
    assert not check.valid
    assert check.reason == f"Hash mismatch: expected {chain[-1].hash}, got {rewritten[-1].hash}"


# --- whole-chain checks -------------------------------------------------------------------------


def test_chain_gaps_when_middle_missing_then_lists_each_missing_sequence() -> None:
    chain = make_chain(6)
    assert chain_gaps([chain[0], chain[3], chain[5]]) == [2, 3, 5]
    assert chain_gaps([]) == []


def test_last_good_state_when_record_three_tampered_then_stops_at_two() -> None:
    chain = make_chain(5)
    chain[2] = dataclasses.replace(chain[2], event_type="OTHER")
    assert last_good_state(chain).to_dict() == {"sequence": 2, "hash": chain[1].hash}


def test_last_good_state_when_chain_does_not_start_at_one_then_genesis() -> None:
    assert last_good_state(make_chain(3)[1:]).to_dict() == {"sequence": 0, "hash": GENESIS}


def test_snapshot_when_n_covers_part_then_hashes_concatenated_stored_hashes() -> None:
    import hashlib

    chain = make_chain(4)
    snap = snapshot(chain, 2, computed_at="2026-03-01T13:00:00.000Z")
    assert snap.hash == hashlib.sha256((chain[0].hash + chain[1].hash).encode()).hexdigest()
    assert (snap.count, snap.first_sequence, snap.last_sequence) == (2, 1, 2)
    assert snap.to_dict()["computedAt"] == "2026-03-01T13:00:00.000Z"


def test_snapshot_when_no_records_then_empty_chain() -> None:
    assert snapshot([], 5).to_dict()["hash"] == EMPTY_SNAPSHOT
    assert snapshot([], 5).count == 0


# --- §5.3 anchors --------------------------------------------------------------------------------


def test_verify_anchor_when_chain_grew_after_anchor_then_valid() -> None:
    chain = make_chain(6)
    anchor = anchor_for(chain[:3], "a1", 1)
    assert verify_anchor(chain, anchor).valid


def test_verify_anchor_when_early_record_deleted_then_length_mismatch() -> None:
    chain = make_chain(4)
    anchor = anchor_for(chain, "a1", 1)
    check = verify_anchor([chain[0], *chain[2:]], anchor)
    assert check.reason == "Chain length mismatch: expected 4, got 3"


def test_verify_anchor_when_last_event_gone_then_not_found_reason() -> None:
    chain = make_chain(3)
    check = verify_anchor(chain[:2], anchor_for(chain, "a1", 1))
    assert check.to_dict() == {"id": "a1", "valid": False, "reason": "Last event not found: evt-3"}


def test_verify_anchor_when_earlier_hash_replaced_then_snapshot_mismatch() -> None:
    chain = make_chain(3)
    anchor = anchor_for(chain, "a1", 1)
    tampered = [dataclasses.replace(chain[0], hash="x"), *chain[1:]]
    check = verify_anchor(tampered, anchor)
    assert check.reason is not None and check.reason.startswith("Snapshot mismatch")


def test_verify_anchor_when_empty_chain_anchored_then_valid() -> None:
    anchor = anchor_for([], "a0", 1)
    assert (anchor.chain_head_hash, anchor.chain_length) == (GENESIS, 0)
    assert verify_anchor(make_chain(2), anchor).valid


def test_verify_anchors_when_one_bad_then_counts_in_anchor_sequence_order() -> None:
    chain = make_chain(4)
    good = anchor_for(chain[:2], "a-good", 1)
    bad = dataclasses.replace(anchor_for(chain, "a-bad", 2), chain_head_hash="wrong")
    result = verify_anchors(chain, [bad, good]).to_dict()
    assert (result["verified"], result["failed"]) == (1, 1)
    assert [a["id"] for a in result["anchors"]] == ["a-good", "a-bad"]


def test_walk_from_anchor_when_intact_then_counts_later_records_and_ends_at_head() -> None:
    chain = make_chain(5)
    result = walk_from_anchor(chain, anchor_for(chain[:2], "a1", 1))
    assert (result.verified, result.errors, result.last_verified_sequence) == (3, (), 5)
    assert result.last_verified_hash == chain[-1].hash


def test_walk_from_anchor_when_head_mismatch_then_zero_and_genesis() -> None:
    chain = make_chain(3)
    anchor = Anchor("a1", "wrong", 3, "evt-3", 1)
    result = walk_from_anchor(chain, anchor).to_dict()
    assert result["verified"] == 0 and result["lastVerifiedHash"] == GENESIS
    assert [(e["type"], e["sequence"], e["eventId"]) for e in result["errors"]] == [("hash_mismatch", 3, "evt-3")]


def test_walk_from_anchor_when_later_record_missing_and_payload_edited_then_reports_both() -> None:
    chain = make_chain(6)
    anchor = anchor_for(chain[:2], "a1", 1)
    damaged = [*chain[:3], dataclasses.replace(chain[4], payload="{}"), chain[5]]
    types = [(e.type, e.sequence) for e in walk_from_anchor(damaged, anchor).errors]
    assert types == [("gap", 5), ("hash_mismatch", 5), ("payload_mismatch", 5)]


def test_walk_from_anchor_id_when_unknown_then_raises_anchor_not_found() -> None:
    with pytest.raises(AnchorNotFound, match="Anchor not found: nope"):
        walk_from_anchor_id(make_chain(2), [], "nope")


def test_walk_from_anchor_when_last_event_missing_then_raises() -> None:
    chain = make_chain(3)
    with pytest.raises(AnchorEventMissing, match="Anchor's last event not found: evt-3"):
        walk_from_anchor(chain[:2], anchor_for(chain, "a1", 1))


# --- properties ------------------------------------------------------------------------------------

_safe_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="|"), min_size=1, max_size=12
)
_hex = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
_FIELDS = ("id", "timestamp", "agent", "event_type", "payload", "payload_hash", "evidence_hash", "prev_hash", "hash")


@st.composite
def chains(draw: st.DrawFn) -> list[ChainRecord]:
    n = draw(st.integers(min_value=1, max_value=8))
    records: list[ChainRecord] = []
    for i in range(n):
        records.append(
            append_record(
                records[-1] if records else None, id=draw(_safe_text), timestamp=_ts(i), agent=draw(_safe_text),
                event_type=draw(_safe_text), payload=draw(st.text(max_size=30)),
                evidence_hash=draw(st.none() | _hex),
            )
        )  # fmt: skip
    return records


@given(chain=chains(), data=st.data())
def test_verify_range_when_any_single_field_tampered_then_detected_at_that_sequence(
    chain: list[ChainRecord], data: st.DataObject
) -> None:
    # Arrange
    k = data.draw(st.integers(min_value=0, max_value=len(chain) - 1))
    field = data.draw(st.sampled_from(_FIELDS))
    old = getattr(chain[k], field)
    new = data.draw(_hex if field in ("evidence_hash", "payload_hash", "prev_hash", "hash") else st.text(max_size=20))
    assume((new or "") != (old or ""))
    changes: dict[str, Any] = {field: new}
    tampered = [*chain[:k], dataclasses.replace(chain[k], **changes), *chain[k + 1 :]]
    # Act
    result = verify_range(tampered)
    # Assert
    seqs = [b.sequence for b in result.broken_links]
    assert not result.valid
    assert min(seqs) == k + 1
    if field == "hash":
        assert set(seqs) <= {k + 1, k + 2}
    else:
        assert set(seqs) == {k + 1}
    if field != "payload":
        assert last_good_state(tampered).sequence == k


@given(chain=chains())
def test_verify_range_when_chain_built_by_append_then_valid_and_anchor_holds(chain: list[ChainRecord]) -> None:
    anchor = anchor_for(chain, "a", 1)
    assert verify_range(chain).valid
    assert last_good_state(chain).sequence == len(chain)
    assert verify_anchor(chain, anchor).valid
    assert walk_from_anchor(chain, anchor).errors == ()


@given(chain=chains(), data=st.data())
def test_verify_anchor_when_anchored_prefix_rewritten_consistently_then_invalid(
    chain: list[ChainRecord], data: st.DataObject
) -> None:
    anchor = anchor_for(chain, "a", 1)
    k = data.draw(st.integers(min_value=0, max_value=len(chain) - 1))
    new_agent = data.draw(_safe_text.filter(lambda a: a != chain[k].agent))
    rewritten = rehash_from([*chain[:k], dataclasses.replace(chain[k], agent=new_agent), *chain[k + 1 :]], k)
    assert verify_range(rewritten).valid
    assert not verify_anchor(rewritten, anchor).valid


class ChainMachine(RuleBasedStateMachine):
    """Random appends and tampers: verification flags exactly when, and from where, the chain was touched."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[ChainRecord] = []
        self.first_tampered: int | None = None

    @rule(payload=st.text(max_size=10), agent=_safe_text)
    def append(self, payload: str, agent: str) -> None:
        prev = self.records[-1] if self.records else None
        n = len(self.records)
        self.records.append(
            append_record(prev, id=f"evt-{n + 1}", timestamp=_ts(n), agent=agent, event_type="E", payload=payload)
        )

    @precondition(lambda self: bool(self.records))
    @rule(data=st.data())
    def tamper_event_type(self, data: st.DataObject) -> None:
        k = data.draw(st.integers(min_value=0, max_value=len(self.records) - 1))
        rec = self.records[k]
        self.records[k] = dataclasses.replace(rec, event_type=rec.event_type + "X")
        self.first_tampered = k + 1 if self.first_tampered is None else min(self.first_tampered, k + 1)

    @invariant()
    def verification_matches_history(self) -> None:
        result = verify_range(self.records)
        assert result.valid is (self.first_tampered is None)
        assert result.events_checked == len(self.records)
        if self.first_tampered is not None:
            assert min(b.sequence for b in result.broken_links) == self.first_tampered
            assert last_good_state(self.records).sequence == self.first_tampered - 1
        else:
            assert last_good_state(self.records).sequence == len(self.records)


ChainMachine.TestCase.settings = settings(max_examples=examples(50), stateful_step_count=steps(20))
TestChainMachine = ChainMachine.TestCase


# --- one pass over the chain (what the anchor job and the verify endpoint stream) -----------------------


def _reference_check(records: list[ChainRecord], anchor: Anchor) -> tuple[bool, str | None]:
    """§5.3 read literally, one anchor at a time over the whole chain: the oracle of the one-pass checker."""
    ordered = sorted(records, key=lambda r: r.sequence)
    if anchor.last_event_id is None and anchor.chain_length == 0:
        last_hash: str | None = GENESIS
    else:
        named = [r for r in ordered if r.id == anchor.last_event_id]
        candidates = [r for r in named if r.sequence == anchor.chain_length] or named
        if not candidates:
            return False, f"Last event not found: {anchor.last_event_id}"
        last_hash = candidates[0].hash
    if last_hash != anchor.chain_head_hash:
        return False, f"Hash mismatch: expected {anchor.chain_head_hash}, got {last_hash}"
    count = sum(1 for r in ordered if r.sequence <= anchor.chain_length)
    if count != anchor.chain_length:
        return False, f"Chain length mismatch: expected {anchor.chain_length}, got {count}"
    actual = snapshot(ordered, anchor.chain_length).hash
    if anchor.snapshot_hash is not None and actual != anchor.snapshot_hash:
        return False, f"Snapshot mismatch: expected {anchor.snapshot_hash}, got {actual}"
    return True, None


@st.composite
def anchored_histories(draw: st.DrawFn) -> tuple[list[ChainRecord], list[Anchor]]:
    """A chain anchored at several moments (hourly anchors), then tampered in one of several ways."""
    chain = make_chain(draw(st.integers(min_value=0, max_value=12)))
    cuts = draw(st.lists(st.integers(min_value=0, max_value=len(chain)), max_size=5))
    anchors = [anchor_for(chain[:cut], f"a{i}", i + 1) for i, cut in enumerate(cuts)]
    anchors = [dataclasses.replace(a, snapshot_hash=None) if draw(st.booleans()) else a for a in anchors]
    if chain:
        k = draw(st.integers(min_value=0, max_value=len(chain) - 1))
        how = draw(st.sampled_from(["none", "delete", "renumber", "rehash_suffix", "overwrite_hash", "duplicate_id"]))
        if how == "delete":
            chain = chain[:k] + chain[k + 1:]
        elif how == "renumber":  # a deleted record hidden by shifting every later sequence down by one
            chain = [*chain[:k], *(dataclasses.replace(r, sequence=r.sequence - 1) for r in chain[k + 1:])]
        elif how == "rehash_suffix":
            chain = rehash_from([*chain[:k], dataclasses.replace(chain[k], payload='{"forged":1}'), *chain[k + 1:]], k)
        elif how == "overwrite_hash":
            chain = [*chain[:k], dataclasses.replace(chain[k], hash="0" * 64), *chain[k + 1:]]
        elif how == "duplicate_id" and k + 1 < len(chain):
            chain = [*chain[:k + 1], dataclasses.replace(chain[k + 1], id=chain[k].id), *chain[k + 2:]]
    return chain, anchors


@given(history=anchored_histories())
@settings(max_examples=examples(300))
def test_verify_anchors_when_one_pass_then_same_verdicts_as_checking_each_anchor_alone(
    history: tuple[list[ChainRecord], list[Anchor]],
) -> None:
    chain, anchors = history
    result = verify_anchors(chain, anchors)
    expected = [_reference_check(chain, a) for a in sorted(anchors, key=lambda a: a.anchor_sequence)]
    assert [(c.valid, c.reason) for c in result.anchors] == expected
    assert result.failed == sum(1 for ok, _ in expected if not ok)


@given(chain=chains())
def test_anchor_for_when_given_links_only_then_same_anchor_as_from_full_records(chain: list[ChainRecord]) -> None:
    links = [Link(r.sequence, r.id, r.hash) for r in chain]
    assert anchor_for_ordered(links, "a", 1) == anchor_for(chain, "a", 1)
    assert anchor_for(chain, "a", 1).snapshot_hash == snapshot(chain, len(chain)).hash


@given(history=anchored_histories())
@settings(max_examples=examples(300))
def test_verify_and_pin_when_one_pass_then_the_separate_check_and_the_separate_anchor(
    history: tuple[list[ChainRecord], list[Anchor]],
) -> None:
    """The hourly job's single pass (ADR 0509) gives what checking the anchors and pinning a new one give apart,
    over intact and tampered chains alike."""
    chain, anchors = history
    links = [Link(r.sequence, r.id, r.hash) for r in sorted(chain, key=lambda r: r.sequence)]
    result, pinned = verify_anchors_and_pin(links, anchors, "new")
    assert result == verify_anchors_ordered(links, anchors)
    assert pinned == anchor_for_ordered(links, "new", 0)


def test_one_pass_checkers_when_links_out_of_order_then_refuse_instead_of_misjudging() -> None:
    chain = make_chain(3)
    swapped = [chain[1], chain[0], chain[2]]
    with pytest.raises(ValueError, match="out of sequence order"):
        verify_anchors_ordered(swapped, [anchor_for(chain, "a", 1)])
    with pytest.raises(ValueError, match="out of sequence order"):
        anchor_for_ordered(swapped, "a", 1)
    with pytest.raises(ValueError, match="out of sequence order"):
        verify_anchors_and_pin(swapped, [], "a")
    walk = RangeWalk()
    walk.feed(chain[1])
    with pytest.raises(ValueError, match="out of sequence order"):
        walk.feed(chain[0])


@given(chain=chains(), data=st.data())
def test_range_walk_when_fed_in_order_then_same_result_as_verify_range(chain: list[ChainRecord],
                                                                       data: st.DataObject) -> None:
    if len(chain) > 1 and data.draw(st.booleans()):
        k = data.draw(st.integers(min_value=0, max_value=len(chain) - 1))
        chain = chain[:k] + chain[k + 1:]  # a deleted record: gaps and a broken link
    start = data.draw(st.integers(min_value=1, max_value=9))
    end = data.draw(st.none() | st.integers(min_value=start, max_value=10))
    walk = RangeWalk(start, end if end is not None else (chain[-1].sequence if chain else 0))
    for rec in chain:
        walk.feed(rec)
    assert walk.result() == verify_range(chain, start, end)
