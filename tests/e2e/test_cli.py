"""The paulp command line against real services: exit codes and messages for good and bad input. ``paulp serve``
and ``paulp up`` answering over HTTP and stopping on Ctrl-C are in test_cli_listening.py, in the same process
starts that check their URL line (ADR 0439)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from signal import SIGINT

import psycopg
import pytest
from typer.testing import CliRunner

from paulp.api.cli import app
from paulp.domain.clock import FixedClock
from tests.integration.helpers import MARKET, make_container, signal
from tests.support.seeding import catch_up

pytestmark = pytest.mark.integration


def paulp(args: list[str], db: str, nats: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENVIRONMENT": "test", "PAULP_DATABASE_URL": db, "PAULP_NATS_URL": nats, "COLUMNS": "250"}
    return subprocess.run([sys.executable, "-m", "paulp.api", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_orders_show_and_list_when_order_exists_then_history_printed(fresh_db, nats_url, namespace):
    container = make_container(fresh_db, nats_url, namespace, clock=FixedClock(datetime(2026, 3, 2, 15, tzinfo=UTC)))
    try:
        out = container.pipeline(MARKET).process(signal("cli-1"))
        catch_up(container)
    finally:
        container.close()
    shown = paulp(["orders", "show", out.order_id], fresh_db, nats_url)
    assert shown.returncode == 0, shown.stderr
    assert "FillRecorded" in shown.stdout and "Created" in shown.stdout
    assert "state FILLED; last error: none" in shown.stdout  # where the events leave it (ADR 0335)
    listed = paulp(["orders", "list", "--state", "filled"], fresh_db, nats_url)
    assert listed.returncode == 0 and out.order_id in listed.stdout.replace("\n", "")
    missing = paulp(["orders", "show", "order-nope"], fresh_db, nats_url)
    assert missing.returncode == 1 and "no order" in missing.stderr


def paulp_here(args: list[str], db: str, nats: str) -> subprocess.CompletedProcess[str]:
    """The same command through the same typer app in this process: for the refusals of commands another test
    here already starts as a process (each start paid ~1-2 s before the argument was read; ADR 0439)."""
    env = {"ENVIRONMENT": "test", "PAULP_DATABASE_URL": db, "PAULP_NATS_URL": nats, "COLUMNS": "250"}
    r = CliRunner().invoke(app, args, env=env)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return subprocess.CompletedProcess(args, r.exit_code, r.stdout, " ".join(r.stderr.split()))


def test_cli_when_input_bad_then_message_and_nonzero_exit(fresh_db, nats_url):
    r = paulp(["replay", "--projection", "nope"], fresh_db, nats_url)
    assert r.returncode == 2 and "unknown projection" in r.stderr
    r = paulp_here(["replay", "--projection", "breaker_state", "--into", "views"], fresh_db, nats_url)
    assert r.returncode == 2 and "refusing" in r.stderr
    r = paulp_here(["audit", "verify", "--from", "5", "--to", "2"], fresh_db, nats_url)
    assert r.returncode == 2 and "--from" in r.stderr
    r = paulp(["jobs", "runs", "--state", "stuck"], fresh_db, nats_url)
    assert r.returncode == 2 and "Invalid state" in r.stderr
    r = paulp_here(["orders", "list", "--state", "fillled"], fresh_db, nats_url)  # a typo, not an empty list
    assert r.returncode == 2 and "unknown order state 'fillled'" in r.stderr and "PARTIAL_FILL" in r.stderr
    env = {**os.environ, "ENVIRONMENT": "production"}
    env.pop("PAULP_DATABASE_URL", None)
    env.pop("PAULP_NATS_URL", None)
    r = subprocess.run([sys.executable, "-m", "paulp.api", "doctor"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "PAULP_DATABASE_URL" in r.stderr


def test_schedule_when_started_then_it_leads_the_cron_slots_and_ctrl_c_gives_the_lead_up(fresh_db, nats_url,
                                                                                      namespace):
    """``paulp schedule`` alone: it takes the scheduler's leader lock (a second scheduler could not), and a
    Ctrl-C ends it cleanly, releasing the lock for a standby."""
    env = {**os.environ, "ENVIRONMENT": "test", "PAULP_DATABASE_URL": fresh_db, "PAULP_NATS_URL": nats_url,
           "PAULP_NAMESPACE": namespace, "PAULP_MARKS": "false", "KALSHI_BASE_URL": "http://127.0.0.1:9/trade-api/v2"}
    from paulp.api.scheduler import LOCK_HELD as HELD  # the query `paulp doctor` asks too

    key = f"{namespace}/scheduler"
    proc = subprocess.Popen([sys.executable, "-m", "paulp.api", "schedule"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            deadline, held = time.monotonic() + 60, False
            while not held and time.monotonic() < deadline:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                held = conn.execute(HELD, (key,)).fetchone() == (1,)  # looked at, not taken: no race with it
                time.sleep(0 if held else 0.05)
            assert held, "paulp schedule never took the scheduler's lead"
            proc.send_signal(SIGINT)
            assert proc.wait(timeout=30) == 0
            assert conn.execute(HELD, (key,)).fetchone() == (0,)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_audit_anchor_when_run_twice_then_the_second_walks_only_new_records_unless_full(fresh_db, nats_url, namespace):
    """ADR 0506: the hourly job's command says what it walked; ``--full`` walks the whole chain; a nonsense
    PAULP_AUDIT_FULL_VERIFY_HOURS stops the command before any work."""
    container = make_container(fresh_db, nats_url, namespace)
    try:
        for _ in range(3):
            container.breaker.record_risk_check(blocked=False)
    finally:
        container.close()
    with psycopg.connect(fresh_db) as conn:
        head = conn.execute("SELECT max(chain_seq) FROM audit_chain").fetchone()[0]
    first = paulp_here(["audit", "anchor"], fresh_db, nats_url)
    assert first.returncode == 0 and f"chain valid: True (full: {head} record(s) from sequence 1)" in first.stdout
    again = paulp_here(["audit", "anchor"], fresh_db, nats_url)
    assert again.returncode == 0 and f"(incremental: 0 record(s) from sequence {head + 1})" in again.stdout
    forced = paulp_here(["audit", "anchor", "--full"], fresh_db, nats_url)
    assert forced.returncode == 0 and f"(full: {head} record(s) from sequence 1)" in forced.stdout
    env = {"ENVIRONMENT": "test", "PAULP_DATABASE_URL": fresh_db, "PAULP_NATS_URL": nats_url,
           "PAULP_AUDIT_FULL_VERIFY_HOURS": "48"}
    r = CliRunner().invoke(app, ["audit", "anchor"], env=env)
    assert r.exit_code == 2 and "PAULP_AUDIT_FULL_VERIFY_HOURS must be a whole number" in " ".join(r.stderr.split())
