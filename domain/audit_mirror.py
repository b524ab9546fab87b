"""Audit mirror records (api-and-security §5.1): where each chain record's copy lives and what it holds.

The mirror is a second, file-based copy of the chain that a reader without database access can check with
the v1 formula. Key and body are pure functions of the chain record, so the writer, the verifier and an
outside auditor derive the same bytes; a file that differs from them is tampering or corruption (ADR 0385).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from paulp.domain.audit import ChainRecord
from paulp.domain.canonical import loads_strict

PREFIX = "audit/events"
_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})T")
_NAME = re.compile(r"(\d{12})-([^/\\]+)\.json\Z")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


class UnmirrorableRecord(ValueError):
    """Raised when a record's id or timestamp cannot name a file in the spec's key layout."""

    code = "UNMIRRORABLE_RECORD"


def mirror_key(record: ChainRecord) -> str:
    """``audit/events/<YYYY-MM-DD of timestamp>/<sequence zero-padded to 12>-<id>.json`` (§5.1)."""
    day = _DATE.match(record.timestamp)
    if day is None:
        raise UnmirrorableRecord(f"chain record {record.sequence}: timestamp {record.timestamp!r} has no date")
    if not 1 <= record.sequence < 10**12:
        raise UnmirrorableRecord(f"chain sequence {record.sequence} does not fit 12 digits")
    if not record.id or "/" in record.id or "\\" in record.id or record.id in (".", ".."):
        raise UnmirrorableRecord(f"chain record {record.sequence}: id {record.id!r} cannot name a file")
    return f"{PREFIX}/{day.group(1)}/{record.sequence:012d}-{record.id}.json"


def _payload_json(payload: str) -> str:
    """The payload as the object it is, spelled with the exact text that was hashed: a reader can take the
    bytes between ``"payload":`` and ``,"payloadHash"`` and recompute payloadHash. A payload that is not a JSON
    object (a ciphered store's ``base64:…``) is kept as a JSON string."""
    try:
        parsed = loads_strict(payload)
    except ValueError:
        parsed = None
    return payload if isinstance(parsed, dict) else _text(payload)


def _text(value: str | None) -> str:
    return json.dumps(value, ensure_ascii=False)


def mirror_body(record: ChainRecord) -> bytes:
    """``{id, eventSequence, timestamp, agent, eventType, payload (object), payloadHash, evidenceHash, prevHash,
    hash}`` in that order, UTF-8, one line and a newline: the same record always gives the same bytes."""
    text = _text
    parts = [
        f'"id":{text(record.id)}',
        f'"eventSequence":{record.sequence}',
        f'"timestamp":{text(record.timestamp)}',
        f'"agent":{text(record.agent)}',
        f'"eventType":{text(record.event_type)}',
        f'"payload":{_payload_json(record.payload)}',
        f'"payloadHash":{text(record.payload_hash)}',
        f'"evidenceHash":{text(record.evidence_hash)}',
        f'"prevHash":{text(record.prev_hash)}',
        f'"hash":{text(record.hash)}',
    ]
    return ("{" + ",".join(parts) + "}\n").encode("utf-8")


@dataclass(frozen=True)
class MirrorName:
    """A file name found in the mirror, read back into what its key says."""

    day: str
    sequence: int
    id: str


def parse_key(day: str, name: str) -> MirrorName | None:
    """What ``audit/events/<day>/<name>`` claims to hold, or None when it is not a key of the layout."""
    if _DAY.match(day) is None:
        return None
    m = _NAME.match(name)
    if m is None or int(m.group(1)) < 1:
        return None
    return MirrorName(day, int(m.group(1)), m.group(2))
