"""A new operator's walkthrough of the README on a clean machine: no PAULP_DATABASE_URL / PAULP_NATS_URL, so
every command starts (or finds) its own PostgreSQL and nats-server from the wheels under PAULP_STATE_DIR.
Whatever stops a command (Ctrl-C, SIGTERM from `timeout`, systemd or `docker stop`) must leave none of them
running (ADR 0351)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main

from paulp.adapters.bus import BusNames
from paulp.adapters.relay import Relay
from paulp.api.cli import app

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

TOKEN = "walkthrough-token-0123456789abcdef"
SYSTEM_PORTS = {5432, 4222}  # the machine's own services: the embedded ones must never take these


@pytest.fixture
def state_dir() -> Iterator[Path]:
    """A state folder outside pytest's basetemp (its root is reset to 0700 by other sessions, which would
    lock the `embedded_postgres` user out); whatever a test left running in it is stopped afterwards."""
    path = Path(tempfile.mkdtemp(prefix="paulp-walkthrough-"))
    yield path
    for pid in _processes_mentioning(str(path)):  # only after a failed assertion: the tests expect none
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    shutil.rmtree(path, ignore_errors=True)


def _clean_env(state_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh laptop that followed the README: no service URLs, ``ENVIRONMENT=development``,
    the state folder under test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAULP_")}
    env.update(ENVIRONMENT="development", PAULP_STATE_DIR=str(state_dir), COLUMNS="250", **extra)
    return env


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes()
                state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
            except OSError:
                continue
            if text.encode() in cmdline and state not in ("Z", "X"):
                pids.append(int(entry.name))
    return pids


def _left_running(state_dir: Path, grace: float = 10.0) -> list[int]:
    """Processes still using the state folder once `grace` has passed (a stopping postmaster takes a moment)."""
    deadline = time.monotonic() + grace
    while (pids := _processes_mentioning(str(state_dir))) and time.monotonic() < deadline:
        time.sleep(0.1)
    return pids


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, token: str | None = None) -> tuple[int, dict[str, object]]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, json.loads(r.read())


def test_sigterm_while_a_command_starts_its_embedded_services_then_it_stops_them_before_exiting(state_dir):
    """`timeout 120 paulp migrate` on a fresh laptop: a SIGTERM that lands once PostgreSQL is up (the command
    has not reached its work yet) used to kill the process outright, leaving the postmaster (and nats-server)
    running with nobody to stop them: the next command found and reused them, and never stopped them."""
    proc = subprocess.Popen([sys.executable, "-m", "paulp.api", "migrate"], env=_clean_env(state_dir),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        postmaster = state_dir / "pg" / "postmaster.pid"
        deadline = time.monotonic() + 120
        while not postmaster.exists():
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "embedded PostgreSQL never started"
            time.sleep(0.02)
        # Act
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    # Assert: it exited as a SIGTERM'd command does, and took its servers with it
    assert code == 128 + signal.SIGTERM, (code, proc.stdout.read() if proc.stdout else "")
    assert _left_running(state_dir) == [], "embedded PostgreSQL / nats-server orphaned by SIGTERM"


def test_sigterm_during_initdb_then_the_next_command_initialises_a_working_cluster(state_dir):
    """A SIGTERM (or Ctrl-C) while the first command runs initdb stops initdb half-way. initdb writes
    PG_VERSION first, so the folder looked initialised: every later start ran a cluster without its catalog
    ("could not find relation mapping for relation pg_database"), which crash-looped and never answered."""
    env = _clean_env(state_dir)
    proc = subprocess.Popen([sys.executable, "-m", "paulp.api", "migrate"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not any(state_dir.glob("pg*/PG_VERSION")):  # initdb has begun writing the cluster
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "initdb never started"
            time.sleep(0.005)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert _left_running(state_dir) == []
    # Act: the next command on the same state folder
    again = subprocess.run([sys.executable, "-m", "paulp.api", "migrate"], env=env, capture_output=True, text=True,
                           timeout=150)
    # Assert
    assert again.returncode == 0, (again.stdout, again.stderr)
    assert "applied" in again.stdout
    assert not (state_dir / "pg.initdb").exists()
    assert _left_running(state_dir) == []


def test_up_without_urls_then_own_services_answer_deep_health_is_healthy_and_sigterm_stops_everything(state_dir):
    """The README quick start (`ADMIN_TOKEN=… paulp up`) with no URLs: its own servers on free loopback
    ports (never the machine's 5432/4222), `/health/deep` healthy on a brand-new state folder (the evidence
    directory exists from start-up), and a SIGTERM stops the API and both servers within a bounded time."""
    port = _free_port()
    mirror = state_dir / "audit-mirror"
    mirror.mkdir()
    env = _clean_env(state_dir, ADMIN_TOKEN=TOKEN, PAULP_MARKS="false", PAULP_SCHEDULE_TRADING="false",
                     PAULP_AUDIT_MIRROR_DIR=str(mirror), KALSHI_BASE_URL="http://127.0.0.1:9/trade-api/v2")
    proc = subprocess.Popen([sys.executable, "-m", "paulp.api", "up", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 150
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if _get(f"http://127.0.0.1:{port}/health/live")[0] == 200:
                    break
            except OSError:
                assert time.monotonic() < deadline, "paulp up did not start listening"
                time.sleep(0.2)
        status, deep = _get(f"http://127.0.0.1:{port}/health/deep", TOKEN)
        # the audit mirror is written as the chain grows (start-up seeds the compliance matrix: ADR 0385)
        while not any(mirror.rglob("*.json")):
            assert time.monotonic() < deadline, "paulp up wrote no audit mirror file"
            time.sleep(0.2)
        # Act
        proc.send_signal(signal.SIGTERM)
        began = time.monotonic()
        code = proc.wait(timeout=60)
        took = time.monotonic() - began
        output = proc.stdout.read() if proc.stdout else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    # Assert: embedded servers on loopback ports of their own
    urls = dict(re.findall(r"^(postgres|nats): embedded (\S+)$", output, re.MULTILINE))
    assert set(urls) == {"postgres", "nats"}, output
    ports = {int(re.search(r":(\d+)(?:/|$)", url).group(1)) for url in urls.values()}  # type: ignore[union-attr]
    assert not ports & SYSTEM_PORTS and all("127.0.0.1" in url for url in urls.values()), urls
    # Assert: a fresh state folder is healthy, evidence store included
    checks: dict[str, dict[str, object]] = deep["checks"]  # type: ignore[assignment]
    assert status == 200 and checks["evidence_store"]["status"] == "healthy", deep
    assert deep["status"] == "healthy", deep
    # Assert: SIGTERM is a clean stop, bounded, and nothing is left behind
    assert code == 0, output
    assert took < 45, took
    assert _left_running(state_dir) == [], "embedded PostgreSQL / nats-server left running after paulp up stopped"


def _paulp_on(args: list[str], db: str, nats: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENVIRONMENT": "test", "PAULP_DATABASE_URL": db, "PAULP_NATS_URL": nats, "COLUMNS": "250"}
    return subprocess.run([sys.executable, "-m", "paulp.api", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_audit_verify_json_prints_only_the_json_document(fresh_db, nats_url):
    """`paulp audit verify --json | jq .valid` must work: the human summary line used to follow the document
    on stdout."""
    # Act
    r = _paulp_on(["audit", "verify", "--json"], fresh_db, nats_url)
    # Assert
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["valid"] is True and report["firstBadSequence"] is None


@pytest.mark.parametrize("args", [["orders", "list"], ["audit", "verify"]])
def test_read_command_on_an_unmigrated_database_then_it_says_to_migrate_without_a_traceback(empty_db, nats_url,
                                                                                          args):
    """`paulp orders list` / `paulp audit verify` before `paulp migrate` (most commands migrate as they wire
    the system; these read directly) printed a rich traceback ending in UndefinedTable."""
    # Act
    r = _paulp_on(args, empty_db, nats_url)
    # Assert
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "does not exist: the database is not migrated (run `paulp migrate`)" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr + r.stdout and "│" not in r.stderr, r.stderr


def test_cli_help_texts_carry_no_rich_markup_brackets():
    """Typer renders help through rich markup, which swallows `[...]`: `backtest run --help` showed
    `{ticker: }` for `{ticker: [candle, ...]}`. No help text may contain an unescaped `[`."""
    root = typer.main.get_command(app)
    found: list[str] = []

    def walk(command: object, path: str) -> None:
        texts = [getattr(command, "help", None) or ""]
        texts += [getattr(p, "help", None) or "" for p in getattr(command, "params", [])]
        found.extend(f"{path}: {t}" for t in texts if re.search(r"(?<!\\)\[", t))
        for name, sub in (getattr(command, "commands", None) or {}).items():
            walk(sub, f"{path} {name}")

    walk(root, "paulp")
    assert found == []


def test_second_relay_says_it_is_standby_then_takes_over_when_the_first_stops(fresh_db, nats_url, namespace,
                                                                             caplog):
    """`paulp relay` a second time ("a second relay waits as standby") printed nothing at all: an operator
    could not tell a standby from a hung process."""
    caplog.set_level(logging.INFO, logger="paulp.relay")
    names = BusNames(namespace)

    async def scenario() -> tuple[bool, bool, bool]:
        stop_first, stop_second = asyncio.Event(), asyncio.Event()
        first, second = Relay(fresh_db, nats_url, names), Relay(fresh_db, nats_url, names)
        first_task = asyncio.create_task(first.run(stop_first))
        await asyncio.wait_for(first.active.wait(), 30)
        second_task = asyncio.create_task(second.run(stop_second))
        deadline = asyncio.get_running_loop().time() + 10
        while "relay standby" not in caplog.text and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        standby_said, second_active_early = "relay standby" in caplog.text, second.active.is_set()
        stop_first.set()
        await first_task
        await asyncio.wait_for(second.active.wait(), 30)  # the standby takes the lead
        stop_second.set()
        await second_task
        return standby_said, second_active_early, second.active.is_set()

    # Act
    standby_said, second_active_early, took_over = asyncio.run(scenario())
    # Assert
    assert standby_said and not second_active_early and took_over, caplog.text
    assert caplog.text.count("relay standby") == 1, caplog.text
