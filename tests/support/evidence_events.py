"""Reading EvidenceStored events and their chain rows back from the log (ADR 0406), for integration tests."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from paulp.adapters.evidence_audit import TOPIC


def evidence_stored(db_url: str) -> list[tuple[dict[str, Any], str | None]]:
    """Each EvidenceStored event's body and its chain row's evidence hash, in log order."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT e.state, c.evidence_hash FROM paulp_events e JOIN audit_chain c USING (notification_id)"
            " WHERE e.topic = %s ORDER BY e.notification_id", (TOPIC,)).fetchall()
    return [(json.loads(bytes(state)), chained) for state, chained in rows]
