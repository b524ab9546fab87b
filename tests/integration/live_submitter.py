"""``python -m tests.integration.live_submitter``: the scheduler's LIVE order work on a fast loop, for the crash
test (ADR 0467). The container is wired as every ``paulp`` command wires it (``paulp.api.cli.wired``: settings
and services from the environment); then the ``execute`` and ``order-timers`` slot bodies run back to back, each
under its job's advisory lock as the scheduler runs them, until the process is killed. It prints ``ready`` once
wired. Nothing here is a stand-in: the jobs, pipeline, Kalshi client and stores are the production ones.

``--fork-server``: import the modules once, then fork one submitter per ``start LOGFILE`` line read on stdin
(ADR 0491). Each child is its own process: it wires its own container (connections, NATS, Kalshi client) after
the fork, writes its log to LOGFILE, prints ``ready PID`` (or ``failed PID``) and dies of the test's SIGKILL
like a fresh interpreter would; only the ~1.5 s of imports per start is paid once. The server holds no
connection and no thread; it exits when stdin closes.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time


def main() -> None:
    from paulp.api.cli import wired
    from paulp.api.order_timers_job import run_order_timers
    from paulp.api.signal_jobs import execute_pending

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    log = logging.getLogger("paulp.test.live_submitter")
    with wired() as container:
        print(f"ready {os.getpid()}", flush=True)
        while True:
            for job, run in (("execute", execute_pending), ("order-timers", run_order_timers)):
                try:
                    with container.jobs.exclusive(job, 5.0):
                        log.info("%s: %s", job, run(container))
                except Exception:  # a failed run is the next tick's to retry, as with the scheduler's slots
                    log.exception("%s failed", job)
            time.sleep(0.05)


def fork_server() -> None:
    import paulp.api.cli
    import paulp.api.order_timers_job
    import paulp.api.signal_jobs
    import paulp.api.wiring  # noqa: F401  (what ``wired`` imports when it builds)

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel: the test polls their pid
    print("imported", flush=True)
    for line in sys.stdin:
        command, _, logfile = line.strip().partition(" ")
        if command != "start":
            continue
        if os.fork() == 0:  # the submitter
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            err = os.open(logfile, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            os.dup2(err, 2)
            os.close(err)
            try:
                main()
            except BaseException:
                logging.getLogger("paulp.test.live_submitter").exception("submitter failed")
                print(f"failed {os.getpid()}", flush=True)
            finally:
                os._exit(1)


if __name__ == "__main__":
    fork_server() if sys.argv[1:] == ["--fork-server"] else main()
