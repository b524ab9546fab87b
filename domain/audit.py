"""Audit hash chain, v1 formula (api-and-security §5.1). Independent verifiers rely on it byte for byte.

Verification (§5.2) and anchor checks (§5.3) are pure functions over stored records, so the
API, the scheduled verification job and offline tools all judge a chain the same way.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

GENESIS = "genesis"
EMPTY_SNAPSHOT = "empty_chain"
# '|' and every control character (Unicode Cc: C0, DEL and the C1 block U+0080-U+009F, ADR 0464).
_FORBIDDEN = {"|"} | {chr(c) for c in range(0x20)} | {chr(c) for c in range(0x7F, 0xA0)}
_FORBIDDEN_RE = re.compile(r"[|\x00-\x1f\x7f-\x9f]")  # the same set: one C-level scan on the append path

LinkKind = Literal["link", "payload", "hash"]


class InvalidChainField(ValueError):
    """Raised when a hashed field holds '|' or a control character, which would make the hash ambiguous."""

    code = "INVALID_CHAIN_FIELD"


class ChainTimestampRegressed(ValueError):
    """Raised when an append would move the chain's store time backwards."""

    code = "CHAIN_TIMESTAMP_REGRESSED"


def _sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def payload_hash(payload: str) -> str:
    """Hash the payload text exactly as stored."""
    return _sha256_hex(payload)


def check_field(name: str, value: str) -> str:
    """Refuse a value that would let two different records share one hash input."""
    if _FORBIDDEN_RE.search(value) is None:
        return value
    bad = sorted({ch for ch in value if ch in _FORBIDDEN})
    if bad:
        raise InvalidChainField(f"chain field {name!r} contains forbidden characters {bad!r}")
    return value


def record_hash(
    id: str,
    timestamp: str,
    agent: str,
    event_type: str,
    payload_hash: str,
    evidence_hash: str | None,
    prev_hash: str,
) -> str:
    """SHA-256 over the seven fields joined by '|'; a null evidence hash contributes ''."""
    parts = (id, timestamp, agent, event_type, payload_hash, evidence_hash or "", prev_hash)
    return _sha256_hex("|".join(parts))


@dataclass(frozen=True)
class ChainRecord:
    """One stored chain row; `hash` and `payload_hash` are the stored values, which may be tampered."""

    sequence: int
    id: str
    timestamp: str
    agent: str
    event_type: str
    payload: str
    payload_hash: str
    evidence_hash: str | None
    prev_hash: str
    hash: str

    def computed_payload_hash(self) -> str:
        return payload_hash(self.payload)

    def computed_hash(self) -> str:
        """Recompute from the stored fields (stored payload hash, stored prev hash)."""
        return record_hash(
            self.id,
            self.timestamp,
            self.agent,
            self.event_type,
            self.payload_hash,
            self.evidence_hash,
            self.prev_hash,
        )

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> ChainRecord:
        """Build from a stored row or vector dict (`event_sequence` or `sequence`)."""
        seq = row["event_sequence"] if "event_sequence" in row else row["sequence"]
        return cls(
            sequence=int(seq),
            id=row["id"],
            timestamp=row["timestamp"],
            agent=row["agent"],
            event_type=row["event_type"],
            payload=row["payload"],
            payload_hash=row["payload_hash"],
            evidence_hash=row.get("evidence_hash"),
            prev_hash=row["prev_hash"],
            hash=row["hash"],
        )


def append_record(
    prev: ChainRecord | None,
    *,
    id: str,
    timestamp: str,
    agent: str,
    event_type: str,
    payload: str,
    evidence_hash: str | None = None,
) -> ChainRecord:
    """Build the record that follows `prev` (None = first record), refusing ambiguous fields."""
    for name, value in (("id", id), ("timestamp", timestamp), ("agent", agent), ("event_type", event_type)):
        check_field(name, value)
    if evidence_hash is not None:
        check_field("evidence_hash", evidence_hash)
    if prev is not None and timestamp < prev.timestamp:
        raise ChainTimestampRegressed(f"timestamp {timestamp} is before the chain head's {prev.timestamp}")
    p_hash = payload_hash(payload)
    prev_hash = prev.hash if prev is not None else GENESIS
    return ChainRecord(
        sequence=prev.sequence + 1 if prev is not None else 1,
        id=id,
        timestamp=timestamp,
        agent=agent,
        event_type=event_type,
        payload=payload,
        payload_hash=p_hash,
        evidence_hash=evidence_hash,
        prev_hash=prev_hash,
        hash=record_hash(id, timestamp, agent, event_type, p_hash, evidence_hash, prev_hash),
    )


@dataclass(frozen=True)
class BrokenLink:
    """One §5.2 entry; payload and record-hash findings reuse the prev-hash fields with a prefix."""

    sequence: int
    event_id: str
    kind: LinkKind
    expected_prev_hash: str
    actual_prev_hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "eventId": self.event_id,
            "kind": self.kind,
            "expectedPrevHash": self.expected_prev_hash,
            "actualPrevHash": self.actual_prev_hash,
        }


@dataclass(frozen=True)
class VerificationResult:
    valid: bool
    gaps: tuple[int, ...]
    broken_links: tuple[BrokenLink, ...]
    events_checked: int
    first_sequence: int
    last_sequence: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "gaps": list(self.gaps),
            "brokenLinks": [b.to_dict() for b in self.broken_links],
            "eventsChecked": self.events_checked,
            "firstSequence": self.first_sequence,
            "lastSequence": self.last_sequence,
        }


def _ordered(records: Iterable[ChainRecord]) -> list[ChainRecord]:
    return sorted(records, key=lambda r: r.sequence)


def chain_head(records: Iterable[ChainRecord]) -> ChainRecord | None:
    """The highest-sequence record, or None for an empty chain."""
    ordered = _ordered(records)
    return ordered[-1] if ordered else None


def _record_findings(rec: ChainRecord, previous: ChainRecord | None) -> list[BrokenLink]:
    found: list[BrokenLink] = []
    if previous is not None and rec.prev_hash != previous.hash:
        found.append(BrokenLink(rec.sequence, rec.id, "link", previous.hash, rec.prev_hash))
    computed_payload = rec.computed_payload_hash()
    if computed_payload != rec.payload_hash:
        found.append(
            BrokenLink(
                rec.sequence,
                rec.id,
                "payload",
                f"payload_hash:{computed_payload}",
                f"payload_hash:{rec.payload_hash}",
            )
        )
    computed = rec.computed_hash()
    if computed != rec.hash:
        found.append(BrokenLink(rec.sequence, rec.id, "hash", f"computed_hash:{computed}", f"stored_hash:{rec.hash}"))
    return found


class RangeWalk:
    """§5.2 over ``[start, end]`` fed one record at a time in sequence order, so a chain of any length is
    verified in one pass with constant memory (the findings aside). ``verify_range`` is the list form.

    ``linked`` (not §5.2: the incremental audit job, ADR 0506): record ``start - 1`` is fed first and the range's
    first record is link-checked against its stored hash; when it is missing, ``start - 1`` is a gap."""

    def __init__(self, start: int = 1, end: int | None = None, *, linked: bool = False) -> None:
        self.start, self.end = start, end
        self._link_from = start - 1 if linked and start > 1 else None
        self._previous: ChainRecord | None = None
        self._first: int | None = None
        self._gaps: list[int] = []
        self._broken: list[BrokenLink] = []
        self._checked = 0

    def feed(self, rec: ChainRecord) -> None:
        if rec.sequence == self._link_from and self._previous is None:
            self._previous = rec  # the link's other end: its stored hash is used, it is not itself checked
            return
        if rec.sequence < self.start or (self.end is not None and rec.sequence > self.end):
            return
        previous = self._previous
        if previous is not None:
            if rec.sequence < previous.sequence:
                raise ValueError(f"records out of sequence order: {rec.sequence} after {previous.sequence}")
            self._gaps.extend(range(previous.sequence + 1, rec.sequence))
        elif self._link_from is not None:
            self._gaps.extend(range(self._link_from, rec.sequence))
        if self._first is None:
            self._first = rec.sequence
        self._broken.extend(_record_findings(rec, previous))
        self._previous = rec
        self._checked += 1

    def result(self) -> VerificationResult:
        last = self._previous
        if last is None or self._first is None:
            gaps = (self._link_from,) if self._link_from is not None and last is None else ()
            return VerificationResult(not gaps, gaps, (), 0, self.start, self.end if self.end is not None else 0)
        return VerificationResult(
            valid=not self._gaps and not self._broken,
            gaps=tuple(self._gaps),
            broken_links=tuple(self._broken),
            events_checked=self._checked,
            first_sequence=self._first,
            last_sequence=last.sequence,
        )


def verify_range(records: Iterable[ChainRecord], start: int = 1, end: int | None = None) -> VerificationResult:
    """§5.2 over `[start, end]` inclusive; `end=None` means the current head."""
    ordered = _ordered(records)
    if end is None:
        end = ordered[-1].sequence if ordered else 0
    walk = RangeWalk(start, end)
    for rec in ordered:
        walk.feed(rec)
    return walk.result()


def chain_gaps(records: Iterable[ChainRecord]) -> list[int]:
    """Every sequence number between the lowest and highest stored one that is missing."""
    present = {r.sequence for r in records}
    if not present:
        return []
    return [s for s in range(min(present), max(present) + 1) if s not in present]


@dataclass(frozen=True)
class LastGood:
    sequence: int
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {"sequence": self.sequence, "hash": self.hash}


def last_good_state(records: Iterable[ChainRecord]) -> LastGood:
    """Walk from genesis; stop at the first discontinuity, link mismatch or record-hash mismatch."""
    good = LastGood(0, GENESIS)
    for rec in _ordered(records):
        if rec.sequence != good.sequence + 1 or rec.prev_hash != good.hash or rec.computed_hash() != rec.hash:
            break
        good = LastGood(rec.sequence, rec.hash)
    return good


@dataclass(frozen=True)
class Snapshot:
    hash: str
    count: int
    first_sequence: int
    last_sequence: int
    computed_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "hash": self.hash,
            "count": self.count,
            "firstSequence": self.first_sequence,
            "lastSequence": self.last_sequence,
            "computedAt": self.computed_at,
        }


def snapshot(records: Iterable[ChainRecord], n: int, computed_at: str | None = None) -> Snapshot:
    """SHA-256 of the stored hashes of records with sequence <= n, concatenated in order."""
    upto = [r for r in _ordered(records) if r.sequence <= n]
    if not upto:
        return Snapshot(EMPTY_SNAPSHOT, 0, 0, 0, computed_at)
    digest = hashlib.sha256("".join(r.hash for r in upto).encode("utf-8")).hexdigest()
    return Snapshot(digest, len(upto), upto[0].sequence, upto[-1].sequence, computed_at)
