"""``paulp verify`` as an operator runs it (a subprocess against real PostgreSQL): exit codes and output."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest

from paulp.adapters.projector import catch_up_from_log
from paulp.domain.verification_clv import CLV_CASES
from paulp.projections.verification_results import VerificationResultsProjection
from tests.support.settings import with_db

pytestmark = pytest.mark.integration


def verify(args: list[str], db: str, nats: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENVIRONMENT": "test", "PAULP_DATABASE_URL": db, "PAULP_NATS_URL": nats, "COLUMNS": "250"}
    return subprocess.run([sys.executable, "-m", "paulp.api", "verify", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_verify_when_run_from_the_command_line_then_recorded_and_read_back(empty_db, nats_url):
    fresh_db = empty_db  # no migration yet: `verify results` must say so; `verify run` migrates
    unmigrated = verify(["results"], fresh_db, nats_url)
    assert unmigrated.returncode == 1 and "paulp migrate" in unmigrated.stderr

    ran = verify(["run", "--suite", "clv"], fresh_db, nats_url)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f"clv: {len(CLV_CASES)} passed, 0 failed, 0 skipped" in ran.stdout
    assert "risk_invariants" not in ran.stdout
    run_id = ran.stdout.split("recorded run ", 1)[1].split()[0]

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        assert catch_up_from_log(conn, VerificationResultsProjection()) == 1
    shown = verify(["results"], fresh_db, nats_url)
    assert shown.returncode == 0, shown.stderr
    assert f"clv: run {run_id} at " in shown.stdout and f"{len(CLV_CASES)} passed, 0 failed, 0 skipped" in shown.stdout
    assert "risk_invariants: never run (paulp verify run --suite risk_invariants)" in shown.stdout
    assert CLV_CASES[0].name in shown.stdout


def test_verify_when_input_bad_or_store_unreachable_then_message_and_nonzero_exit(fresh_db, nats_url):
    bad = verify(["run", "--suite", "regression"], fresh_db, nats_url)
    assert bad.returncode == 2 and "Unknown suite 'regression'" in bad.stderr
    assert verify(["results", "--suite", "nope"], fresh_db, nats_url).returncode == 2
    gone = verify(["run"], with_db(fresh_db, "paulp_no_such_database"), nats_url)
    assert gone.returncode == 1 and "event store is unavailable" in gone.stderr
