"""Content-addressed evidence blobs on disk plus their Postgres index (api-and-security §4).

Callers store a raw body *before* parsing it: `put` returns the hash the resulting event
carries. Blobs live at `<root>/<aa>/<sha256>` holding the exact bytes (so `sha256sum` of a
file equals its name); writes go through a temp file and an atomic rename, and every read
re-hashes what it returns. A blob that cannot be read at all (a folder where it should be, an I/O error) is
reported as unreadable, never raised as a bare OSError (ADR 0516).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import Mapper, StoredEvent
from psycopg import Connection

from paulp.adapters.eventstore.codec import make_mapper
from paulp.adapters.eventstore.recorder import append_on
from paulp.adapters.files import fsync_dir, make_dirs_durably, replace_atomically
from paulp.domain.canonical import canonical_json
from paulp.domain.evidence import blob_relpath, check_evidence_hash, redact_params, sha256_hex
from paulp.domain.evidence_records import EvidenceRecord

EVIDENCE_DDL = resources.files("paulp.migrations").joinpath("0007_evidence_index.sql").read_text()

_INSERT_BLOB = """
INSERT INTO evidence_blobs (evidence_hash, r2_key, source, endpoint, request_method, request_params,
                            fetched_at, response_status, response_size_bytes, content_type, compression)
VALUES (%(evidence_hash)s, %(r2_key)s, %(source)s, %(endpoint)s, %(request_method)s, %(request_params)s,
        %(fetched_at)s, %(response_status)s, %(response_size_bytes)s, %(content_type)s, 'none')
ON CONFLICT (evidence_hash) DO NOTHING
"""

_INSERT_FETCH = """
INSERT INTO evidence_fetches (evidence_hash, source, endpoint, request_method, request_params,
                              response_status, fetched_at)
VALUES (%(evidence_hash)s, %(source)s, %(endpoint)s, %(request_method)s, %(request_params)s,
        %(response_status)s, %(fetched_at)s)
RETURNING id
"""


class EvidenceNotFound(LookupError):
    """Raised when no blob is stored under a hash."""

    code = "EVIDENCE_NOT_FOUND"


class EvidenceHashMismatch(ValueError):
    """Raised when a stored blob no longer hashes to its name: corruption or tampering."""

    code = "EVIDENCE_HASH_MISMATCH"


class EvidenceUnreadable(LookupError):
    """Raised when the name holds something that cannot be read as a blob (a folder, an I/O error): not trusted,
    reported with the reason (ADR 0516)."""

    code = "EVIDENCE_UNREADABLE"


BlobFailure = EvidenceNotFound | EvidenceHashMismatch | EvidenceUnreadable


@dataclass(frozen=True)
class StoredBlob:
    evidence_hash: str
    key: str
    size_bytes: int
    created: bool  # False when identical bytes were already stored


class EvidenceStore:
    """Blob store keyed by SHA-256 of the exact bytes; idempotent, atomic, verified on read."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path_for(self, evidence_hash: str) -> Path:
        return self.root / blob_relpath(evidence_hash)

    def put(self, body: bytes) -> StoredBlob:
        """Persist first (fsync + rename), so a crash never leaves a half blob under a valid name.

        A blob already under the name is kept only if it still hashes to it: one edited or truncated on disk is
        replaced by these bytes (the only ones the name allows), so the fetch is evidenced again (§4.1, §4.6).
        A fan-out folder made here is made durable in its parent too (ADR 0516).
        """
        digest = sha256_hex(body)
        final = self.path_for(digest)
        if final.exists() and self.check(digest) is None:
            return StoredBlob(digest, blob_relpath(digest), len(body), created=False)
        make_dirs_durably(final.parent)
        replace_atomically(final, body, temp_prefix=".tmp-")
        fsync_dir(final.parent)
        return StoredBlob(digest, blob_relpath(digest), len(body), created=True)

    def get(self, evidence_hash: str) -> bytes:
        """Return the bytes only if they still hash to `evidence_hash`. No file at the name (the folder gone, or
        a file where a folder should be) is not found; anything else that stops the read is unreadable."""
        path = self.path_for(evidence_hash)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            raise EvidenceNotFound(f"Evidence not found: {evidence_hash}") from None
        except OSError as exc:
            raise EvidenceUnreadable(f"Evidence unreadable: {evidence_hash} ({type(exc).__name__}: "
                                     f"{exc.strerror or exc})") from None
        actual = sha256_hex(data)
        if actual != evidence_hash:
            raise EvidenceHashMismatch(f"Evidence hash mismatch: expected {evidence_hash}, got {actual}")
        return data

    def check(self, evidence_hash: str) -> BlobFailure | None:
        """Why the blob fails §4.4's read (missing, unreadable, or bytes that no longer hash to its name), None
        when intact."""
        try:
            self.get(evidence_hash)
        except (EvidenceNotFound, EvidenceHashMismatch, EvidenceUnreadable) as failure:
            return failure
        return None

    def exists(self, evidence_hash: str) -> bool:
        return self.path_for(evidence_hash).is_file()


@dataclass(frozen=True)
class EvidenceFetch:
    """One fetch of one body: who was asked, how, when, and what status came back."""

    evidence_hash: str
    source: str
    endpoint: str
    fetched_at: str  # ISO-8601 UTC
    size_bytes: int
    request_method: str = "GET"
    request_params: Mapping[str, Any] | None = None
    response_status: int | None = None


def _row(fetch: EvidenceFetch) -> dict[str, Any]:
    params = redact_params(fetch.request_params)
    return {
        "evidence_hash": check_evidence_hash(fetch.evidence_hash),
        "r2_key": blob_relpath(fetch.evidence_hash),
        "source": fetch.source,
        "endpoint": fetch.endpoint,
        "request_method": fetch.request_method.upper(),
        "request_params": None if params is None else canonical_json(params),  # §4.7: the event hashes this text
        "fetched_at": fetch.fetched_at,
        "response_status": fetch.response_status,
        "response_size_bytes": fetch.size_bytes,
        "content_type": "application/json",
    }


def record_fetch(conn: Connection[Any], fetch: EvidenceFetch) -> int:
    """Index a stored blob (first fetch wins the blob row), log this fetch and append its ``EvidenceStored``
    event; returns the fetch row id.

    All three in one transaction on the caller's connection (a savepoint inside the caller's own), so the row
    and its chained event exist together or not at all; a failure raises and the fetch is not used (§4.1, §4.6;
    ADR 0406).
    """
    row = _row(fetch)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(_INSERT_BLOB, row)
        cur.execute(_INSERT_FETCH, row)
        result = cur.fetchone()
        assert result is not None
        fetch_id = int(result[0])
        append_on(conn, [stored_event(fetch_id, fetch, row["request_params"])])
    return fetch_id


def stored_event(fetch_id: int, fetch: EvidenceFetch, params: str | None) -> StoredEvent:
    """The fetch's ``EvidenceStored`` event as the recorder stores it, with exactly the index row's values."""
    record = EvidenceRecord.record(
        fetch_id=fetch_id, evidence_hash=fetch.evidence_hash, source=fetch.source, endpoint=fetch.endpoint,
        method=fetch.request_method, params=params, status=fetch.response_status, size=fetch.size_bytes,
        fetched_at=parse_fetched_at(fetch.fetched_at))
    return _mapper().to_stored_event(record.collect_events()[0])


@cache
def _mapper() -> Mapper[UUID]:
    return make_mapper()


def parse_fetched_at(value: str) -> datetime:
    """ISO-8601 with a zone (``Z`` or an offset), as every client writes it; the index column is timestamptz."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"fetched_at has no time zone: {value!r}")
    return moment


Connect = Callable[[], AbstractContextManager[Connection[Any]]]


def fetch_recorder(connect: Connect) -> Callable[[EvidenceFetch], None]:
    """Record each fetch on its own short transaction from a pool, as soon as its body is stored."""
    def record(fetch: EvidenceFetch) -> None:
        with connect() as conn:
            record_fetch(conn, fetch)
    return record


class SessionRecorder:
    """Records the fetches of one client session on one connection, opened at the first fetch and reopened
    after a failure; for code that holds settings, not a pool. No database URL: every fetch fails (closed)."""

    def __init__(self, database_url: str | None) -> None:
        self._url = database_url
        self._conn: Connection[Any] | None = None
        self._lock = threading.Lock()

    def __call__(self, fetch: EvidenceFetch) -> None:
        if not self._url:
            raise LookupError("no database to index evidence in (PAULP_DATABASE_URL unset)")
        with self._lock:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._conn = psycopg.connect(self._url)
            try:
                record_fetch(self._conn, fetch)
            except Exception:
                self._conn.close()
                self._conn = None
                raise

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
