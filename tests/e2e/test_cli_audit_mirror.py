"""``paulp audit mirror`` / ``paulp audit verify-mirror`` as an operator runs them (real PostgreSQL): the first
write and the JSON report as subprocesses, the other runs in-process on the same typer app (ADR 0407: each
subprocess paid ~1.5 s of start-up for the same command code)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
from psycopg.rows import dict_row
from typer.testing import CliRunner

from paulp.adapters.eventstore.chain import record_from_row
from paulp.api import cli, cli_audit
from paulp.domain.audit_mirror import mirror_key
from paulp.domain.breaker import BreakerState
from tests.integration.helpers import make_container

pytestmark = pytest.mark.integration


def _env(db: str, nats: str, mirror: Path | None) -> dict[str, str | None]:
    return {"ENVIRONMENT": "test", "PAULP_DATABASE_URL": db, "PAULP_NATS_URL": nats, "COLUMNS": "250",
            "PAULP_AUDIT_MIRROR_DIR": None if mirror is None else str(mirror)}


def audit(args: list[str], db: str, nats: str, mirror: Path | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in {**os.environ, **_env(db, nats, mirror)}.items() if v is not None}
    return subprocess.run([sys.executable, "-m", "paulp.api", "audit", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def audit_here(args: list[str], db: str, nats: str, mirror: Path | None) -> SimpleNamespace:
    """The same command in this process; ``returncode``/``stdout``/``stderr`` as the subprocess gives them."""
    out = CliRunner().invoke(cli.app, ["audit", *args], env=_env(db, nats, mirror))
    assert out.exception is None or isinstance(out.exception, SystemExit), out.exception
    return SimpleNamespace(returncode=out.exit_code, stdout=out.stdout, stderr=out.stderr)


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """The consoles were made at import: as wide as the subprocess's COLUMNS, so no message is wrapped."""
    for console in (cli.console, cli.err, cli_audit.console, cli_audit.err):
        monkeypatch.setattr(console, "width", 250)


def test_audit_mirror_commands_when_written_tampered_and_unset_then_exit_codes_and_messages(
        fresh_db, nats_url, namespace, tmp_path, wide):
    c = make_container(fresh_db, nats_url, namespace)
    try:
        c.breaker.transition("CAUTION", "drill", "tester")
    finally:
        c.close()

    written = audit(["mirror"], fresh_db, nats_url, tmp_path)
    assert written.returncode == 0, written.stderr
    assert "audit mirror at sequence 2 of 2: 2 file(s) written, 0 already there" in written.stdout
    checked = audit_here(["verify-mirror"], fresh_db, nats_url, tmp_path)
    assert checked.returncode == 0 and "audit mirror matches the chain: 2 record(s)" in checked.stdout

    victim = sorted(tmp_path.rglob("*.json"))[1]
    victim.chmod(0o640)
    victim.write_bytes(victim.read_bytes().replace(b'"drill"', b'"dril1"'))
    broken = audit(["verify-mirror", "--json"], fresh_db, nats_url, tmp_path)
    assert broken.returncode == 1
    assert json.loads(broken.stdout)["different"]["count"] == 1
    assert "1 different" in broken.stderr and str(victim.relative_to(tmp_path)) in broken.stderr

    # moved aside (kept as evidence) after an operator looked: a rescan writes it again from the chain
    victim.rename(tmp_path / "evidence-record-2.json")
    assert audit_here(["verify-mirror"], fresh_db, nats_url, tmp_path).returncode == 1  # missing now
    rescanned = audit_here(["mirror", "--rescan"], fresh_db, nats_url, tmp_path)
    assert rescanned.returncode == 0 and "1 file(s) written, 1 already there" in rescanned.stdout
    assert audit_here(["verify-mirror"], fresh_db, nats_url, tmp_path).returncode == 0

    unset = audit_here(["mirror"], fresh_db, nats_url, None)
    assert unset.returncode == 1 and "PAULP_AUDIT_MIRROR_DIR is not set" in unset.stderr
    missing = audit_here(["verify-mirror"], fresh_db, nats_url, tmp_path / "nowhere")
    assert missing.returncode == 1 and "is not an existing directory" in missing.stderr

    # a new record whose file is already there with other bytes: the one-shot writer refuses and halts
    c = make_container(fresh_db, nats_url, namespace)
    try:
        c.breaker.transition("NORMAL", "drill two", "tester")
        with psycopg.connect(fresh_db) as conn, conn.cursor(row_factory=dict_row) as cur:
            third = record_from_row(cur.execute("SELECT * FROM audit_chain WHERE chain_seq = 3").fetchone())
        (tmp_path / mirror_key(third)).write_bytes(b'{"planted": true}')
        planted = audit_here(["mirror"], fresh_db, nats_url, tmp_path)
        assert planted.returncode == 1
        assert "differs from chain record 3" in planted.stderr and "breaker tripped to HALT" in planted.stderr
        assert c.breaker.get().state is BreakerState.HALT
    finally:
        c.close()
