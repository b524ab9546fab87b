"""One external fetch as an event in the log, so the audit chain covers provenance (api-and-security §4.6; ADR 0406).

The ``evidence_fetches`` row is an index any writer of that table can edit or delete. The event below carries
the same fields, is written in the row's own transaction and is chained with the body's hash, so an edited or
missing row no longer matches the log and verification says so. One write-once aggregate per fetch row: a fetch
has no later life to model, and one stream per fetch needs no read before the append.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from paulp.domain.errors import DomainError
from paulp.domain.evidence import check_evidence_hash
from paulp.domain.namespace import PAULP_NAMESPACE


class InvalidEvidenceRecord(DomainError):
    """Raised when a fetch cannot be recorded as given: no time zone, a negative size, an empty source."""

    code = "invalid_evidence_record"


class EvidenceRecord(Aggregate):
    class EvidenceStored(Aggregate.Created):
        fetch_id: int
        evidence_hash: str
        source: str
        endpoint: str
        method: str
        params: str | None  # canonical JSON of the redacted request parameters, as indexed
        status: int | None
        size: int
        fetched_at: datetime

    @staticmethod
    def create_id(fetch_id: int, source: str, endpoint: str, evidence_hash: str, fetched_at: datetime) -> UUID:
        """The index row's id plus what it says: a retried record lands on the same stream and is refused."""
        return uuid5(PAULP_NAMESPACE, f"evidence/{fetch_id}/{source}/{endpoint}/{evidence_hash}/"
                                      f"{fetched_at.isoformat()}")

    @classmethod
    def record(cls, fetch_id: int, evidence_hash: str, source: str, endpoint: str, method: str,
               params: str | None, status: int | None, size: int, fetched_at: datetime) -> EvidenceRecord:
        if fetched_at.tzinfo is None or fetched_at.utcoffset() is None:
            raise InvalidEvidenceRecord(f"fetched_at must carry a time zone, got {fetched_at.isoformat()}")
        if size < 0:
            raise InvalidEvidenceRecord(f"size must be >= 0, got {size}")
        if not source.strip() or not endpoint.strip() or not method.strip():
            raise InvalidEvidenceRecord("source, endpoint and method must be non-empty")
        digest = check_evidence_hash(evidence_hash)
        record: EvidenceRecord = cls._create(
            cls.EvidenceStored, id=cls.create_id(fetch_id, source, endpoint, digest, fetched_at),
            fetch_id=fetch_id, evidence_hash=digest, source=source, endpoint=endpoint, method=method.upper(),
            params=params, status=status, size=size, fetched_at=fetched_at)
        return record

    def __init__(self, fetch_id: int, evidence_hash: str, source: str, endpoint: str, method: str,
                 params: str | None, status: int | None, size: int, fetched_at: datetime) -> None:
        self.fetch_id, self.evidence_hash, self.source, self.endpoint = fetch_id, evidence_hash, source, endpoint
        self.method, self.params, self.status, self.size, self.fetched_at = method, params, status, size, fetched_at
