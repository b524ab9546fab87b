"""``paulp serve`` / ``paulp up`` say where they listen only once they do, and a taken port stops them with a
message naming it (ADR 0360). Real PostgreSQL and NATS, bounded waits. Every start that listens is a real
subprocess; of the refusals, which stop before anything is wired, ``up`` on a taken port is one too, and the
others run the same typer app in this process (each subprocess paid ~3 s of start-up for them; ADR 0439)."""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from signal import SIGINT

import psycopg
import pytest
from typer.testing import CliRunner, Result

from paulp.api.cli import app

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
TOKEN = "listening-token-0123456789abcdefghij"


def _vars(db: str, nats: str, namespace: str, state: Path) -> dict[str, str]:
    return {"ENVIRONMENT": "test", "PAULP_DATABASE_URL": db, "PAULP_NATS_URL": nats, "PAULP_NAMESPACE": namespace,
            "PAULP_STATE_DIR": str(state), "PAULP_MARKS": "false", "PAULP_SCHEDULE_TRADING": "false",
            "ADMIN_TOKEN": TOKEN, "KALSHI_BASE_URL": "http://127.0.0.1:9/trade-api/v2"}  # cron slots stay on loopback


def _env(db: str, nats: str, namespace: str, state: Path) -> dict[str, str]:
    return {**os.environ, **_vars(db, nats, namespace, state)}


def _in_process(args: list[str], db: str, nats: str, namespace: str, state: Path) -> Result:
    """The same command through the same typer app in this process, for a refusal before anything is wired."""
    return CliRunner().invoke(app, args, env={**_vars(db, nats, namespace, state), "COLUMNS": "250"})


def _request(url: str, method: str = "GET", body: dict[str, str] | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body else None, headers=headers,
                                 method=method)
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.read()


@contextmanager
def _occupied() -> Iterator[int]:
    """A loopback port another process is listening on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


Started = tuple[subprocess.Popen[str], queue.Queue[str]]


@contextmanager
def _started(args: list[str], env: dict[str, str], stderr: Path) -> Iterator[Started]:
    """``paulp <args>`` with its stdout lines fed to a queue as they come; killed on the way out if still running."""
    with stderr.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "paulp.api", *args], env=env, stdout=subprocess.PIPE,
                                stderr=err, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in proc.stdout or ():
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield proc, lines
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        reader.join(10)


def _url_line(proc: subprocess.Popen[str], lines: queue.Queue[str], marker: str, stderr: Path) -> str:
    """The first stdout line naming the HTTP URL, waited for at most 90 s."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            assert proc.poll() is None, f"exited {proc.returncode}: {stderr.read_text()[-2000:]}"
            continue
        if marker in line:
            return line
    raise AssertionError(f"no {marker!r} line within 90 s: {stderr.read_text()[-2000:]}")


def _all_output(lines: queue.Queue[str]) -> str:
    out = []
    while not lines.empty():
        out.append(lines.get_nowait())
    return "".join(out)


def test_up_when_port_taken_then_exit_1_naming_the_address_and_no_url(fresh_db, nats_url, namespace, tmp_path):
    # Arrange
    with _occupied() as port:
        # Act: a real process, as an operator starts it
        with _started(["up", "--host", "127.0.0.1", "--port", str(port)],
                      _env(fresh_db, nats_url, namespace, tmp_path), tmp_path / "stderr") as (proc, lines):
            code = proc.wait(timeout=90)
        # Assert
        stdout, stderr = _all_output(lines), (tmp_path / "stderr").read_text()
        assert code == 1, stderr[-2000:]
        assert f"cannot listen on 127.0.0.1:{port}" in stderr and "in use" in stderr
        assert "http://" not in stdout and "http://" not in stderr


def test_serve_when_port_taken_then_exit_1_naming_the_address_and_no_url(fresh_db, nats_url, namespace, tmp_path):
    # Arrange
    with _occupied() as port:
        # Act
        r = _in_process(["serve", "--host", "127.0.0.1", "--port", str(port)], fresh_db, nats_url, namespace,
                        tmp_path)
    # Assert
    stderr = " ".join(r.stderr.split())
    assert r.exit_code == 1, r.output
    assert f"cannot listen on 127.0.0.1:{port}" in stderr and "in use" in stderr
    assert "http://" not in r.stdout and "http://" not in r.stderr


@pytest.mark.parametrize(("host", "port", "reason"), [("127.0.0.1", "70000", "port must be 0-65535"),
                                                     ("no-such-host.invalid", "8787", "not known")])
def test_serve_when_address_cannot_be_bound_then_exit_1_naming_it(host, port, reason, fresh_db, nats_url, namespace,
                                                                  tmp_path):
    r = _in_process(["serve", "--host", host, "--port", port], fresh_db, nats_url, namespace, tmp_path)
    stderr = " ".join(r.stderr.split())
    assert r.exit_code == 1, r.output
    assert f"cannot listen on {host}:{port}" in stderr and reason in stderr, stderr[-2000:]
    assert "http://" not in r.stdout + r.stderr and "Traceback" not in r.stderr
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception


def test_serve_when_url_line_printed_then_an_immediate_request_is_answered_and_ctrl_c_stops_it(
        fresh_db, nats_url, namespace, tmp_path):
    # Arrange
    port = _free_port()
    stderr = tmp_path / "stderr"
    with _started(["serve", "--host", "127.0.0.1", "--port", str(port)],
                  _env(fresh_db, nats_url, namespace, tmp_path), stderr) as (proc, lines):
        # Act: connect the moment the line appears, no retry
        line = _url_line(proc, lines, "Paul P API on http://", stderr)
        url = line.split(" on ", 1)[1].split()[0]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        live, _ = _request(f"{url}/health/live")
        trades = _request(f"{url}/admin/trades?venue=kalshi")  # an operator route, authorised, over HTTP
        proc.send_signal(SIGINT)
        code = proc.wait(timeout=60)
    # Assert
    assert url == f"http://127.0.0.1:{port}"
    assert live == 200
    assert trades[0] == 200 and b'"count":0' in trades[1]
    assert code == 0, stderr.read_text()[-2000:]


def test_up_when_url_line_printed_then_answered_a_breaker_transition_reaches_its_view_and_ctrl_c_stops_all(
        fresh_db, nats_url, namespace, tmp_path):
    """``paulp up`` as one process: API, relay, projectors and scheduler on one loop (uvloop when installed).
    A transition posted over HTTP must reach ``views.breaker_transitions``, which only the relay (log →
    JetStream) and the projector (JetStream → view) of that process can write."""
    # Arrange
    port = _free_port()
    stderr = tmp_path / "stderr"
    with _started(["up", "--host", "127.0.0.1", "--port", str(port)],
                  _env(fresh_db, nats_url, namespace, tmp_path), stderr) as (proc, lines):
        # Act: connect the moment the line appears, no retry
        line = _url_line(proc, lines, "Paul P up on http://", stderr)
        url = line.split(" on ", 1)[1].split()[0]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        live, _ = _request(f"{url}/health/live")
        moved = _request(f"{url}/admin/circuit-breaker/transition", "POST",
                         {"targetState": "CAUTION", "reason": "up e2e"})
        rows: list[tuple[str, str, str]] = []
        deadline = time.monotonic() + 30
        with psycopg.connect(fresh_db, autocommit=True) as conn:  # the views exist: migrated before listening
            while not rows and time.monotonic() < deadline:
                rows = conn.execute("SELECT from_state, to_state, reason FROM views.breaker_transitions").fetchall()
                time.sleep(0 if rows else 0.05)
        status = _request(f"{url}/admin/status")
        proc.send_signal(SIGINT)
        code = proc.wait(timeout=60)
    # Assert
    assert url == f"http://127.0.0.1:{port}"
    assert live == 200
    assert moved[0] == 200 and json.loads(moved[1])["newState"] == "CAUTION"
    assert rows == [("NORMAL", "CAUTION", "up e2e")]
    assert json.loads(status[1])["circuitBreaker"]["state"] == "CAUTION"
    assert code == 0, stderr.read_text()[-2000:]


def test_serve_when_port_0_then_the_url_names_the_port_it_listens_on(fresh_db, nats_url, namespace, tmp_path):
    # Arrange
    stderr = tmp_path / "stderr"
    with _started(["serve", "--host", "127.0.0.1", "--port", "0"], _env(fresh_db, nats_url, namespace, tmp_path),
                  stderr) as (proc, lines):
        # Act
        url = _url_line(proc, lines, "Paul P API on http://", stderr).split(" on ", 1)[1].split()[0]
        status, _ = _request(f"{url}/health/live")
        proc.send_signal(SIGINT)
        proc.wait(timeout=60)
    # Assert
    assert url.startswith("http://127.0.0.1:") and int(url.rsplit(":", 1)[1]) > 0
    assert status == 200
