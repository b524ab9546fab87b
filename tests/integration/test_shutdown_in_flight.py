"""SIGTERM / Ctrl-C delivered to ``paulp`` with work in flight (ADR 0515): a job run waiting on Kalshi (its
positions read held back by the loopback exchange), HTTP requests still running, a second signal during the stop.

Each scenario is one ``paulp`` process against real PostgreSQL and NATS; every wait has a deadline, and the
exchange is the in-process loopback fake, so what it received outlives the process under test."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from eventsourcing.persistence import StoredEvent

from paulp.adapters.eventstore.codec import make_mapper
from paulp.api.scheduler import LOCK_HELD
from tests.fakes.kalshi_exchange import FakeKalshiExchange, Fault
from tests.integration.helpers import make_container
from tests.integration.kalshi_system import KEY_ID, TOKEN, pem
from tests.support.seeding import catch_up, seed_executor_modes

pytestmark = [pytest.mark.integration, pytest.mark.slow]
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GRACE_S = 2  # PAULP_SHUTDOWN_GRACE_S of the processes that must give up on their work in flight
POSITIONS = "/portfolio/positions"


@pytest.fixture
def venue_env(fresh_db: str, nats_url: str, namespace: str, exchange: FakeKalshiExchange, key: rsa.RSAPrivateKey,
              tmp_path: Path) -> dict[str, str]:
    """The environment of a ``paulp`` process trading bonding LIVE against the loopback exchange (so reconcile
    reads Kalshi's positions), the log seeded as ``paulp`` itself would have it."""
    config = {"KALSHI_BASE_URL": exchange.base_url, "KALSHI_API_KEY": KEY_ID, "KALSHI_PRIVATE_KEY": pem(key),
              "PAULP_EVIDENCE_DIR": str(tmp_path / "evidence")}
    container = make_container(fresh_db, nats_url, namespace, admin_token=TOKEN, **config)
    try:
        seed_executor_modes(container, {"kalshi": {"bonding": "LIVE"}})
        catch_up(container)
    finally:
        container.close()
    return {**os.environ, **config, "ENVIRONMENT": "test", "PAULP_DATABASE_URL": fresh_db,
            "PAULP_NATS_URL": nats_url, "PAULP_NAMESPACE": namespace, "ADMIN_TOKEN": TOKEN, "PAULP_MARKS": "false",
            "PAULP_SCHEDULE_TRADING": "false", "PAULP_STATE_DIR": str(tmp_path / "state"), "COLUMNS": "250"}


@contextmanager
def _paulp(args: list[str], env: dict[str, str], stderr: Path) -> Iterator[subprocess.Popen[str]]:
    with stderr.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "paulp.api", *args], env=env, stdout=subprocess.PIPE,
                                stderr=err, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _url(proc: subprocess.Popen[str], stderr: Path) -> str:
    """The URL of the ``… on http://HOST:PORT`` line a role prints once it answers (bounded by the test timeout:
    the line comes within seconds, or the process ends and readline returns '')."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if " on http://" in line:
            return line.split(" on ", 1)[1].split()[0]
    raise AssertionError(f"no URL line: {stderr.read_text()[-3000:]}")


def _post_in_background(url: str, answers: list[tuple[int, dict[str, Any]]]) -> threading.Thread:
    def post() -> None:
        request = urllib.request.Request(url, data=b"{}", method="POST",
                                         headers={**AUTH, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as r:
                answers.append((r.status, json.loads(r.read())))
        except urllib.error.HTTPError as e:
            answers.append((e.code, json.loads(e.read())))

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    return thread


def _held_back(exchange: FakeKalshiExchange, seconds: float) -> None:
    """Kalshi answers the next positions reads only after ``seconds``; returns once the first has arrived."""
    exchange.inject(Fault(status=None, delay_s=seconds, method="GET", path_contains=POSITIONS, times=5))


def _wait_for_positions_read(exchange: FakeKalshiExchange, proc: subprocess.Popen[str], stderr: Path) -> None:
    deadline = time.monotonic() + 30
    while not any(POSITIONS in r.path for r in exchange.requests):
        assert proc.poll() is None, stderr.read_text()[-3000:]
        assert time.monotonic() < deadline, "the job never read Kalshi's positions"
        time.sleep(0.01)


def _stop(proc: subprocess.Popen[str], *then: signal.Signals, timeout: float) -> tuple[int | None, float]:
    """SIGTERM, then each of ``then`` 0.3 s apart (a stop already under way); (exit status, seconds to exit)."""
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    for sig in then:
        time.sleep(0.3)
        if proc.poll() is None:
            proc.send_signal(sig)
    try:
        return proc.wait(timeout), time.monotonic() - began
    except subprocess.TimeoutExpired:
        return None, time.monotonic() - began


def _job_runs(db: str) -> list[tuple[str, str | None]]:
    """(event, error) of every JobRun event of the log, in order."""
    mapper = make_mapper()
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT originator_id, originator_version, topic, state FROM paulp_events"
                            " WHERE topic LIKE '%%:JobRun.%%' ORDER BY notification_id").fetchall()
    events = [mapper.to_domain_event(StoredEvent(UUID(str(o)), v, t, bytes(s))) for o, v, t, s in rows]
    return [(type(e).__qualname__, getattr(e, "error", None)) for e in events]


def _locks_held(db: str, namespace: str) -> list[str]:
    with psycopg.connect(db, autocommit=True) as conn:
        return [name for name in ("scheduler", "job/reconcile")
                if conn.execute(LOCK_HELD, (f"{namespace}/{name}",)).fetchone() != (0,)]


def test_serve_with_a_reconcile_in_flight_when_sigterm_twice_and_ctrl_c_then_the_run_completes_and_exit_is_0(
        venue_env, exchange, fresh_db, namespace, tmp_path):
    """``paulp serve`` told to stop while ``POST /admin/reconcile`` waits on Kalshi, then told again (SIGTERM,
    Ctrl-C) as an impatient operator or supervisor does. Before ADR 0515 the re-raised SIGTERM made ``serve``
    exit 143 (``up`` exits 0), and the second Ctrl-C made uvicorn drop the request: its run stayed RUNNING."""
    _held_back(exchange, 2.0)
    stderr = tmp_path / "serve.err"
    answers: list[tuple[int, dict[str, Any]]] = []
    with _paulp(["serve", "--host", "127.0.0.1", "--port", "0"], venue_env, stderr) as proc:
        url = _url(proc, stderr)
        request = _post_in_background(f"{url}/admin/reconcile", answers)
        _wait_for_positions_read(exchange, proc, stderr)
        # Act
        code, took = _stop(proc, signal.SIGTERM, signal.SIGINT, timeout=30)
        request.join(10)
    log = stderr.read_text()
    # Assert: the request was answered by the run it started, which the log records as completed
    assert code == 0, log[-3000:]
    assert took < 15, took
    assert [(status, body.get("status")) for status, body in answers] == [(200, "ok")], answers
    assert [event for event, _ in _job_runs(fresh_db)] == ["JobRun.Created", "JobRun.Completed"]
    assert log.count("ignored: already stopping") == 2, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    assert _locks_held(fresh_db, namespace) == []


def test_up_with_a_reconcile_and_a_slow_client_in_flight_when_sigterm_then_both_cut_at_the_grace_and_exit_is_0(
        venue_env, exchange, fresh_db, namespace, tmp_path):
    """``paulp up`` (``PAULP_SHUTDOWN_GRACE_S=2``) told to stop while a reconcile waits on Kalshi longer than the
    grace and a client sends a request body a byte at a time, then told again. Before ADR 0515 the second SIGTERM
    ended it at once (exit 143, the run left RUNNING for a scheduler to reap 15 minutes later), and without it the
    slow client held the process as long as it kept sending: uvicorn waited for every request without a bound."""
    _held_back(exchange, 8.0)
    stderr = tmp_path / "up.err"
    answers: list[tuple[int, dict[str, Any]]] = []
    env = {**venue_env, "PAULP_SHUTDOWN_GRACE_S": str(GRACE_S)}
    with _paulp(["up", "--host", "127.0.0.1", "--port", "0"], env, stderr) as proc:
        url = _url(proc, stderr)
        request = _post_in_background(f"{url}/admin/reconcile", answers)
        _wait_for_positions_read(exchange, proc, stderr)
        host, port = url.removeprefix("http://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=30) as slow:
            slow.sendall(b"POST /admin/circuit-breaker/transition HTTP/1.1\r\nHost: paulp\r\nAuthorization: Bearer "
                         + TOKEN.encode() + b"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
            dripping = threading.Event()

            def drip() -> None:
                while not dripping.wait(0.2):
                    try:
                        slow.sendall(b" ")
                    except OSError:
                        return

            threading.Thread(target=drip, daemon=True).start()
            try:
                # Act
                code, took = _stop(proc, signal.SIGTERM, timeout=GRACE_S + 20)
                slow_answer = slow.recv(65536).decode(errors="replace")
            finally:
                dripping.set()
        request.join(10)
    log = stderr.read_text()
    # Assert: a clean exit within the grace (plus start-up of the stop), nothing left running or held
    assert code == 0, (took, log[-3000:])
    assert took < GRACE_S + 6, took
    assert _locks_held(fresh_db, namespace) == []
    # both requests still running at the deadline were answered 503 shutting_down, not dropped
    assert [(status, body["code"]) for status, body in answers] == [(503, "shutting_down")], answers
    assert slow_answer.startswith("HTTP/1.1 503") and '"code":"shutting_down"' in slow_answer, slow_answer
    # the run is recorded as stopped at once, not left RUNNING
    runs = _job_runs(fresh_db)
    assert [event for event, _ in runs] == ["JobRun.Created", "JobRun.Failed"], runs
    assert (runs[1][1] or "").startswith("Stopped: the process running it was told to stop"), runs
    assert "ignored: already stopping" in log and "Traceback" not in log, log[-3000:]


@pytest.mark.parametrize(("sig", "code", "said"), [(signal.SIGINT, 130, "interrupted: Ctrl-C stopped the command"),
                                                   (signal.SIGTERM, 143, "terminated: SIGTERM stopped the command")])
def test_reconcile_run_command_when_stopped_mid_venue_read_then_one_line_exit_status_and_the_run_interrupted(
        venue_env, exchange, fresh_db, tmp_path, sig, code, said):
    """``paulp reconcile run`` stopped (Ctrl-C, or SIGTERM from ``timeout``) while Kalshi holds its positions read
    back. Before ADR 0515 it exited 130 / 143 with nothing said (or a "Task was destroyed but it is pending!"
    warning), and its JobRun stayed RUNNING: no scheduler had started it, so only one reaping abandoned runs would
    ever close it, 15 minutes later."""
    _held_back(exchange, 5.0)
    stderr = tmp_path / "reconcile.err"
    with _paulp(["reconcile", "run", "--actor", "ops"], venue_env, stderr) as proc:
        _wait_for_positions_read(exchange, proc, stderr)
        # Act
        proc.send_signal(sig)
        status = proc.wait(30)
    # Assert
    lines = stderr.read_text().splitlines()
    assert status == code, lines
    assert len(lines) == 1 and lines[0].startswith(said), lines
    runs = _job_runs(fresh_db)
    assert [event for event, _ in runs] == ["JobRun.Created", "JobRun.Failed"], runs
    assert (runs[1][1] or "").startswith(f"Interrupted: the command running it was stopped ({sig.name})"), runs


def test_schedule_when_sigterm_during_its_start_up_audit_verification_then_it_exits_within_the_grace(
        fresh_db, nats_url, namespace, tmp_path):
    """``paulp schedule`` (and ``up``) verifies the audit chain as it starts: a full walk of a long log takes
    minutes (~25,000 records/s, ADR 0506; 100,000 events held a SIGTERM 5 s here). Before ADR 0515 the stop waited
    for the walk to end. The walk is held here behind a lock on the chain, as a long transaction would hold it."""
    env = {**os.environ, "ENVIRONMENT": "test", "PAULP_DATABASE_URL": fresh_db, "PAULP_NATS_URL": nats_url,
           "PAULP_NAMESPACE": namespace, "PAULP_MARKS": "false", "PAULP_SCHEDULE_TRADING": "false",
           "PAULP_SHUTDOWN_GRACE_S": str(GRACE_S), "PAULP_STATE_DIR": str(tmp_path / "state")}
    stderr = tmp_path / "schedule.err"
    with psycopg.connect(fresh_db) as holder, psycopg.connect(fresh_db, autocommit=True) as watch:
        holder.execute("LOCK TABLE audit_chain IN ACCESS EXCLUSIVE MODE")  # held until the test ends its transaction
        with _paulp(["schedule"], env, stderr) as proc:
            deadline = time.monotonic() + 60
            while watch.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'audit_chain'::regclass"
                                ).fetchone() == (0,):
                assert proc.poll() is None, stderr.read_text()[-3000:]
                assert time.monotonic() < deadline, "the start-up verification never reached the chain"
                time.sleep(0.02)
            # Act
            code, took = _stop(proc, timeout=GRACE_S + 15)
        holder.rollback()
    log = stderr.read_text()
    # Assert
    assert code == 0, (took, log[-3000:])
    assert took < GRACE_S + 6, took
    assert "start-up audit verification still running at the stop" in log and "Traceback" not in log, log[-3000:]
    assert _locks_held(fresh_db, namespace) == []


def test_relay_when_nats_never_answers_and_sigterm_then_cancelled_after_the_role_grace_and_errors_said_in_one_line(
        fresh_db, namespace, tmp_path):
    """The relay's NATS connect retries for ever while the server is down (a restart may be on its way), so the
    role never looked at the stop: SIGTERM left ``paulp relay`` running for good, and nats-py logged a 15-line
    traceback every 0.5 s. Now a role still running ``ROLE_STOP_GRACE_S`` after the stop is cancelled, and a NATS
    error is one WARNING line per client while it lasts (ADR 0515 addendum)."""
    from paulp.api.runtime import ROLE_STOP_GRACE_S

    with socket.socket() as s:  # a loopback port nothing listens on: every connect is refused at once
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    env = {**os.environ, "ENVIRONMENT": "test", "PAULP_DATABASE_URL": fresh_db,
           "PAULP_NATS_URL": f"nats://127.0.0.1:{closed}", "PAULP_NAMESPACE": namespace,
           "PAULP_STATE_DIR": str(tmp_path / "state")}
    stderr = tmp_path / "relay.err"
    with _paulp(["relay"], env, stderr) as proc:
        deadline = time.monotonic() + 60
        while "NATS client" not in stderr.read_text():  # the relay holds its lock and is connecting
            assert proc.poll() is None, stderr.read_text()[-3000:]
            assert time.monotonic() < deadline, "the relay never tried NATS"
            time.sleep(0.05)
        time.sleep(1.5)  # three more refused attempts
        # Act
        code, took = _stop(proc, timeout=ROLE_STOP_GRACE_S + 20)
    log = stderr.read_text()
    # Assert
    assert code == 0, (took, log[-3000:])
    assert took < ROLE_STOP_GRACE_S + 5, took
    assert "relay did not stop within" in log and "Traceback" not in log, log[-3000:]
    assert log.count("ConnectionRefusedError") == 1, log[-3000:]
