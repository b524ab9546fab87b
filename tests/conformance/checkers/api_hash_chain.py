"""api.json::hash_chain — audit chain records, §5.2 verification and §5.3 anchors against paulp.domain."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from paulp.domain.audit import (
    GENESIS,
    ChainRecord,
    chain_gaps,
    last_good_state,
    payload_hash,
    record_hash,
    snapshot,
    verify_range,
)
from paulp.domain.audit_anchors import (
    Anchor,
    verify_anchor,
    verify_anchors,
    walk_from_anchor,
    walk_from_anchor_id,
)
from tests.conformance.registry import checker

# Prose keys that only restate the formulas; the chain records and scenarios exercise them.
_PROSE = {"record_hash", "payload_hash", "snapshot"}


def split(data: Any) -> Iterator[tuple[str, Any]]:
    if not isinstance(data, dict):
        yield "unrecognised", {"section": "unknown", "data": data}
        return
    for key, value in data.items():
        if key == "chain":
            for i, rec in enumerate(value):
                yield f"chain/{i:03d}-{rec.get('id')}", {"section": "chain", "data": rec, "index": i, "all": value}
        elif key == "scenarios":
            for i, sc in enumerate(value):
                yield f"scenarios/{i:03d}-{sc.get('name')}", {"section": "scenario", "data": sc}
        elif key == "genesis_prev_hash":
            yield key, {"section": "genesis", "data": value}
        elif key in _PROSE and isinstance(value, str):
            continue
        else:
            yield key, {"section": "unknown", "key": key, "data": value}


# §5.1's record fields (``sequence`` is ChainRecord's other spelling of ``event_sequence``); the mirror status
# fields are stored state no hash covers. Anything else is refused rather than left unread (ADR 0477).
_RECORD_KEYS = frozenset({
    "id", "event_sequence", "sequence", "timestamp", "agent", "event_type", "payload", "payload_hash",
    "evidence_hash", "prev_hash", "hash", "r2_synced", "r2_synced_at", "r2_key",
    "note", "description",  # commentary beside a record, as scenarios carry a description (ADR 0481)
})  # fmt: skip


def _check_chain_record(case: dict[str, Any]) -> None:
    raw = case["data"]
    assert isinstance(raw, dict), f"chain record must be an object, got {raw!r:.200}"
    unknown = set(raw) - _RECORD_KEYS
    assert not unknown, f"chain record {raw.get('id')!r}: fields this checker cannot interpret: {sorted(unknown)}"
    rec = ChainRecord.from_mapping(raw)
    i = case["index"]
    assert rec.sequence == i + 1, f"{rec.id}: event_sequence {rec.sequence}, expected {i + 1} (first = 1, contiguous)"
    assert payload_hash(rec.payload) == rec.payload_hash, f"payload hash of {rec.id}"
    expected = record_hash(
        rec.id, rec.timestamp, rec.agent, rec.event_type, rec.payload_hash, rec.evidence_hash, rec.prev_hash
    )
    assert expected == rec.hash, f"record hash of {rec.id}: computed {expected}, vector {rec.hash}"
    want_prev = GENESIS if i == 0 else case["all"][i - 1]["hash"]
    assert rec.prev_hash == want_prev, f"prev_hash of {rec.id} should chain to {want_prev}"


def _link_key(entry: dict[str, Any]) -> tuple[int, str]:
    return int(entry["sequence"]), str(entry.get("kind", ""))


def _compare_verify(actual: dict[str, Any], expected: dict[str, Any], name: str) -> None:
    for key, want in expected.items():
        if key == "brokenLinks":
            got = sorted(actual["brokenLinks"], key=_link_key)
            want_sorted = sorted(want, key=_link_key)
            assert [_link_key(e) for e in got] == [_link_key(e) for e in want_sorted], (
                f"{name}: (sequence, kind) pairs {got} != {want_sorted}"
            )
            for g, w in zip(got, want_sorted, strict=True):
                for field, value in w.items():
                    assert g.get(field) == value, f"{name}: brokenLinks[{field}] {g.get(field)!r} != {value!r}"
        else:
            assert key in actual, f"{name}: result has no {key!r}: {actual}"
            assert actual[key] == want, f"{name}: {key} = {actual[key]!r}, expected {want!r}"


def _compare_subset(actual: Any, expected: Any, where: str) -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        for key, want in expected.items():
            assert key in actual, f"{where}: missing {key!r} in {actual}"
            _compare_subset(actual[key], want, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{where}: {actual!r} != {expected!r}"
        for i, (a, w) in enumerate(zip(actual, expected, strict=True)):
            _compare_subset(a, w, f"{where}[{i}]")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def _run_scenario(sc: dict[str, Any]) -> None:
    name = sc.get("name", "?")
    records = [ChainRecord.from_mapping(e) for e in sc["events"]]
    fn, raw_args, expected = sc["fn"], sc.get("args") or [], sc["expected"]
    args = list(raw_args) if isinstance(raw_args, list) else [raw_args]
    if fn == "verify":
        result = verify_range(records, *_range_args(raw_args)).to_dict()
        _compare_verify(result, expected, name)
    elif fn == "gaps":
        assert chain_gaps(records) == expected, f"{name}: gaps {chain_gaps(records)} != {expected}"
    elif fn == "last_good":
        _compare_subset(last_good_state(records).to_dict(), expected, name)
    elif fn == "snapshot":
        n = int(args[0]) if args and args[0] is not None else max((r.sequence for r in records), default=0)
        _compare_subset(snapshot(records, n).to_dict(), expected, name)
    elif fn == "anchor":
        check = verify_anchor(records, Anchor.from_mapping(args[0])).to_dict()
        _compare_subset(check, expected, name)
        if "reason" not in expected:
            assert "reason" not in check, f"{name}: unexpected failure reason {check.get('reason')!r}"
    elif fn == "anchors":
        anchors = [Anchor.from_mapping(a) for a in (args[0] if args and isinstance(args[0], list) else args)]
        _compare_subset(verify_anchors(records, anchors).to_dict(), expected, name)
    elif fn == "walk":
        _compare_subset(_walk(sc, records, args).to_dict(), expected, name)
    else:
        raise AssertionError(f"{name}: unknown scenario fn {fn!r}")


def _range_args(args: Any) -> tuple[int, int | None]:
    """§5.2's bounds as ``[start, end]``, ``[start]``, ``[]`` or an object (``startSeq``/``endSeq`` as the admin
    endpoint's body, or ``start``/``end``); a missing or null bound is the default, 1 and the head."""
    if isinstance(args, dict):
        start, end = args.get("startSeq", args.get("start")), args.get("endSeq", args.get("end"))
        unknown = set(args) - {"startSeq", "start", "endSeq", "end"}
        assert not unknown, f"verify: cannot read range keys {sorted(unknown)}"
    elif len(args) == 1 and isinstance(args[0], dict):
        return _range_args(args[0])
    else:
        assert len(args) <= 2, f"verify: too many range bounds {args!r}"
        start, end = [*args, None, None][:2]
    return (1 if start is None else int(start)), (None if end is None else int(end))


def _walk(sc: dict[str, Any], records: list[ChainRecord], args: list[Any]) -> Any:
    """walk(anchor), or walk(anchors, anchor id) / walk(anchor id) with the scenario's ``anchors``: §5.3's
    walk starts from an anchor named by id, which can also be absent."""
    if args and isinstance(args[-1], str):
        listed = args[0] if len(args) > 1 and isinstance(args[0], list) else sc.get("anchors") or []
        return walk_from_anchor_id(records, [Anchor.from_mapping(a) for a in listed], args[-1])
    return walk_from_anchor(records, Anchor.from_mapping(args[0]))


def _expect_error(sc: dict[str, Any]) -> None:
    """A scenario whose ``expected`` is ``{"error": text}``: the function must refuse with exactly that text."""
    name, want = sc.get("name", "?"), sc["expected"]["error"]
    try:
        _run_scenario({**sc, "expected": {}})
    except (LookupError, ValueError) as exc:
        got = exc.args[0] if exc.args else str(exc)
        assert got == want, f"{name}: error {got!r} != {want!r}"
    else:
        raise AssertionError(f"{name}: expected the error {want!r}, got a result")


@checker("api.json", "hash_chain", split=split)
def check(case: dict[str, Any], ctx: Any) -> None:
    section = case["section"]
    if section == "chain":
        _check_chain_record(case)
    elif section == "scenario":
        expected = case["data"].get("expected")
        if isinstance(expected, dict) and set(expected) == {"error"}:
            _expect_error(case["data"])
        else:
            _run_scenario(case["data"])
    elif section == "genesis":
        assert case["data"] == GENESIS, f"genesis prev hash {case['data']!r} != {GENESIS!r}"
    else:
        raise AssertionError(f"hash_chain: cannot interpret section {case.get('key')!r}: {case['data']!r:.200}")
