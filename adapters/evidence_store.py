"""Content-addressed evidence blobs on disk plus their Postgres index (api-and-security §4).

Callers store a raw body *before* parsing it: `put` returns the hash the resulting event
carries. Blobs live at `<root>/<aa>/<sha256>` holding the exact bytes (so `sha256sum` of a
file equals its name); writes go through a temp file and an atomic rename, and every read
re-hashes what it returns.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from psycopg import Connection

from paulp.domain.evidence import blob_relpath, check_evidence_hash, redact_params, sha256_hex

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
        """Persist first (fsync + rename), so a crash never leaves a half blob under a valid name."""
        digest = sha256_hex(body)
        final = self.path_for(digest)
        if final.exists():
            return StoredBlob(digest, blob_relpath(digest), len(body), created=False)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=final.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp_name, final)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        _fsync_dir(final.parent)
        return StoredBlob(digest, blob_relpath(digest), len(body), created=True)

    def get(self, evidence_hash: str) -> bytes:
        """Return the bytes only if they still hash to `evidence_hash`."""
        path = self.path_for(evidence_hash)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise EvidenceNotFound(f"Evidence not found: {evidence_hash}") from None
        actual = sha256_hex(data)
        if actual != evidence_hash:
            raise EvidenceHashMismatch(f"Evidence hash mismatch: expected {evidence_hash}, got {actual}")
        return data

    def exists(self, evidence_hash: str) -> bool:
        return self.path_for(evidence_hash).is_file()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
        "request_params": None if params is None else json.dumps(params, sort_keys=True, separators=(",", ":")),
        "fetched_at": fetch.fetched_at,
        "response_status": fetch.response_status,
        "response_size_bytes": fetch.size_bytes,
        "content_type": "application/json",
    }


def record_fetch(conn: Connection[Any], fetch: EvidenceFetch) -> int:
    """Index a stored blob (first fetch wins the blob row) and log this fetch; returns the fetch row id.

    Runs on the caller's connection and transaction, so the index and the event carrying the
    hash can commit together.
    """
    row = _row(fetch)
    with conn.cursor() as cur:
        cur.execute(_INSERT_BLOB, row)
        cur.execute(_INSERT_FETCH, row)
        result = cur.fetchone()
    assert result is not None
    return int(result[0])
