"""Temp files a crash mid-write leaves in the evidence store and the audit mirror are removed once stale by the hourly
anchor job, never a recent one, and counted by ``paulp doctor`` (ADR 0524, closing ADR 0516's loose end). Real files
on disk, real PostgreSQL."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paulp.adapters.evidence_store import EvidenceStore
from paulp.api.jobs import anchor_job
from tests.integration.helpers import make_container

pytestmark = pytest.mark.integration
HOUR = 3600


def _left(path: Path, age_s: float, body: bytes = b"half a bl") -> Path:
    """A temp file as a writer killed ``age_s`` ago left it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


def _crash_debris(evidence: Path, mirror: Path) -> dict[str, Path]:
    blob = EvidenceStore(evidence).put(b'{"a real": "answer"}')
    fan_out = (evidence / blob.key).parent
    return {
        "evidence_stale": _left(fan_out / ".tmp-k3j2h1", 2 * HOUR),
        "probe_stale": _left(evidence / ".tmp-probe-x9y8", 3 * HOUR),
        "evidence_recent": _left(fan_out / ".tmp-w1q2e3", 5),  # a write in progress
        "mirror_stale": _left(mirror / "000" / ".00000042.json.4242.deadbeef.tmp", 2 * HOUR),
        "mirror_recent": _left(mirror / "000" / ".00000043.json.4243.cafebabe.tmp", 0),
        "blob": evidence / blob.key,
        "old_mirror_file": _left(mirror / "000" / "00000041.json", 5 * HOUR, b"{}"),
    }


def test_anchor_job_when_crash_left_temp_files_then_stale_ones_removed_recent_ones_and_data_kept(
        fresh_db: str, nats_url: str, namespace: str, tmp_path: Path) -> None:
    # Arrange
    evidence, mirror = tmp_path / "evidence", tmp_path / "mirror"
    files = _crash_debris(evidence, mirror)
    container = make_container(fresh_db, nats_url, namespace, PAULP_EVIDENCE_DIR=str(evidence),
                               PAULP_AUDIT_MIRROR_DIR=str(mirror))
    try:
        # Act: what the hourly slot runs
        report = anchor_job(container)
    finally:
        container.close()
    # Assert
    assert report["tempFilesSwept"] == {"evidence": 2, "mirror": 1}
    gone = {name for name, path in files.items() if not path.exists()}
    assert gone == {"evidence_stale", "probe_stale", "mirror_stale"}
    assert files["blob"].read_bytes() == b'{"a real": "answer"}'


def test_doctor_when_temp_files_are_left_then_it_counts_them_and_removes_none(
        fresh_db: str, nats_url: str, namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from paulp.api.cli import app, console

    # Arrange
    evidence, mirror = tmp_path / "evidence", tmp_path / "mirror"
    files = _crash_debris(evidence, mirror)
    monkeypatch.setattr(console, "width", 250)
    for name, value in (("ENVIRONMENT", "test"), ("PAULP_DATABASE_URL", fresh_db), ("PAULP_NATS_URL", nats_url),
                        ("PAULP_NAMESPACE", namespace), ("PAULP_EVIDENCE_DIR", str(evidence)),
                        ("PAULP_AUDIT_MIRROR_DIR", str(mirror))):
        monkeypatch.setenv(name, value)
    # Act
    out = CliRunner().invoke(app, ["doctor"])
    # Assert
    assert out.exit_code == 0, out.output
    assert "evidence folder: 2 stale temp file(s)" in out.output and "1 recent" in out.output
    assert "mirror folder: 1 stale temp file(s)" in out.output
    assert all(path.exists() for path in files.values())
