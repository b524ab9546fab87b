"""Kill -9 the relay and the projector at random moments under >= 20,000 events; nothing lost or doubled.

Bounded: every wait has a deadline, everything runs on loopback, and the seed is printed for a re-run.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from paulp.adapters import replay as rp
from paulp.domain.breaker import CircuitBreaker
from tests.integration.helpers import log_ids, make_container, max_notification_id, stream_ids, wait_tracked

pytestmark = [pytest.mark.integration, pytest.mark.slow]
EVENTS = 20_000
PER_SAVE = 100
KILLS = 4


# The projector process runs only the projection this test writes for. Every projection is its own Projector
# (its own consumer, connection and tracking row) with the same crash and restart path, and the 25 others ignore
# every event written here: run beside it, they only took the CPU and made this file 70 s instead of 23 s (ADR 0439).
ROLE_ARGS = {"relay": ["relay"], "project": ["project", "--projection", "breaker_state"]}


def _spawn(role: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "paulp.api", *ROLE_ARGS[role]], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill9(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def test_relay_and_projector_killed_repeatedly_then_stream_exactly_once_and_view_equals_replay(
    fresh_db, nats_url, namespace
):
    seed = int(os.environ.get("PAULP_FAULT_SEED", str(random.randrange(1 << 30))))
    print(f"fault test seed {seed}")
    rnd = random.Random(seed)
    container = make_container(fresh_db, nats_url, namespace)
    env = {**os.environ, "ENVIRONMENT": "test", "PAULP_DATABASE_URL": fresh_db, "PAULP_NATS_URL": nats_url,
           "PAULP_NAMESPACE": namespace}
    procs = {"relay": _spawn("relay", env), "project": _spawn("project", env)}
    done = threading.Event()

    def write() -> None:
        breaker = container.breaker.get()
        for batch in range(EVENTS // PER_SAVE):
            for i in range(PER_SAVE):
                breaker.raise_alert("LOAD", "warning", container.clock.now(), f"{batch}/{i}")
            container.breaker.save(breaker)
        done.set()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        for _ in range(KILLS):
            time.sleep(rnd.uniform(0.3, 2.0))
            victim = rnd.choice(sorted(procs))
            _kill9(procs[victim])
            time.sleep(rnd.uniform(0.0, 0.5))
            procs[victim] = _spawn(victim, env)
        # Kill both at once too, mid-stream if the writer is still going.
        for role in list(procs):
            _kill9(procs[role])
            procs[role] = _spawn(role, env)
        writer.join(120)
        assert done.is_set(), "writer did not finish"
        head = max_notification_id(fresh_db)
        assert head >= EVENTS
        wait_tracked(fresh_db, "breaker_state", head, timeout=120)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    _kill9(p)
    with psycopg.connect(fresh_db) as conn:
        dead = conn.execute("SELECT count(*) FROM projection_dead_letters").fetchone()[0]
        alerts = conn.execute("SELECT count(*) FROM views.breaker_alerts").fetchone()[0]
    in_log = log_ids(fresh_db)
    in_stream = asyncio.run(stream_ids(nats_url, container.names))
    assert in_stream == in_log, "stream differs from the log (lost, duplicated or reordered events)"
    assert dead == 0
    assert alerts == sum(1 for _ in range(EVENTS))
    proj = container.projections["breaker_state"]
    rp.replay(fresh_db, proj, "replay_fault", until_seq=head)
    assert rp.diff(fresh_db, proj, "replay_fault") == []
    container.close()
    assert isinstance(container.breaker, object) and CircuitBreaker.create_id("global")
