"""The mapper every reader of the log uses refuses what only a newer release can read (ADR 0523): a topic that does
not resolve, or a class_version above the class's; older versions still upcast, the current one decodes."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.errors import EventFromNewerRelease
from paulp.domain.order_record import OrderRecord

FILL = get_topic(OrderRecord.FillRecorded)  # class_version 2
BODY = {"timestamp": "2026-03-02T15:00:00+00:00", "fill_size": 5, "fill_price": 42.0, "filled_size": 5,
        "avg_fill_price": 42.0, "entry_price": 42.0, "closing_line_price": None, "clv": None,
        "at": "2026-03-02T15:00:00+00:00"}


def _stored(topic: str, body: dict[str, object]) -> StoredEvent:
    return StoredEvent(uuid4(), 2, topic, json.dumps(body).encode())


def test_to_domain_event_when_class_version_above_the_class_then_refused_naming_both_versions() -> None:
    with pytest.raises(EventFromNewerRelease) as refused:
        make_mapper().to_domain_event(_stored(FILL, {**BODY, "fee_cents": None, "class_version": 3}))
    assert (refused.value.code, refused.value.topic, refused.value.stored_version, refused.value.known_version) == (
        "EVENT_FROM_NEWER_RELEASE", FILL, 3, 2)
    assert "class_version 3 (this release reads up to 2)" in refused.value.message


def test_to_domain_event_when_topic_unknown_then_refused_not_a_topic_error() -> None:
    topic = "paulp.domain.order_record:OrderRecord.NotYetWritten"
    with pytest.raises(EventFromNewerRelease) as refused:
        make_mapper().to_domain_event(_stored(topic, {"timestamp": BODY["timestamp"], "class_version": 4}))
    assert (refused.value.topic, refused.value.stored_version, refused.value.known_version) == (topic, 4, None)
    assert refused.value.at(17).message.startswith("event 17: topic " + topic + " is unknown to this release")


def test_to_domain_event_when_older_or_current_version_then_upcast_or_decoded_as_the_library_does() -> None:
    mapper = make_mapper()
    v1 = mapper.to_domain_event(_stored(FILL, BODY))  # no class_version: 1, upcast to 2
    v2 = mapper.to_domain_event(_stored(FILL, {**BODY, "fee_cents": "0.07", "class_version": 2}))
    assert isinstance(v1, OrderRecord.FillRecorded) and v1.fee_cents is None and v1.filled_size == 5
    assert str(v2.fee_cents) == "0.07"
    assert json.loads(mapper.to_stored_event(v1).state)["class_version"] == 2
