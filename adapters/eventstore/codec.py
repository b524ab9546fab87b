"""Decode stored events outside an Application (relay payloads, projectors, replay) with the same transcodings.

``ReleaseMapper`` is the mapper of every context application too (``MAPPER_TOPIC``): an event whose topic does not
resolve here, or whose ``class_version`` is above its class's, was stored by a newer release. The library would
raise a bare ``TopicError`` for the first and, for the second, build the event from fields this code may misread
(it only upcasts); both become ``EventFromNewerRelease`` (ADR 0523).
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    UUIDAsHex,
    find_id_convertor,
)
from eventsourcing.utils import TopicError, resolve_topic

from paulp.domain.errors import DomainError, EventFromNewerRelease


class ReleaseMapper(Mapper[UUID]):
    """The library's mapper (same steps, body decoded once), refusing what only a newer release can read instead
    of misreading it."""

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        try:
            cls = resolve_topic(stored_event.topic)
        except TopicError:
            raise EventFromNewerRelease(stored_event.topic, stored_version_of(stored_event.state), None) from None
        state = stored_event.state
        try:
            if self.cipher:
                state = self.cipher.decrypt(state)
            if self.compressor:
                state = self.compressor.decompress(state)
            event_state: dict[str, Any] = self.transcoder.decode(state)
        except Exception as e:
            raise MapperDeserialisationError(
                f"Failed to deserialise state of stored event with topic '{stored_event.topic}', originator_id"
                f" '{stored_event.originator_id}' and originator_version {stored_event.originator_version}: {e}"
            ) from e
        known = getattr(cls, "class_version", 1)
        from_version = event_state.pop("class_version", 1)
        if from_version > known:
            raise EventFromNewerRelease(stored_event.topic, from_version, known)
        convert = find_id_convertor(cls, cast(Hashable, type(stored_event.originator_id)))
        event_state["originator_id"] = convert(stored_event.originator_id)
        event_state["originator_version"] = stored_event.originator_version
        while from_version < known:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(event_state)
            from_version += 1
        domain_event = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", event_state)
        return cast(DomainEventProtocol[UUID], domain_event)


def stored_version_of(state: bytes) -> int | None:
    """The ``class_version`` a (plain JSON) stored body says it was written at (absent = 1); None when unreadable."""
    try:
        body = json.loads(state)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(body, dict):
        return None
    version = body.get("class_version", 1)
    return version if isinstance(version, int) else None


def make_mapper() -> Mapper[UUID]:
    """Must match ``Application.register_transcodings`` so events round-trip identically."""
    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    transcoder.register(DecimalAsStr())
    transcoder.register(DatetimeAsISO())
    return ReleaseMapper(transcoder=transcoder)


def decode(mapper: Mapper[UUID], originator_id: UUID | str, version: int, topic: str, state: bytes) -> Any:
    oid = originator_id if isinstance(originator_id, UUID) else UUID(str(originator_id))
    return cast(Any, mapper.to_domain_event(StoredEvent(oid, version, topic, state)))


def failure_text(e: BaseException) -> str:
    """``CODE: message`` for a domain refusal (e.g. ``EVENT_FROM_NEWER_RELEASE``), else ``Type: message``."""
    return f"{e.code}: {e.message}" if isinstance(e, DomainError) else f"{type(e).__name__}: {e}"
