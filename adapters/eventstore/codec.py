"""Decode stored events outside an Application (relay payloads, projectors, replay) with the same transcodings."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    UUIDAsHex,
)


def make_mapper() -> Mapper[UUID]:
    """Must match ``Application.register_transcodings`` so events round-trip identically."""
    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    transcoder.register(DecimalAsStr())
    transcoder.register(DatetimeAsISO())
    return Mapper(transcoder=transcoder)


def decode(mapper: Mapper[UUID], originator_id: UUID | str, version: int, topic: str, state: bytes) -> Any:
    oid = originator_id if isinstance(originator_id, UUID) else UUID(str(originator_id))
    return mapper.to_domain_event(StoredEvent(oid, version, topic, state))
