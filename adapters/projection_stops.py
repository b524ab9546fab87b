"""Which projections stand stopped at an event of a newer release, as this release reads the log (ADR 0523).

A projector stops before an event it cannot read and applies nothing after it, so its next event in the log is that
event: read from the database, the stop is visible to every process of the release (``/metrics``, ``/health/deep``,
``paulp doctor``), whichever of them runs the projector. One indexed look-up and one decode per projection.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

from paulp.adapters.eventstore.codec import decode, make_mapper
from paulp.domain.errors import EventFromNewerRelease

NEXT_EVENTS = (
    "SELECT p.name, e.notification_id, e.originator_id, e.originator_version, e.topic, e.state"
    " FROM unnest(%s::text[]) AS p(name) LEFT JOIN projection_tracking t ON t.name = p.name"
    " CROSS JOIN LATERAL (SELECT notification_id, originator_id, originator_version, topic, state FROM paulp_events"
    " WHERE notification_id > coalesce(t.last_notification_id, 0) ORDER BY notification_id LIMIT 1) e"
)


def stopped_projections(conn: psycopg.Connection[Any], names: Iterable[str]) -> dict[str, EventFromNewerRelease]:
    """Each named projection whose next event this release cannot read, with that event's refusal."""
    mapper = make_mapper()
    out: dict[str, EventFromNewerRelease] = {}
    for name, nid, oid, version, topic, state in conn.execute(NEXT_EVENTS, (sorted(names),)).fetchall():
        refusal = _refusal(mapper, oid, version, topic, bytes(state))
        if refusal is not None:
            out[name] = refusal.at(int(nid))
    return out


def _refusal(mapper: Any, oid: Any, version: int, topic: str, state: bytes) -> EventFromNewerRelease | None:
    try:
        decode(mapper, oid, version, topic, state)
    except EventFromNewerRelease as e:
        return e
    except Exception:  # a poison event is the dead-letter path's to report (ADR 0398), not a version skew
        return None
    return None
