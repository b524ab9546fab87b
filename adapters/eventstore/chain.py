"""Chain rows for stored events: what each event contributes to the audit hash chain (§5.5)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from paulp.domain.audit import ChainRecord, append_record, check_field, payload_hash
from paulp.domain.canonical import canonical_json_of_parsed
from paulp.domain.clock import iso_utc
from paulp.domain.namespace import PAULP_NAMESPACE

CHAIN_TABLE = "audit_chain"


def event_id(originator_id: UUID | str, originator_version: int) -> str:
    """Deterministic event id: the same stored event always gets the same chain id."""
    return str(uuid5(PAULP_NAMESPACE, f"event/{originator_id}/{originator_version}"))


def split_topic(topic: str) -> tuple[str, str]:
    """'paulp.domain.breaker:CircuitBreaker.Transitioned' -> ('breaker', 'CircuitBreaker.Transitioned')."""
    module, _, qualname = topic.partition(":")
    return module.rsplit(".", 1)[-1], qualname


def canonical_payload(state: bytes) -> tuple[str, dict[str, Any]]:
    """Canonical JSON of the stored event body; bytes that are not a JSON object (a ciphered or compressed
    store) are chained as ``base64:<data>`` so the chain still covers exactly what was stored."""
    try:
        body = json.loads(state)
    except (UnicodeDecodeError, json.JSONDecodeError):
        body = None
    if not isinstance(body, dict):
        return "base64:" + base64.b64encode(state).decode("ascii"), {}
    return canonical_json_of_parsed(body), body


format_ts = iso_utc  # chain timestamps are the spec's timestamp text


@dataclass(frozen=True)
class ChainInput:
    """What one stored event contributes to its chain record before the head is known (all but the
    timestamp clamp, prev_hash and hash, which the append function computes under the log's lock)."""

    id: str
    agent: str
    event_type: str
    payload: str
    payload_hash: str
    evidence_hash: str | None


def chain_input(originator_id: UUID | str, originator_version: int, topic: str, state: bytes) -> ChainInput:
    """Fields checked here, before the round trip: a '|' or control character is refused, never stored."""
    agent, event_type = split_topic(topic)
    payload, body = canonical_payload(state)
    evidence = body.get("evidence_hash")
    evidence_hash = check_field("evidence_hash", evidence) if isinstance(evidence, str) else None
    return ChainInput(
        id=check_field("id", event_id(originator_id, originator_version)),
        agent=check_field("agent", agent),
        event_type=check_field("event_type", event_type),
        payload=payload,
        payload_hash=payload_hash(payload),
        evidence_hash=evidence_hash,
    )


@dataclass(frozen=True)
class ChainRow:
    """A chain record as stored: the domain record plus the notification id of the event it covers."""

    notification_id: int
    record: ChainRecord

    def as_tuple(self) -> tuple[Any, ...]:
        r = self.record
        return (r.sequence, self.notification_id, r.id, r.timestamp, r.agent, r.event_type, r.payload,
                r.payload_hash, r.evidence_hash, r.prev_hash, r.hash)


def record_from_row(row: Mapping[str, Any]) -> ChainRecord:
    """A stored ``audit_chain`` row (dict row) as the domain's chain record."""
    return ChainRecord.from_mapping({**row, "sequence": row["chain_seq"], "id": row["event_id"]})


def build_row(
    head: ChainRecord | None,
    notification_id: int,
    originator_id: UUID | str,
    originator_version: int,
    topic: str,
    state: bytes,
    now: datetime | str,
) -> ChainRow:
    """Next chain row after ``head``; store time never goes backwards (monotonic timestamps, §5.4).

    ``now`` may be given already formatted, so a save of many events formats the time once.
    """
    fields = chain_input(originator_id, originator_version, topic, state)
    stamp = now if isinstance(now, str) else format_ts(now)
    record = append_record(
        head,
        id=fields.id,
        timestamp=max(stamp, head.timestamp if head else ""),
        agent=fields.agent,
        event_type=fields.event_type,
        payload=fields.payload,
        evidence_hash=fields.evidence_hash,
    )
    return ChainRow(notification_id, record)
