"""How a ``paulp`` process stops when it is told to (SIGTERM, SIGINT / Ctrl-C) with work in flight (ADR 0515).

The first stop signal starts the stop, once for the whole process:
- a one-shot command unwinds from wherever it is (``KeyboardInterrupt`` for Ctrl-C, ``SystemExit(143)`` for
  SIGTERM, ADR 0351): a job run it started is recorded as interrupted, its ``finally`` blocks close the container
  (routing outcomes stored) and stop the embedded servers, and it exits 130 / 143 with one line saying so;
- a long-running role (``up``, ``serve``, ``relay``, ``project``, ``schedule``) sets its stop event: requests and
  job runs in flight get until ``PAULP_SHUTDOWN_GRACE_S`` after the signal, what is still running then is
  answered 503 / recorded as stopped, and it exits 0.

Every later SIGINT or SIGTERM is noted on stderr and otherwise ignored. It used to cut that clean-up short
wherever it was (``paulp up`` exited 143 a second after a second SIGTERM, its job run left RUNNING and the
container never closed); each step of the clean-up is bounded, and SIGKILL still ends the process at once.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `paulp --help` imports this module: no event loop machinery at import (ADR 0407)
    import asyncio

log = logging.getLogger("paulp.shutdown")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
INTERRUPTED = 128 + signal.SIGINT  # a command Ctrl-C ended (the shell's convention)
TERMINATED = 128 + signal.SIGTERM  # a command SIGTERM ended


class _Stop:
    signal: signal.Signals | None = None
    at: float = 0.0


_stop = _Stop()


def received() -> signal.Signals | None:
    """The signal that started this process's stop, or None while it is not stopping."""
    return _stop.signal


def time_left(grace_s: float) -> float:
    """Seconds left of ``grace_s`` counted from the stop signal (all of it when no signal came)."""
    if _stop.signal is None:
        return grace_s
    return max(0.0, _stop.at + grace_s - time.monotonic())


def begin(signum: int) -> bool:
    """Record the stop; False (and a note on stderr) when the process is stopping already."""
    if _stop.signal is not None:
        _note(signum)
        return False
    _stop.signal, _stop.at = signal.Signals(signum), time.monotonic()
    return True


def _note(signum: int) -> None:
    """One line straight to stderr: this runs inside a signal handler, where logging could re-enter itself."""
    name = signal.Signals(signum).name
    text = (f"paulp: {name} ignored: already stopping (work in flight is finished or recorded first, within"
            " its bound); kill -9 ends the process at once\n")
    try:
        os.write(2, text.encode())
    except OSError:
        pass


def on_signal(signum: int, frame: FrameType | None) -> None:
    """The process's handler for SIGINT and SIGTERM (outside an event loop): the first unwinds the command,
    later ones are noted and ignored."""
    if not begin(signum):
        return
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(TERMINATED)


def install() -> None:
    """``paulp``'s handlers for SIGINT and SIGTERM (``api.cli.main``)."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, on_signal)


def on_loop(stop: asyncio.Event) -> None:
    """While a role's loop runs, SIGINT and SIGTERM set ``stop`` (the role then exits 0)."""
    import asyncio

    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, _stop_role, sig, stop)


def _stop_role(sig: signal.Signals, stop: asyncio.Event) -> None:
    if begin(sig):
        log.info("%s received: stopping; work in flight is finished or recorded within PAULP_SHUTDOWN_GRACE_S",
                 sig.name)
    stop.set()


def message(code: object) -> str | None:
    """The line a command ended by a stop signal prints (None for any other exit)."""
    if _stop.signal is signal.SIGINT and code == INTERRUPTED:
        return "Ctrl-C stopped the command before it finished; what it had recorded until then stands"
    if _stop.signal is signal.SIGTERM and code == TERMINATED:
        return "SIGTERM stopped the command before it finished; what it had recorded until then stands"
    return None


def exit_code() -> int:
    """The exit status of a command its stop signal ended."""
    return INTERRUPTED if _stop.signal is signal.SIGINT else TERMINATED


def reset() -> None:
    """Forget a stop (tests that deliver signals in-process)."""
    _stop.signal, _stop.at = None, 0.0
