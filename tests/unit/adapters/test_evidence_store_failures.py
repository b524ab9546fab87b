"""The evidence store when the disk fails it (ADR 0516): each failure provoked for real (a folder where a blob
should be, a file where a folder should be, a file size limit in a child process), never by a stand-in store."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from paulp.adapters.evidence_store import EvidenceHashMismatch, EvidenceNotFound, EvidenceStore, EvidenceUnreadable
from paulp.adapters.sources import BLOB_MISSING, MISMATCH, verify_source
from paulp.domain.evidence import sha256_hex
from tests.support.evidence_damage import blob_made_a_folder, fanout_made_a_file


def _two_fanouts(store: EvidenceStore) -> tuple[str, str]:
    """Two stored blobs in different fan-out folders."""
    first = store.put(b"first").evidence_hash
    second = next(h for h in (store.put(b"second-%d" % i).evidence_hash for i in range(50)) if h[:2] != first[:2])
    return first, second


def test_check_when_the_disk_holds_no_readable_blob_then_each_failure_is_named_not_raised(tmp_path: Path) -> None:
    # Arrange: a fan-out folder replaced by a file, a blob's name holding a folder, a blob truncated
    store = EvidenceStore(tmp_path)
    gone, folder = _two_fanouts(store)
    fanout_made_a_file(store, gone, b"not a folder")
    blob_made_a_folder(store, folder)
    truncated = store.put(b"0123456789").evidence_hash
    store.path_for(truncated).write_bytes(b"01234")
    # Act
    failures = [store.check(h) for h in (gone, folder, truncated)]
    # Assert: missing, unreadable (with why), altered; §4.8's verify keeps its closed reasons
    assert [type(f) for f in failures] == [EvidenceNotFound, EvidenceUnreadable, EvidenceHashMismatch]
    assert str(failures[1]) == f"Evidence unreadable: {folder} (IsADirectoryError: Is a directory)"
    reasons = [verify_source({"evidence_hash": h, "blob_stored": True}, store)["reasons"]
               for h in (gone, folder, truncated)]
    assert reasons == [[BLOB_MISSING], [BLOB_MISSING], [MISMATCH]]


def test_put_when_it_makes_a_fanout_folder_then_the_folder_holding_it_is_fsynced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A blob renamed into a new fan-out folder is durable only once the root's entry for that folder is: the
    index row committed after it must never name a blob a crash can take back."""
    # Arrange: every fsync's target, by the path of the descriptor (os.fsync still runs)
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    root = tmp_path / "evidence"
    # Act
    stored = EvidenceStore(root).put(b"body")
    # Assert: the blob, its new folder, the root (which gained that folder) and the root's parent (which gained it)
    fanout = root / stored.evidence_hash[:2]
    assert {str(fanout), str(root), str(tmp_path)} <= set(synced)
    assert sum(1 for p in synced if Path(p).parent == fanout and p.startswith(str(fanout / ".tmp-"))) == 1


_LIMITED_PUT = textwrap.dedent("""
    import resource, sys
    from paulp.adapters.evidence_store import EvidenceStore
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # CPython ignores SIGXFSZ: the write fails EFBIG
    try:
        EvidenceStore(sys.argv[1]).put(b"x" * 65536)
    except OSError as exc:
        print(type(exc).__name__, exc.errno)
        sys.exit(3)
""")


@pytest.mark.timeout(30)
def test_put_when_the_disk_refuses_the_bytes_then_it_raises_and_leaves_no_blob_and_no_temp(tmp_path: Path) -> None:
    # Arrange / Act: a child process whose file size limit stops the write part-way (as a full disk would)
    root = tmp_path / "evidence"
    done = subprocess.run([sys.executable, "-c", _LIMITED_PUT, str(root)], capture_output=True, text=True,
                          timeout=25, check=False)
    # Assert: the failure reached the caller; no name holds a partial blob, no temp file is left
    assert (done.returncode, done.stdout.split()) == (3, ["OSError", "27"]), done.stderr
    h = sha256_hex(b"x" * 65536)
    store = EvidenceStore(root)
    assert isinstance(store.check(h), EvidenceNotFound)
    assert [p.name for p in root.rglob("*") if p.is_file()] == []
    assert store.put(b"x" * 65536).created and store.get(h) == b"x" * 65536
