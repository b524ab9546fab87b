"""Chain rows for stored events: what each event contributes to the audit hash chain (§5.5)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid5

from paulp.domain.audit import GENESIS, check_field, payload_hash, record_hash
from paulp.domain.canonical import canonical_json
from paulp.domain.namespace import PAULP_NAMESPACE

CHAIN_TABLE = "audit_chain"


@dataclass(frozen=True)
class ChainHead:
    sequence: int
    hash: str
    timestamp: str

    @classmethod
    def genesis(cls) -> ChainHead:
        return cls(0, GENESIS, "")


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
    return canonical_json(body), body


def format_ts(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class ChainRow:
    chain_seq: int
    notification_id: int
    event_id: str
    timestamp: str
    agent: str
    event_type: str
    payload: str
    payload_hash: str
    evidence_hash: str | None
    prev_hash: str
    hash: str

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.chain_seq,
            self.notification_id,
            self.event_id,
            self.timestamp,
            self.agent,
            self.event_type,
            self.payload,
            self.payload_hash,
            self.evidence_hash,
            self.prev_hash,
            self.hash,
        )


def build_row(
    head: ChainHead,
    notification_id: int,
    originator_id: UUID | str,
    originator_version: int,
    topic: str,
    state: bytes,
    now: datetime,
) -> ChainRow:
    """Next chain row after ``head``; store time never goes backwards (monotonic timestamps, §5.4)."""
    agent, event_type = split_topic(topic)
    payload, body = canonical_payload(state)
    ts = max(format_ts(now), head.timestamp)
    eid = event_id(originator_id, originator_version)
    for name, value in (("id", eid), ("timestamp", ts), ("agent", agent), ("event_type", event_type)):
        check_field(name, value)
    evidence = body.get("evidence_hash") if isinstance(body.get("evidence_hash"), str) else None
    p_hash = payload_hash(payload)
    h = record_hash(eid, ts, agent, event_type, p_hash, evidence, head.hash)
    return ChainRow(
        head.sequence + 1, notification_id, eid, ts, agent, event_type, payload, p_hash, evidence, head.hash, h
    )
