"""One evidence blob as an auditor asks about it (api-and-security §4.3, §4.4; ADR 0430): its index row, every
fetch that produced it, every event that used it, and whether the bytes on disk still hash to its name.

Verification re-reads the blob and stamps the index row (``verified_at``, ``verification_passed``), the two
columns §4.3 defines for it; the blob and the log are never changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import Connection
from psycopg.rows import dict_row

from paulp.adapters.evidence_store import EvidenceNotFound, EvidenceStore
from paulp.domain.clock import iso_utc
from paulp.domain.evidence import check_evidence_hash

_BLOB = ("SELECT evidence_hash, r2_key, source, endpoint, request_method, request_params, fetched_at,"
         " response_status, response_size_bytes, verified_at, verification_passed FROM evidence_blobs"
         " WHERE evidence_hash = %s")
_FETCHES = ("SELECT id, source, endpoint, request_method, request_params, response_status, fetched_at"
            " FROM evidence_fetches WHERE evidence_hash = %s ORDER BY id")
_USAGE = ("SELECT notification_id, derived_entity_type, derived_entity_id, extraction_path, extracted_at"
          " FROM views.evidence_usage WHERE evidence_hash = %s ORDER BY notification_id")
_STAMP = "UPDATE evidence_blobs SET verified_at = %s, verification_passed = %s WHERE evidence_hash = %s"


def _json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: iso_utc(v) if isinstance(v, datetime) else v for k, v in row.items()}


@dataclass(frozen=True)
class BlobCheck:
    evidence_hash: str
    indexed: bool
    passed: bool
    problem: str | None = None  # "not indexed", "blob missing", the mismatch message

    def to_json(self) -> dict[str, Any]:
        return {"evidenceHash": self.evidence_hash, "indexed": self.indexed, "passed": self.passed,
                "problem": self.problem}


def check_blob(store: EvidenceStore, evidence_hash: str, indexed: bool) -> BlobCheck:
    """§4.4: read, recompute SHA-256; a blob the index names but the disk lacks fails, as does one that cannot
    be read (with why) and one the index does not know (nothing vouches for where it came from)."""
    failure = store.check(evidence_hash)
    if failure is not None:
        return BlobCheck(evidence_hash, indexed, False,
                         "blob missing" if isinstance(failure, EvidenceNotFound) else str(failure))
    return BlobCheck(evidence_hash, indexed, indexed, None if indexed else "not indexed")


def describe(conn: Connection[Any], store: EvidenceStore, evidence_hash: str) -> dict[str, Any] | None:
    """Everything known about one hash, or None when neither the index nor the log nor the disk knows it."""
    h = check_evidence_hash(evidence_hash)
    with conn.cursor(row_factory=dict_row) as cur:
        blob = cur.execute(_BLOB, (h,)).fetchone()
        fetches = cur.execute(_FETCHES, (h,)).fetchall()
        usage = cur.execute(_USAGE, (h,)).fetchall()
    if blob is None and not usage and not store.exists(h):
        return None
    check = check_blob(store, h, blob is not None)
    return {"evidenceHash": h, "index": None if blob is None else _json(blob),
            "fetches": [_json(f) for f in fetches], "usage": [_json(u) for u in usage], "check": check.to_json()}


def indexed_hashes(conn: Connection[Any], since: datetime | None = None, source: str | None = None) -> list[str]:
    rows = conn.execute("SELECT evidence_hash FROM evidence_blobs WHERE (%(since)s::timestamptz IS NULL OR"
                        " fetched_at >= %(since)s) AND (%(source)s::text IS NULL OR source = %(source)s)"
                        " ORDER BY fetched_at, evidence_hash", {"since": since, "source": source}).fetchall()
    return [r[0] for r in rows]


def verify(conn: Connection[Any], store: EvidenceStore, hashes: Iterable[str], now: datetime) -> list[BlobCheck]:
    """Check each blob and stamp its index row with the outcome (each row in its own statement: a long run
    interrupted keeps what it verified)."""
    targets = [check_evidence_hash(h) for h in hashes]
    indexed_set = {r[0] for r in conn.execute("SELECT evidence_hash FROM evidence_blobs WHERE evidence_hash = ANY(%s)",
                                              (targets,)).fetchall()}
    out: list[BlobCheck] = []
    for h in targets:
        indexed = h in indexed_set
        result = check_blob(store, h, indexed)
        if indexed:
            conn.execute(_STAMP, (now, result.passed, h))
        out.append(result)
    return out
