"""sources and citations views (api-and-security §4.8; ADR 0432): the registry as the CLI reads it."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from psycopg import Cursor
from psycopg.types.json import Jsonb

from paulp.domain.sources import Citation, Source, citation_number


def _one(cur: Cursor[Any], sql: str, params: tuple[Any, ...], what: str) -> None:
    if cur.execute(sql, params).fetchone() is None:  # the aggregate only changes what it recorded
        raise LookupError(f"{what} not in the view")


class SourcesProjection:
    name = "sources"
    tables = ("sources", "citations")

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events this view does not show."""

    @apply.register
    def _(self, e: Source.Registered, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "INSERT INTO sources (source_id, source_type, source_url, source_vendor, quality, evidence_hash,"
            " blob_stored, fetched_at, expires_at, metadata, lineage, registered_by, notification_id)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (source_id) DO NOTHING",
            (e.source_id, e.source_type, e.source_url, e.vendor, e.quality, e.evidence_hash, e.blob_stored,
             e.fetched_at, e.expires_at, Jsonb(e.metadata), e.lineage, e.actor, notification_id))

    @apply.register
    def _(self, e: Source.Expired, cur: Cursor[Any], notification_id: int) -> None:
        _one(cur, "UPDATE sources SET expired_at = %s WHERE source_id = %s RETURNING 1", (e.at, e.source_id),
             f"expiry of source {e.source_id}")

    @apply.register
    def _(self, e: Citation.Recorded, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "INSERT INTO citations (citation_id, citation_number, claim_text, source_type, url, title, author,"
            " publication_date, retrieved_at, evidence_hash, computation_code_ref, input_evidence_hashes,"
            " auto_reverify_days, expires_at, confidence_level, status, recorded_by, notification_id)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'active', %s, %s)"
            " ON CONFLICT (citation_id) DO NOTHING",
            (e.citation_id, citation_number(e.citation_id), e.claim_text, e.source_type, e.url, e.title, e.author,
             e.publication_date, e.retrieved_at, e.evidence_hash, e.computation_code_ref, e.input_evidence_hashes,
             e.auto_reverify_days, e.expires_at, e.confidence_level, e.actor, notification_id))

    @apply.register
    def _(self, e: Citation.Verified, cur: Cursor[Any], notification_id: int) -> None:
        _one(cur, "UPDATE citations SET last_verification = %s, verified_current_at = CASE WHEN %s THEN %s ELSE"
             " verified_current_at END WHERE citation_id = %s RETURNING 1",
             (f"{e.at.isoformat()} by {e.actor}: {e.detail}", e.passed, e.at, e.citation_id),
             f"verification of {e.citation_id}")

    @apply.register
    def _(self, e: Citation.StatusChanged, cur: Cursor[Any], notification_id: int) -> None:
        _one(cur, "UPDATE citations SET status = %s, status_reason = %s WHERE citation_id = %s RETURNING 1",
             (e.status, f"{e.reason} ({e.actor}, {e.at.isoformat()})", e.citation_id),
             f"status change of {e.citation_id}")
