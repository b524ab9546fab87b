"""api.json::evidence — body hashes (through the real blob store) and the derived ids of §4.7."""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from paulp.adapters.evidence_store import EvidenceStore
from paulp.domain.canonical import NonCanonicalValue, canonical_json, canonical_json_of_parsed
from paulp.domain.evidence import (
    canonical_market_id,
    evidence_key,
    idempotency_key,
    legacy_evidence_key,
    legacy_short_id,
    position_id,
    sha256_hex,
)
from tests.conformance.registry import checker


def split(data: Any) -> Iterator[tuple[str, Any]]:
    if not isinstance(data, dict):
        yield "unrecognised", {"section": "unknown", "data": data}
        return
    for key, value in data.items():
        if isinstance(value, list):
            for i, item in enumerate(value):
                label = item.get("kind") or item.get("id") if isinstance(item, dict) else None
                yield f"{key}/{i:03d}" + (f"-{label}" if label else ""), {"section": key, "data": item}
        else:
            yield key, {"section": key, "data": value}


def _body(case: Mapping[str, Any]) -> bytes:
    if "bytes_utf8" in case:
        return str(case["bytes_utf8"]).encode("utf-8")
    if "bytes_hex" in case:
        return bytes.fromhex(case["bytes_hex"])
    if "bytes_base64" in case:
        return base64.b64decode(case["bytes_base64"], validate=True)
    raise AssertionError(f"no body bytes in case {case!r:.200}")


def _check_sha256(case: Mapping[str, Any]) -> None:
    body = _body(case)
    assert sha256_hex(body) == case["hash"], f"sha256 {sha256_hex(body)} != {case['hash']}"
    with tempfile.TemporaryDirectory() as root:
        store = EvidenceStore(root)
        stored = store.put(body)  # stored before any parsing, whatever the bytes are
        assert stored.evidence_hash == case["hash"], "store named the blob differently"
        assert store.get(case["hash"]) == body, "stored blob does not read back byte-identical"


def _pick(inputs: Any, names: Sequence[str], index: int) -> Any:
    if isinstance(inputs, Mapping):
        for n in names:
            if n in inputs:
                return inputs[n]
        raise AssertionError(f"inputs {inputs!r} lack any of {names}")
    return inputs[index]


# Reference FNV ids whose prefix the kind names (api-and-security §5.1 `evt-`, §4.8 `src-`).
_PREFIXED = {"event_id": "evt", "source_id": "src"}


def _derive(kind: str, inputs: Any) -> str:
    if kind == "idempotency_key":
        if isinstance(inputs, Mapping):
            return idempotency_key(inputs["operation"], *inputs.get("args", []))
        return idempotency_key(inputs[0], *inputs[1:])
    if kind == "position_id":
        return position_id(
            _pick(inputs, ("wallet", "walletAddress", "wallet_address"), 0),
            _pick(inputs, ("conditionId", "condition_id"), 1),
            _pick(inputs, ("side", "outcome"), 2),
        )
    if kind == "canonical_market_id":
        return canonical_market_id(
            _pick(inputs, ("canonicalEventId", "canonical_event_id"), 0),
            _pick(inputs, ("venue",), 1),
            _pick(inputs, ("venueMarketId", "venue_market_id"), 2),
        )
    if kind in ("short_id", "legacy_short_id", "fnv_short_id", "legacy_id", "fnv_id"):
        if isinstance(inputs, Mapping):
            return legacy_short_id(inputs["prefix"], inputs["parts"])
        return legacy_short_id(inputs[0], inputs[1:])
    if kind in _PREFIXED and not isinstance(inputs, Mapping):
        return legacy_short_id(_PREFIXED[kind], inputs)  # the parts alone: §5.1 event ids, §4.8 source ids
    if kind in ("evidence_key", "object_key"):
        return evidence_key(_pick(inputs, ("evidence_hash", "evidenceHash", "hash"), 0))
    if kind == "legacy_evidence_key":
        return legacy_evidence_key(
            _pick(inputs, ("source",), 0),
            _pick(inputs, ("fetched_at", "fetchedAt"), 1),
            _pick(inputs, ("evidence_hash", "evidenceHash", "hash"), 2),
        )
    raise AssertionError(f"unknown derived id kind {kind!r}")


_CANONICAL_SECTIONS = ("canonical_json", "canonical")
_CANONICAL_KEYS = {
    "input",
    "value",
    "expected",
    "canonical",
    "json",
    "sha256",
    "hash",
    "error",
    "rejected",
    "id",
    "name",
    "note",
    "basis",
    "description",
}


def _first(case: Mapping[str, Any], names: Sequence[str]) -> tuple[bool, Any]:
    for n in names:
        if n in case:
            return True, case[n]
    return False, None


def _refused_by_chain_serialiser(value: Any) -> None:
    try:
        text = canonical_json_of_parsed(value)
    except NonCanonicalValue:
        return
    raise AssertionError(f"the chain's canonical_json_of_parsed accepted {value!r:.120} as {text!r:.120}")


def _check_canonical(case: Mapping[str, Any]) -> None:
    """§4.7 canonical JSON of ``input``: the exact text (``expected``), its SHA-256, or a refusal (``error``)."""
    unknown = set(case) - _CANONICAL_KEYS
    assert not unknown, f"canonical_json: cannot interpret {sorted(unknown)}"
    has_input, value = _first(case, ("input", "value"))
    assert has_input, f"canonical_json case without an input: {case!r:.200}"
    refused = bool(case.get("error") or case.get("rejected"))
    try:
        text = canonical_json(value)
    except NonCanonicalValue:
        assert refused, f"canonical_json refused {value!r:.120}"
        _refused_by_chain_serialiser(value)
        return
    assert not refused, f"canonical_json accepted {value!r:.120} as {text!r:.120}"
    # The audit chain canonicalises stored event bodies with canonical_json_of_parsed (§5.5): the same text.
    parsed_text = canonical_json_of_parsed(value)
    assert parsed_text == text, f"canonical_json_of_parsed {parsed_text!r:.120} != canonical_json {text!r:.120}"
    has_text, want = _first(case, ("expected", "canonical", "json"))
    has_hash, digest = _first(case, ("sha256", "hash"))
    assert has_text or has_hash, f"canonical_json case with nothing to compare: {case!r:.200}"
    if has_text:
        assert text == want, f"canonical_json {text!r} != {want!r}"
    if has_hash:
        assert sha256_hex(text.encode("utf-8")) == digest, f"sha256 of {text!r} != {digest}"


@checker("api.json", "evidence", split=split)
def check(case: dict[str, Any], ctx: Any) -> None:
    section, data = case["section"], case["data"]
    if section == "sha256_hex":
        _check_sha256(data)
    elif section == "derived_ids":
        got = _derive(data["kind"], data["inputs"])
        assert got == data["value"], f"{data['kind']}({data['inputs']!r}) = {got}, expected {data['value']}"
    elif section in _CANONICAL_SECTIONS:
        _check_canonical(data)
    else:
        raise AssertionError(f"evidence: cannot interpret section {section!r}: {data!r:.200}")
