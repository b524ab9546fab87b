"""Events stored by earlier versions must still decode: change an event only with class_version + upcast.

The fixture holds stored rows (topic + state JSON) exactly as the recorder wrote them at v1.
"""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from paulp.adapters.eventstore.codec import make_mapper

FIXTURE = Path(__file__).parent / "fixtures" / "stored_events_v1.json"


def test_v1_stored_events_when_decoded_then_same_topics_and_fields():
    mapper = make_mapper()
    rows = json.loads(FIXTURE.read_text())
    assert rows
    for row in rows:
        stored = StoredEvent(UUID(row["originator_id"]), row["originator_version"], row["topic"],
                             row["state"].encode())
        event = mapper.to_domain_event(stored)
        again = mapper.to_stored_event(event)
        assert again.topic == row["topic"]
        assert json.loads(again.state) == json.loads(row["state"]), row["topic"]
