"""``paulp serve`` / ``paulp up`` say where they listen only once they do, and a taken port stops them with a
message naming it (ADR 0360). Real subprocesses, real PostgreSQL and NATS, bounded waits."""

from __future__ import annotations

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

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _env(db: str, nats: str, namespace: str, state: Path) -> dict[str, str]:
    return {**os.environ, "ENVIRONMENT": "test", "PAULP_DATABASE_URL": db, "PAULP_NATS_URL": nats,
            "PAULP_NAMESPACE": namespace, "PAULP_STATE_DIR": str(state), "PAULP_MARKS": "false",
            "PAULP_SCHEDULE_TRADING": "false", "KALSHI_BASE_URL": "http://127.0.0.1:9/trade-api/v2"}


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


@pytest.mark.parametrize("command", ["serve", "up"])
def test_start_when_port_taken_then_exit_1_naming_the_address_and_no_url(command, fresh_db, nats_url, namespace,
                                                                         tmp_path):
    # Arrange
    with _occupied() as port:
        # Act
        with _started([command, "--host", "127.0.0.1", "--port", str(port)],
                      _env(fresh_db, nats_url, namespace, tmp_path), tmp_path / "stderr") as (proc, lines):
            code = proc.wait(timeout=90)
        # Assert
        stdout, stderr = _all_output(lines), (tmp_path / "stderr").read_text()
        assert code == 1, stderr[-2000:]
        assert f"cannot listen on 127.0.0.1:{port}" in stderr and "in use" in stderr
        assert "http://" not in stdout and "http://" not in stderr


@pytest.mark.parametrize(("host", "port", "reason"), [("127.0.0.1", "70000", "port must be 0-65535"),
                                                     ("no-such-host.invalid", "8787", "not known")])
def test_serve_when_address_cannot_be_bound_then_exit_1_naming_it(host, port, reason, fresh_db, nats_url, namespace,
                                                                  tmp_path):
    with _started(["serve", "--host", host, "--port", port], _env(fresh_db, nats_url, namespace, tmp_path),
                  tmp_path / "stderr") as (proc, lines):
        code = proc.wait(timeout=90)
    stdout, stderr = _all_output(lines), (tmp_path / "stderr").read_text()
    assert code == 1, stderr[-2000:]
    assert f"cannot listen on {host}:{port}" in stderr and reason in stderr, stderr[-2000:]
    assert "http://" not in stdout + stderr and "Traceback" not in stderr


@pytest.mark.parametrize(("command", "marker"), [("serve", "Paul P API on http://"), ("up", "Paul P up on http://")])
def test_start_when_url_line_printed_then_an_immediate_request_is_answered(command, marker, fresh_db, nats_url,
                                                                           namespace, tmp_path):
    # Arrange
    port = _free_port()
    stderr = tmp_path / "stderr"
    with _started([command, "--host", "127.0.0.1", "--port", str(port)],
                  _env(fresh_db, nats_url, namespace, tmp_path), stderr) as (proc, lines):
        # Act: connect the moment the line appears, no retry
        line = _url_line(proc, lines, marker, stderr)
        url = line.split(" on ", 1)[1].split()[0]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        with urllib.request.urlopen(f"{url}/health/live", timeout=10) as r:
            status = r.status
        proc.send_signal(SIGINT)
        code = proc.wait(timeout=60)
    # Assert
    assert url == f"http://127.0.0.1:{port}"
    assert status == 200
    assert code == 0, stderr.read_text()[-2000:]


def test_serve_when_port_0_then_the_url_names_the_port_it_listens_on(fresh_db, nats_url, namespace, tmp_path):
    # Arrange
    stderr = tmp_path / "stderr"
    with _started(["serve", "--host", "127.0.0.1", "--port", "0"], _env(fresh_db, nats_url, namespace, tmp_path),
                  stderr) as (proc, lines):
        # Act
        url = _url_line(proc, lines, "Paul P API on http://", stderr).split(" on ", 1)[1].split()[0]
        with urllib.request.urlopen(f"{url}/health/live", timeout=10) as r:
            status = r.status
        proc.send_signal(SIGINT)
        proc.wait(timeout=60)
    # Assert
    assert url.startswith("http://127.0.0.1:") and int(url.rsplit(":", 1)[1]) > 0
    assert status == 200
