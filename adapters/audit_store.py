"""Audit verification against the database: §5.2 on the chain, plus each chain row against its stored event.

The chain alone cannot see an edited event row, so every chain record's payload is recomputed from the
``paulp_events`` row it names, and every event in range must have its chain record.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row

from paulp.adapters.eventstore.chain import canonical_payload, record_from_row
from paulp.domain.audit import RangeWalk, VerificationResult


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


@contextmanager
def chain_snapshot(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection inside one REPEATABLE READ transaction: every read of the chain (and of its events) sees
    the same moment, however long a streamed pass takes."""
    with psycopg.connect(database_url) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield conn


def verify(database_url: str, start: int = 1, end: int | None = None, batch: int = 5_000, *,
           linked: bool = False) -> AuditReport:
    """§5.2 over ``[start, end]`` plus every chain row against its event, in one streamed pass (a
    server-side cursor, ``batch`` rows per round trip) over one snapshot: memory holds a batch and the
    findings, not the chain. ``linked`` (the incremental audit job, ADR 0506) also link-checks record ``start``
    against the stored hash of record ``start - 1`` (a gap when it is missing) and looks for unchained events
    from that record's event on; §5.2's range, served by the API and the CLI, does not."""
    with chain_snapshot(database_url) as conn:
        if end is None:
            end = chain_head(conn)[0]
        walk = RangeWalk(start, end, linked=linked)
        before = start - 1 if linked and start > 1 else start
        mismatches: list[EventMismatch] = []
        first_nid: int | None = None
        last_nid: int | None = None
        with conn.cursor(name="paulp_chain_verify", row_factory=dict_row) as cur:
            cur.itersize = batch
            cur.execute(
                "SELECT c.*, e.state AS event_state, e.notification_id AS event_nid FROM audit_chain c"
                " LEFT JOIN paulp_events e ON e.notification_id = c.notification_id"
                " WHERE c.chain_seq BETWEEN %s AND %s ORDER BY c.chain_seq",
                (before, end),
            )
            for r in cur:
                walk.feed(record_from_row(r))
                first_nid = r["notification_id"] if first_nid is None else first_nid
                if r["chain_seq"] < start:
                    continue  # the linked record before the range: its event is not judged here
                last_nid = r["notification_id"]
                mismatch = _event_mismatch(r)
                if mismatch is not None:
                    mismatches.append(mismatch)
        if first_nid is not None and last_nid is not None:
            mismatches.extend(_unchained_events(conn, first_nid, last_nid, before, end))
    return AuditReport(walk.result(), mismatches)


def _event_mismatch(r: dict[str, Any]) -> EventMismatch | None:
    if r["event_nid"] is None:
        return EventMismatch(r["chain_seq"], r["notification_id"], "event_missing",
                             "chain record names an event that is not in the log")
    payload, _ = canonical_payload(bytes(r["event_state"]))
    if payload != r["payload"]:
        return EventMismatch(r["chain_seq"], r["notification_id"], "event_payload",
                             "stored event differs from its chained payload")
    return None


def _unchained_events(conn: psycopg.Connection[Any], lo: int, hi: int, start: int, end: int) -> list[EventMismatch]:
    """Events between the range's first and last chained notification ids that have no chain record; each is
    reported at the sequence after the last chain record before it in the range."""
    rows = conn.execute(
        "SELECT e.notification_id, (SELECT max(p.chain_seq) FROM audit_chain p WHERE p.notification_id"
        " < e.notification_id AND p.chain_seq BETWEEN %s AND %s) FROM paulp_events e LEFT JOIN audit_chain c"
        " ON c.notification_id = e.notification_id"
        " WHERE e.notification_id BETWEEN %s AND %s AND c.chain_seq IS NULL ORDER BY 1",
        (start, end, lo, hi),
    ).fetchall()
    return [EventMismatch((prior if prior is not None else start) + 1, nid, "chain_missing",
                          "event has no chain record") for nid, prior in rows]
