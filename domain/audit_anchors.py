"""Anchor verification and walk-from-anchor (api-and-security §5.3), pure over chain records.

An anchor pins the chain head at a moment in a separately-credentialed store; rewriting the
chain after that moment, even consistently, no longer matches the pinned head.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from paulp.domain.audit import EMPTY_SNAPSHOT, GENESIS, ChainRecord


class Link(NamedTuple):
    """A chain record as the anchor checks read it: three columns of a stored chain row."""

    sequence: int
    id: str
    hash: str


class ChainLink(Protocol):
    """What anchor checks read of a chain record: a stored chain row needs only these three columns."""

    @property
    def sequence(self) -> int: ...

    @property
    def id(self) -> str: ...

    @property
    def hash(self) -> str: ...


class AnchorNotFound(LookupError):
    """Raised when a walk names an anchor id that is not stored."""

    code = "ANCHOR_NOT_FOUND"


class AnchorEventMissing(LookupError):
    """Raised when the record an anchor points at is gone, so no walk can start."""

    code = "ANCHOR_EVENT_MISSING"


@dataclass(frozen=True)
class Anchor:
    id: str
    chain_head_hash: str
    chain_length: int
    last_event_id: str | None
    anchor_sequence: int = 0
    first_event_id: str | None = None
    snapshot_hash: str | None = None

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> Anchor:
        return cls(
            id=row["id"],
            chain_head_hash=row["chain_head_hash"],
            chain_length=int(row["chain_length"]),
            last_event_id=row.get("last_event_id"),
            anchor_sequence=int(row.get("anchor_sequence") or 0),
            first_event_id=row.get("first_event_id"),
            snapshot_hash=row.get("snapshot_hash"),
        )


def _in_sequence_order(links: Iterable[ChainLink]) -> Iterator[ChainLink]:
    """The links as given, refusing one that goes back in sequence: a one-pass check must never judge a
    stream it assumed ordered."""
    previous: int | None = None
    for link in links:
        if previous is not None and link.sequence < previous:
            raise ValueError(f"links out of sequence order: {link.sequence} after {previous}")
        previous = link.sequence
        yield link


def anchor_for(records: Iterable[ChainLink], anchor_id: str, anchor_sequence: int) -> Anchor:
    """The anchor row to store now: head hash, length and the §5.5 snapshot hash."""
    return anchor_for_ordered(sorted(records, key=lambda r: r.sequence), anchor_id, anchor_sequence)


def anchor_for_ordered(links: Iterable[ChainLink], anchor_id: str, anchor_sequence: int) -> Anchor:
    """``anchor_for`` over links already in sequence order, in one pass with constant memory (the anchor
    job streams the chain's three columns instead of loading every record)."""
    return _anchors_pass(links, (), anchor_id, anchor_sequence)[1]


def _anchored_record(records: Sequence[ChainRecord], anchor: Anchor) -> ChainRecord | None:
    """The record named by `last_event_id`; with duplicate ids, the one at the anchored length."""
    named = [r for r in records if r.id == anchor.last_event_id]
    at_length = [r for r in named if r.sequence == anchor.chain_length]
    candidates = at_length or named
    return candidates[0] if candidates else None


@dataclass(frozen=True)
class AnchorCheck:
    id: str
    valid: bool
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "valid": self.valid}
        if self.reason is not None:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class AnchorsResult:
    verified: int
    failed: int
    anchors: tuple[AnchorCheck, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"verified": self.verified, "failed": self.failed, "anchors": [a.to_dict() for a in self.anchors]}


@dataclass
class _Probe:
    """What one pass over the chain gathers for one anchor."""

    anchor: Anchor
    at_length: str | None = None  # hash of the first record at chain_length named by last_event_id
    named: str | None = None  # hash of the first record named by last_event_id, anywhere
    count: int = 0  # records with sequence <= chain_length
    snapshot: str = EMPTY_SNAPSHOT  # §5.5 snapshot up to chain_length

    def check(self) -> AnchorCheck:
        """The three §5.3 checks in order, then the snapshot hash when the anchor stored one."""
        a = self.anchor
        if a.last_event_id is None and a.chain_length == 0:
            last_hash: str | None = GENESIS  # an anchor of the empty chain points at no record
        else:
            last_hash = self.at_length if self.at_length is not None else self.named
            if last_hash is None:
                return AnchorCheck(a.id, False, f"Last event not found: {a.last_event_id}")
        if last_hash != a.chain_head_hash:
            return AnchorCheck(a.id, False, f"Hash mismatch: expected {a.chain_head_hash}, got {last_hash}")
        if self.count != a.chain_length:
            return AnchorCheck(a.id, False, f"Chain length mismatch: expected {a.chain_length}, got {self.count}")
        if a.snapshot_hash is not None and self.snapshot != a.snapshot_hash:
            return AnchorCheck(a.id, False, f"Snapshot mismatch: expected {a.snapshot_hash}, got {self.snapshot}")
        return AnchorCheck(a.id, True)


def verify_anchor(records: Iterable[ChainLink], anchor: Anchor) -> AnchorCheck:
    return verify_anchors(records, [anchor]).anchors[0]


def verify_anchors(records: Iterable[ChainLink], anchors: Iterable[Anchor]) -> AnchorsResult:
    """Every anchor's checks; records in any order (sorted here, stably, by sequence)."""
    return verify_anchors_ordered(sorted(records, key=lambda r: r.sequence), anchors)


def verify_anchors_ordered(links: Iterable[ChainLink], anchors: Iterable[Anchor]) -> AnchorsResult:
    """All anchors against one pass over links in sequence order: O(chain + anchors) time and memory
    O(anchors), where checking each anchor on its own would read the chain once per anchor (an hourly
    anchor makes that quadratic within months)."""
    return _anchors_pass(links, anchors, "", 0)[0]


def verify_anchors_and_pin(links: Iterable[ChainLink], anchors: Iterable[Anchor],
                           anchor_id: str) -> tuple[AnchorsResult, Anchor]:
    """The hourly job's one pass over the chain (ADR 0509): every stored anchor checked, and the new anchor
    (``anchor_sequence`` 0, set when stored) pinned from the same links, whose §5.5 snapshot is the running digest
    the check keeps anyway. The same as ``verify_anchors_ordered`` and ``anchor_for_ordered`` over one list."""
    return _anchors_pass(links, anchors, anchor_id, 0)


def _anchors_pass(links: Iterable[ChainLink], anchors: Iterable[Anchor], anchor_id: str,
                  anchor_sequence: int) -> tuple[AnchorsResult, Anchor]:
    """The stored ``anchors`` checked and an anchor of these links pinned, in one pass."""
    probes = [_Probe(a) for a in sorted(anchors, key=lambda a: a.anchor_sequence)]
    by_length = sorted(probes, key=lambda p: p.anchor.chain_length)
    by_id: dict[str, list[_Probe]] = {}
    for p in probes:
        if p.anchor.last_event_id is not None:
            by_id.setdefault(p.anchor.last_event_id, []).append(p)
    digest, count, pending = hashlib.sha256(), 0, 0

    def close_through(sequence: int | None) -> None:
        """Freeze count and snapshot of every anchor whose length is below ``sequence`` (None: all)."""
        nonlocal pending
        while pending < len(by_length) and (sequence is None or by_length[pending].anchor.chain_length < sequence):
            p = by_length[pending]
            p.count, p.snapshot = count, digest.hexdigest() if count else EMPTY_SNAPSHOT
            pending += 1

    first: ChainLink | None = None
    head: ChainLink | None = None
    for link in _in_sequence_order(links):
        close_through(link.sequence)
        count += 1
        digest.update(link.hash.encode("utf-8"))
        if first is None:
            first = link
        head = link
        for p in by_id.get(link.id, ()):
            if p.named is None:
                p.named = link.hash
            if p.at_length is None and link.sequence == p.anchor.chain_length:
                p.at_length = link.hash
    close_through(None)
    checks = tuple(p.check() for p in probes)
    passed = sum(1 for c in checks if c.valid)
    pinned = Anchor(
        id=anchor_id,
        chain_head_hash=head.hash if head is not None else GENESIS,
        chain_length=head.sequence if head is not None else 0,
        last_event_id=head.id if head is not None else None,
        anchor_sequence=anchor_sequence,
        first_event_id=first.id if first is not None else None,
        snapshot_hash=digest.hexdigest() if head is not None else EMPTY_SNAPSHOT,
    )
    return AnchorsResult(passed, len(checks) - passed, checks), pinned


def find_anchor(anchors: Iterable[Anchor], anchor_id: str) -> Anchor:
    for a in anchors:
        if a.id == anchor_id:
            return a
    raise AnchorNotFound(f"Anchor not found: {anchor_id}")


@dataclass(frozen=True)
class WalkError:
    type: str
    sequence: int
    event_id: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "sequence": self.sequence, "eventId": self.event_id, "message": self.message}


@dataclass(frozen=True)
class WalkResult:
    verified: int
    errors: tuple[WalkError, ...]
    last_verified_sequence: int
    last_verified_hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "errors": [e.to_dict() for e in self.errors],
            "lastVerifiedSequence": self.last_verified_sequence,
            "lastVerifiedHash": self.last_verified_hash,
        }


def _walk_errors(rec: ChainRecord, prev_seq: int, prev_hash: str) -> list[WalkError]:
    errs: list[WalkError] = []
    if rec.sequence != prev_seq + 1:
        errs.append(
            WalkError("gap", rec.sequence, rec.id, f"Gap: expected sequence {prev_seq + 1}, got {rec.sequence}")
        )
    if rec.prev_hash != prev_hash:
        errs.append(
            WalkError(
                "hash_mismatch", rec.sequence, rec.id, f"Prev hash mismatch: expected {prev_hash}, got {rec.prev_hash}"
            )
        )
    computed_payload = rec.computed_payload_hash()
    if computed_payload != rec.payload_hash:
        errs.append(
            WalkError(
                "payload_mismatch",
                rec.sequence,
                rec.id,
                f"Payload hash mismatch: computed {computed_payload}, stored {rec.payload_hash}",
            )
        )
    computed = rec.computed_hash()
    if computed != rec.hash:
        errs.append(
            WalkError("hash_mismatch", rec.sequence, rec.id, f"Hash mismatch: computed {computed}, stored {rec.hash}")
        )
    return errs


def walk_from_anchor(records: Iterable[ChainRecord], anchor: Anchor) -> WalkResult:
    """Check the anchored head still matches, then every later record (gaps, links, payload, hash)."""
    ordered = sorted(records, key=lambda r: r.sequence)
    if anchor.last_event_id is None and anchor.chain_length == 0:
        prev_seq, prev_hash = 0, GENESIS  # anchor of the empty chain: walk everything from genesis
        if anchor.chain_head_hash != GENESIS:
            msg = f"Anchor head hash mismatch: expected {anchor.chain_head_hash}, got {GENESIS}"
            return WalkResult(0, (WalkError("hash_mismatch", 0, "", msg),), 0, GENESIS)
    else:
        start = _anchored_record(ordered, anchor)
        if start is None:
            raise AnchorEventMissing(f"Anchor's last event not found: {anchor.last_event_id}")
        if start.hash != anchor.chain_head_hash:
            msg = f"Anchor head hash mismatch: expected {anchor.chain_head_hash}, got {start.hash}"
            return WalkResult(0, (WalkError("hash_mismatch", start.sequence, start.id, msg),), 0, GENESIS)
        prev_seq, prev_hash = start.sequence, start.hash
    errors: list[WalkError] = []
    later = [r for r in ordered if r.sequence > prev_seq]
    for rec in later:
        errors.extend(_walk_errors(rec, prev_seq, prev_hash))
        prev_seq, prev_hash = rec.sequence, rec.hash
    return WalkResult(len(later), tuple(errors), prev_seq, prev_hash)


def walk_from_anchor_id(records: Iterable[ChainRecord], anchors: Sequence[Anchor], anchor_id: str) -> WalkResult:
    return walk_from_anchor(records, find_anchor(anchors, anchor_id))
