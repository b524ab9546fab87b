"""``python -m tests.integration.live_submitter``: the scheduler's LIVE order work on a fast loop, for the crash
test (ADR 0467). The container is wired as every ``paulp`` command wires it (``paulp.api.cli.wired``: settings
and services from the environment); then the ``execute`` and ``order-timers`` slot bodies run back to back, each
under its job's advisory lock as the scheduler runs them, until the process is killed. It prints ``ready`` once
wired. Nothing here is a stand-in: the jobs, pipeline, Kalshi client and stores are the production ones.
"""

from __future__ import annotations

import logging
import time


def main() -> None:
    from paulp.api.cli import wired
    from paulp.api.order_timers_job import run_order_timers
    from paulp.api.signal_jobs import execute_pending

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    log = logging.getLogger("paulp.test.live_submitter")
    with wired() as container:
        print("ready", flush=True)
        while True:
            for job, run in (("execute", execute_pending), ("order-timers", run_order_timers)):
                try:
                    with container.jobs.exclusive(job, 5.0):
                        log.info("%s: %s", job, run(container))
                except Exception:  # a failed run is the next tick's to retry, as with the scheduler's slots
                    log.exception("%s failed", job)
            time.sleep(0.05)


if __name__ == "__main__":
    main()
