"""The evidence index checked against the chained log (api-and-security §4.6; ADR 0406).

Every ``evidence_fetches`` row written since ADR 0406 has an ``EvidenceRecord.EvidenceStored`` event carrying the
same values, appended in the row's transaction with the body's hash on its chain row. A row with no event, an
event with no row (deleted), or a field that differs means the index was changed outside the code that writes
it. Rows older than the first chained fetch were never evidenced by an event: they are counted, not failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import Connection

from paulp.domain.evidence_records import EvidenceRecord

TOPIC = f"{EvidenceRecord.__module__}:{EvidenceRecord.EvidenceStored.__qualname__}"

# One pass over both sides; only disagreeing pairs come back. Each field is compared as PostgreSQL reads it
# (timestamptz, jsonb), so formatting differences in the event body are not reported as edits.
_MISMATCHES = """
WITH ev AS (
    SELECT e.notification_id, c.evidence_hash AS chained, convert_from(e.state, 'UTF8')::jsonb AS b
    FROM paulp_events e JOIN audit_chain c USING (notification_id)
    WHERE e.topic = %(topic)s
), first_chained AS (SELECT min((b->>'fetch_id')::bigint) AS id FROM ev)
SELECT * FROM (
SELECT f.id, (ev.b->>'fetch_id')::bigint AS event_fetch, ev.notification_id,
       CASE
         WHEN ev.b IS NULL THEN 'no_event'
         WHEN f.id IS NULL THEN 'no_row'
         WHEN ev.chained IS DISTINCT FROM f.evidence_hash THEN 'evidence_hash'
         WHEN ev.b->>'evidence_hash' IS DISTINCT FROM f.evidence_hash THEN 'evidence_hash'
         WHEN ev.b->>'source' IS DISTINCT FROM f.source THEN 'source'
         WHEN ev.b->>'endpoint' IS DISTINCT FROM f.endpoint THEN 'endpoint'
         WHEN ev.b->>'method' IS DISTINCT FROM f.request_method THEN 'method'
         WHEN (ev.b->>'params')::jsonb IS DISTINCT FROM f.request_params THEN 'params'
         WHEN (ev.b->>'status')::integer IS DISTINCT FROM f.response_status THEN 'status'
         WHEN (ev.b->'fetched_at'->>'_data_')::timestamptz IS DISTINCT FROM f.fetched_at THEN 'fetched_at'
         WHEN (ev.b->>'size')::bigint IS DISTINCT FROM bl.response_size_bytes THEN 'size'
       END AS problem
FROM evidence_fetches f
LEFT JOIN evidence_blobs bl ON bl.evidence_hash = f.evidence_hash
FULL JOIN ev ON (ev.b->>'fetch_id')::bigint = f.id
CROSS JOIN first_chained
WHERE NOT (ev.b IS NULL AND (first_chained.id IS NULL OR f.id < first_chained.id))
) pairs WHERE problem IS NOT NULL
ORDER BY coalesce(id, event_fetch)
"""
_UNCHAINED = """
SELECT count(*) FROM evidence_fetches
WHERE id < coalesce((SELECT min((convert_from(state, 'UTF8')::jsonb->>'fetch_id')::bigint)
                     FROM paulp_events WHERE topic = %(topic)s), 9223372036854775807)
"""


@dataclass(frozen=True)
class IndexMismatch:
    """One fetch whose index row and chained event disagree; ``problem`` names the first field that differs,
    or ``no_event`` (row added or event lost) / ``no_row`` (row deleted)."""

    fetch_id: int
    notification_id: int | None
    problem: str

    def describe(self) -> str:
        where = f"fetch {self.fetch_id}" + (f" (event {self.notification_id})" if self.notification_id else "")
        return {"no_event": f"{where}: index row has no EvidenceStored event",
                "no_row": f"{where}: EvidenceStored event has no index row (deleted)"}.get(
            self.problem, f"{where}: index {self.problem} differs from its EvidenceStored event")


@dataclass(frozen=True)
class IndexReport:
    mismatches: list[IndexMismatch]
    unchained_rows: int  # written before ADR 0406; not checkable

    @property
    def valid(self) -> bool:
        return not self.mismatches


def check_index(conn: Connection[Any]) -> IndexReport:
    """Every chained fetch compared with its row; read-only, one statement each."""
    params = {"topic": TOPIC}
    rows = conn.execute(_MISMATCHES, params).fetchall()
    bad = [IndexMismatch(int(row_id if row_id is not None else event_fetch), nid, str(problem))
           for row_id, event_fetch, nid, problem in rows]
    unchained = conn.execute(_UNCHAINED, params).fetchone()
    return IndexReport(bad, int(unchained[0]) if unchained else 0)
