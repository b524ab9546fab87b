"""The paulp command line against real services: exit codes and messages for good and bad input."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from signal import SIGINT

import psycopg
import pytest

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


def test_cli_when_input_bad_then_message_and_nonzero_exit(fresh_db, nats_url):
    r = paulp(["replay", "--projection", "nope"], fresh_db, nats_url)
    assert r.returncode == 2 and "unknown projection" in r.stderr
    r = paulp(["replay", "--projection", "breaker_state", "--into", "views"], fresh_db, nats_url)
    assert r.returncode == 2 and "refusing" in r.stderr
    r = paulp(["audit", "verify", "--from", "5", "--to", "2"], fresh_db, nats_url)
    assert r.returncode == 2 and "--from" in r.stderr
    r = paulp(["jobs", "runs", "--state", "stuck"], fresh_db, nats_url)
    assert r.returncode == 2 and "Invalid state" in r.stderr
    r = paulp(["orders", "list", "--state", "fillled"], fresh_db, nats_url)  # a typo, not an empty list
    assert r.returncode == 2 and "unknown order state 'fillled'" in r.stderr and "PARTIAL_FILL" in r.stderr
    env = {**os.environ, "ENVIRONMENT": "production"}
    env.pop("PAULP_DATABASE_URL", None)
    env.pop("PAULP_NATS_URL", None)
    r = subprocess.run([sys.executable, "-m", "paulp.api", "doctor"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "PAULP_DATABASE_URL" in r.stderr


@contextmanager
def paulp_server(command: str, env: dict[str, str]) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """``paulp <command> --port P`` on a free loopback port, yielded once it answers /health/live; killed on
    the way out if the test did not stop it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "paulp.api", command, "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, f"paulp {command} did not start listening"
                time.sleep(0.2)
        yield port, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_serve_when_started_then_api_answers_over_http_and_ctrl_c_stops_it(fresh_db, nats_url):
    token = "serve-token-0123456789abcdefghij"
    env = {**os.environ, "ENVIRONMENT": "test", "PAULP_DATABASE_URL": fresh_db, "PAULP_NATS_URL": nats_url,
           "ADMIN_TOKEN": token}
    with paulp_server("serve", env) as (port, proc):
        req = urllib.request.Request(f"http://127.0.0.1:{port}/admin/trades?venue=kalshi",
                                     headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 200 and b'"count":0' in r.read()
        proc.send_signal(SIGINT)
        assert proc.wait(timeout=30) == 0


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
                time.sleep(0 if held else 0.2)
            assert held, "paulp schedule never took the scheduler's lead"
            proc.send_signal(SIGINT)
            assert proc.wait(timeout=30) == 0
            assert conn.execute(HELD, (key,)).fetchone() == (0,)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_up_when_started_then_breaker_transition_reaches_its_view_through_nats_and_ctrl_c_stops_all(
    fresh_db, nats_url, namespace
):
    """``paulp up`` as one process: API, relay, projectors and scheduler on one loop (uvloop when
    installed). A transition posted over HTTP must reach ``views.breaker_transitions``, which only the
    relay (log → JetStream) and the projector (JetStream → view) of that process can write."""
    token = "up-token-0123456789abcdefghijklm"
    env = {**os.environ, "ENVIRONMENT": "test", "PAULP_DATABASE_URL": fresh_db, "PAULP_NATS_URL": nats_url,
           "PAULP_NAMESPACE": namespace, "ADMIN_TOKEN": token, "PAULP_MARKS": "false",
           "KALSHI_BASE_URL": "http://127.0.0.1:9/trade-api/v2"}  # a cron slot during the test stays on loopback
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with paulp_server("up", env) as (port, proc):
        body = json.dumps({"targetState": "CAUTION", "reason": "up e2e"}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/admin/circuit-breaker/transition", data=body,
                                     headers=auth, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200 and json.loads(r.read())["newState"] == "CAUTION"
        rows: list[tuple[str, str, str]] = []
        deadline = time.monotonic() + 30
        with psycopg.connect(fresh_db, autocommit=True) as conn:  # the views exist: migrated before listening
            while not rows and time.monotonic() < deadline:
                rows = conn.execute("SELECT from_state, to_state, reason FROM views.breaker_transitions").fetchall()
                time.sleep(0.2)
        assert rows == [("NORMAL", "CAUTION", "up e2e")]
        req = urllib.request.Request(f"http://127.0.0.1:{port}/admin/status", headers=auth)
        with urllib.request.urlopen(req, timeout=10) as r:
            assert json.loads(r.read())["circuitBreaker"]["state"] == "CAUTION"
        proc.send_signal(SIGINT)
        assert proc.wait(timeout=60) == 0, proc.stdout.read() if proc.stdout else ""
