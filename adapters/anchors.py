"""Audit anchors (api-and-security §5.3, §5.5): the chain head pinned in a separately credentialed store.

Anchors go to ``PAULP_ANCHOR_DATABASE_URL`` when set (a separate database, ideally reached with an
INSERT-only role), else to schema ``audit_anchor`` of the primary database, whose grants allow the role
``paulp_anchor_writer`` only INSERT and SELECT. Rows are never updated: verification outcomes are
separate ``anchor_verifications`` rows.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from paulp.adapters.audit_mirror import mirror_state
from paulp.adapters.audit_store import AuditReport, chain_head, chain_snapshot, verify
from paulp.domain.audit_anchors import (
    Anchor,
    AnchorCheck,
    AnchorsResult,
    Link,
    anchor_for_ordered,
    verify_anchors_and_pin,
    verify_anchors_ordered,
)
from paulp.domain.audit_plan import PriorVerification, VerificationPlan, full, plan_verification

STREAM_ROWS = 10_000  # chain rows fetched per round trip when streaming the chain

ANCHOR_DDL = """
CREATE SCHEMA IF NOT EXISTS audit_anchor;
CREATE TABLE IF NOT EXISTS audit_anchor.anchors (
    id                    text PRIMARY KEY,
    anchor_sequence       bigint NOT NULL UNIQUE,
    chain_head_hash       text NOT NULL,
    chain_length          bigint NOT NULL,
    first_event_id        text,
    last_event_id         text,
    snapshot_hash         text,
    anchored_to           text NOT NULL,
    anchor_timestamp      timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_anchor.anchor_verifications (
    id                      bigserial PRIMARY KEY,
    anchor_id               text,
    verified_at             timestamptz NOT NULL,
    valid                   boolean NOT NULL,
    checked_through_sequence bigint NOT NULL,
    reason                  text
);
-- ADR 0506: whether a run walked the chain from genesis or only from `from_sequence` (rows before it: full)
ALTER TABLE audit_anchor.anchor_verifications ADD COLUMN IF NOT EXISTS mode text NOT NULL DEFAULT 'full';
ALTER TABLE audit_anchor.anchor_verifications ADD COLUMN IF NOT EXISTS from_sequence bigint NOT NULL DEFAULT 1;
CREATE OR REPLACE FUNCTION audit_anchor.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
DROP TRIGGER IF EXISTS anchors_append_only ON audit_anchor.anchors;
CREATE TRIGGER anchors_append_only BEFORE UPDATE OR DELETE ON audit_anchor.anchors
    FOR EACH ROW EXECUTE FUNCTION audit_anchor.refuse_change();
DROP TRIGGER IF EXISTS verifications_append_only ON audit_anchor.anchor_verifications;
CREATE TRIGGER verifications_append_only BEFORE UPDATE OR DELETE ON audit_anchor.anchor_verifications
    FOR EACH ROW EXECUTE FUNCTION audit_anchor.refuse_change();
"""


_ENSURED: set[str] = set()


def ensure_anchor_store(anchor_url: str) -> None:
    """Create the anchor tables once per process and store (DDL takes locks: never on every call)."""
    if anchor_url in _ENSURED:
        return
    with psycopg.connect(anchor_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('paulp/anchor-ddl'))")
        conn.execute(ANCHOR_DDL)
        conn.execute("SELECT pg_advisory_unlock(hashtext('paulp/anchor-ddl'))")
    _ENSURED.add(anchor_url)


def links(conn: psycopg.Connection[Any], batch: int = STREAM_ROWS) -> Iterator[Link]:
    """(sequence, event id, hash) of every chain row in order, through a server-side cursor: memory stays
    at one batch however long the chain grows (the hourly job reads all of it)."""
    with conn.cursor(name="paulp_chain_links") as cur:
        cur.itersize = batch
        cur.execute("SELECT chain_seq, event_id, hash FROM audit_chain ORDER BY chain_seq")
        for seq, event_id, digest in cur:
            yield Link(int(seq), str(event_id), str(digest))


def verify_stored_anchors(database_url: str, anchor_url: str, batch: int = STREAM_ROWS) -> AnchorsResult:
    """Every stored anchor against one streamed pass over the chain (§5.3)."""
    anchors = load_anchors(anchor_url)
    with chain_snapshot(database_url) as conn:
        return verify_anchors_ordered(links(conn, batch), anchors)


def pin_and_verify_anchors(database_url: str, anchor_url: str, now: datetime | None = None,
                           batch: int = STREAM_ROWS) -> AnchorsResult:
    """Every stored anchor checked and a new one pinned in one streamed pass over one snapshot (ADR 0509). The
    new anchor is stored after the pass and listed last as valid: it was computed from the records it names
    (§5.3's ``anchor_insert_self_verified``), as ``write_anchor``'s were; the next run checks it again."""
    anchors = load_anchors(anchor_url)
    with chain_snapshot(database_url) as conn:
        result, pinned = verify_anchors_and_pin(links(conn, batch), anchors, new_anchor_id())
    stored = store_anchor(database_url, anchor_url, pinned, now)
    return AnchorsResult(result.verified + 1, result.failed, (*result.anchors, AnchorCheck(stored.id, True)))


def load_anchors(anchor_url: str) -> list[Anchor]:
    ensure_anchor_store(anchor_url)
    with psycopg.connect(anchor_url) as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("SELECT * FROM audit_anchor.anchors ORDER BY anchor_sequence").fetchall()
    return [Anchor.from_mapping(r) for r in rows]


def write_anchor(database_url: str, anchor_url: str, now: datetime | None = None,
                 batch: int = STREAM_ROWS) -> Anchor:
    """Pin the current head (and the snapshot hash of everything up to it), streamed from one snapshot."""
    ensure_anchor_store(anchor_url)
    with chain_snapshot(database_url) as conn:
        pinned = anchor_for_ordered(links(conn, batch), new_anchor_id(), 0)
    return store_anchor(database_url, anchor_url, pinned, now)


def new_anchor_id() -> str:
    return f"anchor-{secrets.token_hex(8)}"


def store_anchor(database_url: str, anchor_url: str, pinned: Anchor, now: datetime | None = None) -> Anchor:
    """Append ``pinned`` with the next anchor sequence (serialised by an advisory lock on the anchor store)."""
    with psycopg.connect(anchor_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('paulp/anchor-seq'))")
        try:
            row = conn.execute("SELECT coalesce(max(anchor_sequence), 0) FROM audit_anchor.anchors").fetchone()
            anchor = dataclasses.replace(pinned, anchor_sequence=int(row[0]) + 1 if row else 1)
            target = "d1_secondary" if anchor_url != database_url else "same_database_schema"
            conn.execute(
                "INSERT INTO audit_anchor.anchors (id, anchor_sequence, chain_head_hash, chain_length, first_event_id,"
                " last_event_id, snapshot_hash, anchored_to, anchor_timestamp) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                (anchor.id, anchor.anchor_sequence, anchor.chain_head_hash, anchor.chain_length,
                 anchor.first_event_id, anchor.last_event_id, anchor.snapshot_hash, target, now or datetime.now(UTC)),
            )
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext('paulp/anchor-seq'))")
    return anchor


FULL_REQUESTED = full("full verification requested")


@dataclass(frozen=True)
class VerificationOutcome:
    chain: AuditReport
    anchors: AnchorsResult
    verified_at: datetime
    plan: VerificationPlan = FULL_REQUESTED

    @property
    def valid(self) -> bool:
        return self.chain.valid and self.anchors.failed == 0

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "verifiedAt": self.verified_at.isoformat(), "mode": self.plan.mode,
                "fromSequence": self.plan.start, "why": self.plan.why, "chain": self.chain.to_dict(),
                "anchors": self.anchors.to_dict()}


def _plan_next(database_url: str, anchor_url: str, now: datetime, full_every: timedelta | None) -> VerificationPlan:
    """Read the newest verification (with the length of the anchor it verified), the newest valid full one
    and the chain head, and decide what the next run walks (ADR 0506). The caller has ensured the anchor store."""
    with psycopg.connect(anchor_url) as conn:
        last = conn.execute(
            "SELECT v.valid, v.checked_through_sequence, a.chain_length FROM audit_anchor.anchor_verifications v"
            " LEFT JOIN audit_anchor.anchors a ON a.id = v.anchor_id ORDER BY v.id DESC LIMIT 1").fetchone()
        last_full = conn.execute(
            "SELECT verified_at FROM audit_anchor.anchor_verifications WHERE mode = 'full' AND valid"
            " ORDER BY id DESC LIMIT 1").fetchone()
    with psycopg.connect(database_url) as conn:
        head = chain_head(conn)[0]
    prior = None if last is None else PriorVerification(bool(last[0]), int(last[1]),
                                                        None if last[2] is None else int(last[2]))
    return plan_verification(prior, last_full[0] if last_full else None, head, now, full_every)


def verify_all(database_url: str, anchor_url: str, now: datetime | None = None,
               full_every: timedelta | None = None, pin: bool = False) -> VerificationOutcome:
    """The chain (links, payloads, record hashes, gaps, events) and every anchor; the outcome is recorded.
    ``full_every`` None walks the whole chain; otherwise the walk resumes after the last valid run unless a full
    one is due (``plan_verification``, ADR 0506). Every anchor is checked either way. ``pin`` also anchors the
    chain in the anchors' pass (the hourly job, ADR 0509), so the chain's hashes are read once for both."""
    ensure_anchor_store(anchor_url)
    at = now or datetime.now(UTC)
    plan = _plan_next(database_url, anchor_url, at, full_every)
    chain = verify(database_url, plan.start, linked=plan.mode == "incremental")
    result = pin_and_verify_anchors(database_url, anchor_url, at) if pin else verify_stored_anchors(
        database_url, anchor_url)
    outcome = VerificationOutcome(chain, result, at, plan)
    with psycopg.connect(anchor_url, autocommit=True) as conn:
        reason = None if outcome.valid else (
            f"first bad sequence {chain.first_bad_sequence}" if not chain.valid
            else "; ".join(a.reason or "" for a in result.anchors if not a.valid))
        last = result.anchors[-1].id if result.anchors else None
        conn.execute(
            "INSERT INTO audit_anchor.anchor_verifications (anchor_id, verified_at, valid, checked_through_sequence,"
            " reason, mode, from_sequence) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (last, at, outcome.valid, chain.chain.last_sequence, reason, plan.mode, plan.start))
    return outcome


def latest_status(database_url: str, anchor_url: str, mirror_root: Path | None = None) -> dict[str, Any]:
    """§1.3 audit status; ``unsyncedEvents`` counts the chain records past the audit mirror's position (all
    of them while no mirror is configured or written), as the spec defines it (ADR 0385)."""
    ensure_anchor_store(anchor_url)
    with psycopg.connect(anchor_url) as conn, conn.cursor(row_factory=dict_row) as cur:
        anchor = cur.execute("SELECT * FROM audit_anchor.anchors ORDER BY anchor_sequence DESC LIMIT 1").fetchone()
        check = cur.execute(
            "SELECT verified_at, valid, checked_through_sequence FROM audit_anchor.anchor_verifications"
            " ORDER BY id DESC LIMIT 1").fetchone()
        full_check = cur.execute(
            "SELECT verified_at, valid, checked_through_sequence FROM audit_anchor.anchor_verifications"
            " WHERE mode = 'full' ORDER BY id DESC LIMIT 1").fetchone()
    with psycopg.connect(database_url) as conn:
        # totalEvents is the chain head's sequence: every event gets its chain row, numbered 1, 2, ... without a
        # gap, in the transaction that appends it (migration 0040), so the head's number is the event count; a
        # count(*) of the log read every row of it (190 ms at a million events, ADR 0518).
        head = conn.execute("SELECT chain_seq, hash FROM audit_chain ORDER BY chain_seq DESC LIMIT 1").fetchone()
        mirror = mirror_state(conn, mirror_root)
    return {
        "latestAnchor": None if anchor is None else {k: (v.isoformat() if isinstance(v, datetime) else v)
                                                     for k, v in anchor.items()},
        "totalEvents": int(head[0]) if head else 0,
        "chainHead": {"sequence": head[0], "hash": head[1]} if head else {"sequence": 0, "hash": "genesis"},
        "unsyncedEvents": max(0, (head[0] if head else 0) - (mirror.position if mirror else 0)),
        "mirror": mirror.to_dict() if mirror else None,
        "lastVerification": _verification(check),
        "lastFullVerification": _verification(full_check),  # ADR 0506: the hourly run may be incremental
    }


def _verification(row: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if row is None else {"at": row["verified_at"].isoformat(), "valid": row["valid"],
                                     "checkedThroughSequence": row["checked_through_sequence"]}
