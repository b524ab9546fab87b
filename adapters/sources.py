"""Reads of the sources registry views and §4.8's verification against the evidence store (ADR 0432)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection
from psycopg.rows import dict_row

from paulp.adapters.evidence_store import EvidenceHashMismatch, EvidenceStore
from paulp.domain.clock import iso_utc

_SOURCE_COLUMNS = ("source_id, source_type, source_url, source_vendor, quality, evidence_hash, blob_stored,"
                   " fetched_at, expires_at, expired_at, metadata, lineage, registered_by")
NOT_FOUND = "Source not found"
BLOB_MISSING = "Evidence blob not found"
MISMATCH = "Evidence hash mismatch - data may be corrupted"


def _json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: iso_utc(v) if isinstance(v, datetime) else v for k, v in row.items()}


def _rows(conn: Connection[Any], sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return [_json(r) for r in cur.execute(sql, params).fetchall()]


def source_row(conn: Connection[Any], source_id: str) -> dict[str, Any] | None:
    found = _rows(conn, f"SELECT {_SOURCE_COLUMNS} FROM views.sources WHERE source_id = %s", (source_id,))
    return found[0] if found else None


def list_sources(conn: Connection[Any], vendor: str | None, limit: int = 100) -> list[dict[str, Any]]:
    """Newest first (§4.8: list by vendor, default 100)."""
    return _rows(conn, f"SELECT {_SOURCE_COLUMNS} FROM views.sources WHERE (%s::text IS NULL OR source_vendor = %s)"
                       " ORDER BY fetched_at DESC, source_id LIMIT %s", (vendor, vendor, limit))


def latest_by_hash(conn: Connection[Any], evidence_hash: str) -> dict[str, Any] | None:
    found = _rows(conn, f"SELECT {_SOURCE_COLUMNS} FROM views.sources WHERE evidence_hash = %s"
                        " ORDER BY fetched_at DESC, source_id LIMIT 1", (evidence_hash,))
    return found[0] if found else None


def stats(conn: Connection[Any]) -> dict[str, Any]:
    """Count, the quality histogram, and how many have expired."""
    rows = conn.execute("SELECT quality, count(*), count(expired_at) FROM views.sources GROUP BY quality"
                        " ORDER BY quality").fetchall()
    return {"count": sum(r[1] for r in rows), "expired": sum(r[2] for r in rows),
            "byQuality": {q: n for q, n, _ in rows}}


def due_sources(conn: Connection[Any], now: datetime) -> list[str]:
    return [r[0] for r in conn.execute("SELECT source_id FROM views.sources WHERE expired_at IS NULL AND"
                                       " expires_at <= %s ORDER BY expires_at, source_id", (now,)).fetchall()]


def verify_source(row: dict[str, Any] | None, store: EvidenceStore) -> dict[str, Any]:
    """§4.8 verify: an unknown source, a missing blob or a blob whose bytes no longer hash to the recorded hash
    is invalid with the reason; a source without a blob (computed, manual) is valid."""
    if row is None:
        return {"valid": False, "reasons": [NOT_FOUND]}
    failure = store.check(row["evidence_hash"]) if row["blob_stored"] else None
    if failure is None:
        return {"valid": True, "reasons": []}
    # §4.8's closed reasons: bytes that no longer hash to the name are a mismatch; a blob that cannot be read
    # (a folder at its name, an I/O error) is as not found as a deleted one (ADR 0516)
    return {"valid": False, "reasons": [MISMATCH if isinstance(failure, EvidenceHashMismatch) else BLOB_MISSING]}


_CITATION_COLUMNS = ("citation_id, claim_text, source_type, url, title, author, publication_date, retrieved_at,"
                     " evidence_hash, computation_code_ref, input_evidence_hashes, auto_reverify_days, expires_at,"
                     " confidence_level, status, verified_current_at, last_verification, status_reason, recorded_by")


def citations(conn: Connection[Any], status: str | None = None, cid: str | None = None) -> list[dict[str, Any]]:
    return _rows(conn, f"SELECT {_CITATION_COLUMNS} FROM views.citations WHERE (%s::text IS NULL OR status = %s)"
                       " AND (%s::text IS NULL OR citation_id = %s) ORDER BY citation_number",
                 (status, status, cid, cid))


def citations_claiming(conn: Connection[Any], claim: str) -> list[str]:
    """Ids of the view's active citations of ``claim``: candidates for a citation recorded before it had a
    ``ClaimKey`` (ADR 0527); the service confirms each against the log."""
    return [r[0] for r in conn.execute(
        "SELECT citation_id FROM views.citations WHERE claim_text = %s AND status = 'active'"
        " ORDER BY citation_number LIMIT 20", (claim,)).fetchall()]


def next_citation_number(conn: Connection[Any]) -> int:
    row = conn.execute("SELECT coalesce(max(citation_number), 0) + 1 FROM views.citations").fetchone()
    return int(row[0]) if row else 1


def due_citations(conn: Connection[Any], now: datetime) -> tuple[list[str], list[str]]:
    """(past their expiry, due for re-verification) among citations not retracted or expired."""
    expired = [r[0] for r in conn.execute(
        "SELECT citation_id FROM views.citations WHERE status NOT IN ('retracted', 'expired') AND expires_at <= %s"
        " ORDER BY citation_number", (now,)).fetchall()]
    reverify = [r[0] for r in conn.execute(
        "SELECT citation_id FROM views.citations WHERE status NOT IN ('retracted', 'expired')"
        " AND auto_reverify_days IS NOT NULL"
        " AND coalesce(verified_current_at, retrieved_at) + make_interval(days => auto_reverify_days) <= %s"
        " ORDER BY citation_number", (now,)).fetchall()]
    return expired, reverify


def failed_blobs(store: EvidenceStore, hashes: list[str]) -> list[str]:
    """The cited hashes whose blob is missing or altered (§4.4)."""
    return [h for h in hashes if store.check(h) is not None]
