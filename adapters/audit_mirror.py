"""Audit mirror (api-and-security §5.1): every chain record copied, once, to a file under PAULP_AUDIT_MIRROR_DIR.

The writer follows ``audit_chain`` like a projector follows the log: its position is a row of
``audit_mirror_position`` (migration 0075) committed only after the files up to it are durable (temp file,
fsync, hard link, directory fsync). A file is created, never replaced: finding one that differs from the
chain record stops the writer at that record and is reported as an integrity alarm (ADR 0385).
"""

from __future__ import annotations

import errno
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from paulp.adapters.audit_store import chain_head
from paulp.adapters.eventstore.chain import record_from_row
from paulp.adapters.files import fsync_dir, make_missing_dirs
from paulp.domain.audit import ChainRecord
from paulp.domain.audit_mirror import mirror_body, mirror_key

CHAIN_ROWS = ("SELECT chain_seq, event_id, timestamp, agent, event_type, payload, payload_hash, evidence_hash,"
              " prev_hash, hash FROM audit_chain")
FILE_MODE = 0o440  # written once; nobody (this process included) is meant to change a mirror file
NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK}


class MirrorUnavailable(RuntimeError):
    """Raised when the mirror cannot be written or read: location unset or not a directory, a failed write,
    or a position the chain does not reach (a restored or different database)."""


class Written(Enum):
    CREATED = "created"
    SAME = "same"  # already there with exactly these bytes (a pass that died before saving its position)
    DIFFERENT = "different"


def mirror_name(root: Path) -> str:
    """The position row's key: the absolute location, so pointing the setting at a new folder starts over."""
    return str(root.expanduser().resolve())


def lock_key(root: Path) -> str:
    return f"paulp/audit-mirror/{mirror_name(root)}"


def check_root(root: Path | None) -> Path:
    """The root must already exist (ADR 0351: no default); a missing mount is never silently replaced."""
    if root is None:
        raise MirrorUnavailable("PAULP_AUDIT_MIRROR_DIR is not configured")
    if not root.is_dir():
        raise MirrorUnavailable(f"PAULP_AUDIT_MIRROR_DIR {root} is not an existing directory")
    return root


def read_file(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None




def _make_dirs(root: Path, directory: Path, dirty: set[Path]) -> None:
    """Create the key's folders; each new one's parent is fsynced with the batch, so the entry survives."""
    dirty.update(make_missing_dirs(directory, root))


def write_once(root: Path, key: str, body: bytes, dirty: set[Path]) -> Written:
    """Create ``root/key`` holding ``body`` atomically, or report what is already there; never overwrite.

    The body goes to a temp file that is fsynced and then hard-linked to its name, which fails if the name
    exists: a reader never sees a partial file and an existing one is never replaced. ``dirty`` collects the
    folders to fsync before the position moves past this record."""
    path = root / key
    found = read_file(path)
    if found is not None:
        dirty.add(path.parent)  # a pass that died after the link may not have made the entry durable
        return Written.SAME if found == body else Written.DIFFERENT
    _make_dirs(root, path.parent, dirty)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        try:
            os.write(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            found = read_file(path)
            return Written.SAME if found == body else Written.DIFFERENT
        except OSError as exc:
            if exc.errno not in NO_HARD_LINKS:
                raise
            os.replace(tmp, path)  # no hard links here: the advisory lock keeps this the only writer
    finally:
        tmp.unlink(missing_ok=True)
    dirty.add(path.parent)
    return Written.CREATED


@dataclass(frozen=True)
class Mismatch:
    sequence: int
    key: str

    def message(self) -> str:
        return (f"audit mirror file {self.key} differs from chain record {self.sequence}: the mirror or the chain"
                " was changed after it was written")


@dataclass
class MirrorPass:
    """One run of the writer: files created, identical files found, where it stands, and any mismatch."""

    created: int = 0
    already: int = 0
    position: int = 0
    head: int = 0
    busy: bool = False  # another writer holds this mirror's lock
    restarted: bool = False  # the file at the saved position was gone: the mirror is being walked again
    mismatch: Mismatch | None = None

    @property
    def caught_up(self) -> bool:
        return self.position >= self.head or self.mismatch is not None or self.busy


def _position(conn: psycopg.Connection[Any], name: str) -> int:
    conn.execute("INSERT INTO audit_mirror_position (mirror) VALUES (%s) ON CONFLICT DO NOTHING", (name,))
    row = conn.execute("SELECT chain_seq FROM audit_mirror_position WHERE mirror = %s FOR UPDATE", (name,)).fetchone()
    return int(row[0]) if row else 0


def _record_at(conn: psycopg.Connection[Any], seq: int) -> ChainRecord | None:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(CHAIN_ROWS + " WHERE chain_seq = %s", (seq,)).fetchone()
    return record_from_row(row) if row else None


def _checked_position(conn: psycopg.Connection[Any], root: Path, name: str, result: MirrorPass) -> int:
    """The saved position, unless the mirror no longer holds its record's file (a wiped or swapped folder at
    the same path): then 0, and the walk recreates what is missing and judges what is there."""
    position = _position(conn, name)
    if position == 0:
        return 0
    record = _record_at(conn, position)
    if record is None:
        raise MirrorUnavailable(
            f"audit mirror {name} is at sequence {position} but the chain has no such record (head"
            f" {result.head}): the database lost chain records or is not the one this mirror copies")
    if not (root / mirror_key(record)).is_file():
        result.restarted = True
        return 0
    return position


def mirror_pass(database_url: str, root: Path | None, now: datetime, batch: int = 500,
                max_batches: int = 20, from_start: bool = False) -> MirrorPass:
    """Copy chain records past the saved position (``from_start``: from sequence 1, recreating files moved
    aside), ``batch`` per transaction, at most ``max_batches`` batches (the caller runs again while not caught
    up). A failure is saved on the position row (read by /health/deep) and raised; a mismatch is saved and
    returned."""
    if root is None:
        raise MirrorUnavailable("PAULP_AUDIT_MIRROR_DIR is not configured")
    name = mirror_name(root)
    result = MirrorPass()
    try:
        check_root(root)
        with psycopg.connect(database_url, autocommit=True) as conn:
            for n in range(max_batches):
                with conn.transaction():
                    row = conn.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", (lock_key(root),)).fetchone()
                    if not (row and row[0]):
                        result.busy = True
                        return result
                    result.head = chain_head(conn)[0]
                    position = _checked_position(conn, root, name, result)
                    position = 0 if from_start and n == 0 else position
                    result.position = _copy_batch(conn, root, position, batch, result)
                    message = result.mismatch.message() if result.mismatch else None
                    conn.execute(
                        "UPDATE audit_mirror_position SET chain_seq = %s, updated_at = %s, last_error = %s,"
                        " last_error_at = CASE WHEN %s::text IS NULL THEN NULL ELSE %s END, mismatch_seq = %s"
                        " WHERE mirror = %s",
                        (result.position, now, message, message, now,
                         result.mismatch.sequence if result.mismatch else None, name))
                if result.caught_up:
                    break
    except (OSError, psycopg.Error, MirrorUnavailable, ValueError) as exc:
        _save_failure(database_url, name, now, exc)
        if isinstance(exc, MirrorUnavailable):
            raise
        raise MirrorUnavailable(f"audit mirror write failed: {type(exc).__name__}: {exc}") from exc
    return result


def _copy_batch(conn: psycopg.Connection[Any], root: Path, position: int, batch: int, result: MirrorPass) -> int:
    """Write the next ``batch`` records; the position reached (stopping before a mismatching file). The
    folders are fsynced before the caller commits that position."""
    dirty: set[Path] = set()
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(CHAIN_ROWS + " WHERE chain_seq > %s ORDER BY chain_seq LIMIT %s",
                           (position, batch)).fetchall()
    for row in rows:
        record = record_from_row(row)
        key = mirror_key(record)
        outcome = write_once(root, key, mirror_body(record), dirty)
        if outcome is Written.DIFFERENT:
            result.mismatch = Mismatch(record.sequence, key)
            break
        if outcome is Written.CREATED:
            result.created += 1
        else:
            result.already += 1
        position = record.sequence
    for d in sorted(dirty, key=lambda p: len(p.parts), reverse=True):
        fsync_dir(d)
    return position


def _save_failure(database_url: str, name: str, now: datetime, exc: BaseException) -> None:
    """Best effort: the failure is raised (and logged by the caller) whether or not this lands."""
    text = str(exc) if isinstance(exc, MirrorUnavailable) else f"{type(exc).__name__}: {exc}"
    try:
        with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(
                "INSERT INTO audit_mirror_position (mirror, last_error, last_error_at) VALUES (%s, %s, %s)"
                " ON CONFLICT (mirror) DO UPDATE SET last_error = excluded.last_error,"
                " last_error_at = excluded.last_error_at", (name, text[:2000], now))
    except psycopg.Error:
        pass


@dataclass(frozen=True)
class MirrorState:
    """The writer's saved state for one mirror location (absent until it first ran there)."""

    position: int
    updated_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    mismatch_seq: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"mirroredThroughSequence": self.position,
                "updatedAt": self.updated_at.isoformat() if self.updated_at else None,
                "lastError": self.last_error,
                "lastErrorAt": self.last_error_at.isoformat() if self.last_error_at else None,
                "mismatchSequence": self.mismatch_seq}


def mirror_state(conn: psycopg.Connection[Any], root: Path | None) -> MirrorState | None:
    if root is None:
        return None
    row = conn.execute("SELECT chain_seq, updated_at, last_error, last_error_at, mismatch_seq"
                       " FROM audit_mirror_position WHERE mirror = %s", (mirror_name(root),)).fetchone()
    if row is None:
        return MirrorState(0, None, None, None, None)
    return MirrorState(int(row[0]), row[1], row[2], row[3], row[4])
