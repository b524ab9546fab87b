"""Audit verification against the database: §5.2 on the chain, plus each chain row against its stored event.

The chain alone cannot see an edited event row, so every chain record's payload is recomputed from the
``paulp_events`` row it names, and every event in range must have its chain record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row

from paulp.adapters.eventstore.chain import canonical_payload, record_from_row
from paulp.domain.audit import VerificationResult, verify_range


@dataclass(frozen=True)
class EventMismatch:
    sequence: int
    notification_id: int
    kind: str  # "event_payload" | "event_missing" | "chain_missing"
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"sequence": self.sequence, "notificationId": self.notification_id, "kind": self.kind,
                "detail": self.detail}


@dataclass(frozen=True)
class AuditReport:
    chain: VerificationResult
    event_mismatches: list[EventMismatch] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.chain.valid and not self.event_mismatches

    @property
    def first_bad_sequence(self) -> int | None:
        seqs = [*self.chain.gaps, *(b.sequence for b in self.chain.broken_links),
                *(m.sequence for m in self.event_mismatches)]
        return min(seqs) if seqs else None

    def to_dict(self) -> dict[str, Any]:
        return {**self.chain.to_dict(), "valid": self.valid,
                "eventMismatches": [m.to_dict() for m in self.event_mismatches],
                "firstBadSequence": self.first_bad_sequence}


def chain_head(conn: psycopg.Connection[Any]) -> tuple[int, str]:
    row = conn.execute("SELECT chain_seq, hash FROM audit_chain ORDER BY chain_seq DESC LIMIT 1").fetchone()
    return (int(row[0]), str(row[1])) if row else (0, "genesis")


def verify(database_url: str, start: int = 1, end: int | None = None) -> AuditReport:
    with psycopg.connect(database_url) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        if end is None:
            end = chain_head(conn)[0]
        cur = conn.cursor(row_factory=dict_row)
        rows = cur.execute(
            "SELECT c.*, e.state AS event_state, e.notification_id AS event_nid FROM audit_chain c"
            " LEFT JOIN paulp_events e ON e.notification_id = c.notification_id"
            " WHERE c.chain_seq BETWEEN %s AND %s ORDER BY c.chain_seq",
            (start, end),
        ).fetchall()
        records, mismatches = [], []
        for r in rows:
            records.append(record_from_row(r))
            if r["event_nid"] is None:
                mismatches.append(EventMismatch(r["chain_seq"], r["notification_id"], "event_missing",
                                                "chain record names an event that is not in the log"))
                continue
            payload, _ = canonical_payload(bytes(r["event_state"]))
            if payload != r["payload"]:
                mismatches.append(EventMismatch(r["chain_seq"], r["notification_id"], "event_payload",
                                                "stored event differs from its chained payload"))
        if rows:
            lo, hi = rows[0]["notification_id"], rows[-1]["notification_id"]
            for (nid,) in conn.execute(
                "SELECT e.notification_id FROM paulp_events e LEFT JOIN audit_chain c"
                " ON c.notification_id = e.notification_id"
                " WHERE e.notification_id BETWEEN %s AND %s AND c.chain_seq IS NULL ORDER BY 1",
                (lo, hi),
            ):
                prior = max((x["chain_seq"] for x in rows if x["notification_id"] < nid), default=start)
                mismatches.append(EventMismatch(prior + 1, nid, "chain_missing", "event has no chain record"))
    return AuditReport(verify_range(records, start, end), mismatches)
