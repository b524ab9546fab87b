"""Durable file writes shared by the evidence store, the audit mirror and the commands that write reports."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


def replace_atomically(path: Path, data: bytes, temp_prefix: str | None = None) -> None:
    """Write beside ``path`` (a 0600 temp file), fsync, then rename over it: a reader sees the old file or the whole
    new one, never part of it, and a failure leaves no temp file behind."""
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix or f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fsync_dir(path: Path) -> None:
    """Make a folder's new entries durable: a renamed or linked file survives a crash only once its folder is."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_missing_dirs(directory: Path, root: Path | None = None) -> list[Path]:
    """Create ``directory`` and its missing parents (below ``root`` when given); the folders that gained an entry,
    which the caller fsyncs (at once, or with its batch as the audit mirror does) for the new folders to survive a
    crash. A folder made meanwhile by another writer counts too; a file in the way makes the caller's write fail."""
    missing: list[Path] = []
    d = directory
    while d != root and not d.is_dir() and d.parent != d:
        missing.append(d)
        d = d.parent
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            pass
    return [d.parent for d in reversed(missing)]


def make_dirs_durably(directory: Path) -> None:
    """Create ``directory`` and any missing parents, fsyncing the folder each new one was made in: a file renamed
    into a new folder survives a crash only once that folder's own entry is durable as well (ADR 0516)."""
    for parent in make_missing_dirs(directory):
        fsync_dir(parent)


def probe_write(directory: Path) -> None:
    """Write, fsync and remove one byte in ``directory``: a folder that is there and permitted can still refuse
    every write (a full disk, a read-only mount, a quota); only a write shows it. The probe's name starts
    ``.tmp-`` as the store's own temp files do, so one left by a crash is never read as anything."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-probe-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(b"p")
            out.flush()
            os.fsync(out.fileno())
    finally:
        Path(tmp).unlink(missing_ok=True)


STALE_TEMP_AGE_S = 3600.0  # a write takes milliseconds and touches its file as it goes: an hour-old one is dead


def is_temp_name(name: str) -> bool:
    """A temp file of ours: the evidence store's and the probe's ``.tmp-*``, the audit mirror's ``.<name>.*.tmp``.
    No blob or mirror file is named so (blobs are hex, mirror files end ``.json``)."""
    return name.startswith(".tmp-") or (name.startswith(".") and name.endswith(".tmp"))


@dataclass(frozen=True)
class TempFiles:
    """Temp files under a folder: ``stale`` ones (older than the safe age), of which ``removed`` were deleted, and
    ``recent`` ones, left alone (a write may be in progress)."""

    stale: int = 0
    removed: int = 0
    recent: int = 0


def sweep_temp_files(root: Path, now: float, older_than_s: float = STALE_TEMP_AGE_S,
                     remove: bool = True) -> TempFiles:
    """Find (and with ``remove`` delete) the temp files a crash mid-write left under ``root`` (ADR 0524). Only
    files not modified for ``older_than_s`` count as stale: a write in progress modifies its file as it goes, and
    ends in a rename or an unlink within the second. A file that vanishes meanwhile (its writer finished) or cannot
    be removed is counted, not raised: the sweep never stops a start-up."""
    stale = removed = recent = 0
    if not root.is_dir():
        return TempFiles()
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if not is_temp_name(name):
                continue
            path = Path(folder) / name
            try:
                age = now - path.lstat().st_mtime
            except OSError:
                continue  # renamed or removed by its writer meanwhile
            if age < older_than_s:
                recent += 1
                continue
            stale += 1
            if remove:
                try:
                    path.unlink()
                    removed += 1
                except FileNotFoundError:
                    removed += 1
                except OSError:
                    pass
    return TempFiles(stale, removed, recent)
