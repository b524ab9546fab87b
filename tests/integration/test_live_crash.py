"""SIGKILL the process that submits LIVE orders at random moments, restart it, and check the venue and the log
agree: no client order id sent twice, no signal with two orders, nothing left in flight (ADR 0467).

Three processes on loopback, with real PostgreSQL and NATS: the loopback Kalshi exchange in its own process (its
record of what it received outlives the killed client; real RSA-PSS checks), the submitter
(``tests.integration.live_submitter``: the scheduler's ``execute`` and ``order-timers`` slots on a fast loop, wired as
``paulp`` wires itself), and this test, which feeds bonding signals through the scan's own signal-to-order step,
keeps the views projected and kills the submitter. Some kills land right after the exchange placed an order (or
cancelled one) and before the submitter could read the answer: the exchange journals what it did, then holds the
answer back. The others land at a random moment of a run. The seed is printed; ``PAULP_CRASH_SEED`` replays a run.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from paulp.adapters import replay as rp
from paulp.adapters.projector import catch_up_from_log
from paulp.api.app import create_app
from paulp.api.cli_risk_limits import assignments
from paulp.api.contexts import context
from paulp.api.signal_jobs import create_orders
from paulp.api.wiring import Container
from paulp.domain.execution_policies import policy_changes
from paulp.domain.order_states import TERMINAL_STATES, OrderState
from paulp.domain.services.operator_limits import ExecutionPolicyService
from paulp.domain.strategies.bonding_signals import BondingSignal
from tests.integration.helpers import make_container
from tests.support.seeding import catch_up, seed_executor_modes

pytestmark = [pytest.mark.integration, pytest.mark.slow]
S = OrderState
TOKEN = "live-crash-token-0123456789abcdefghij"
KEY_ID = str(uuid.uuid4())
ANSWER_DELAY_S = 0.5  # the exchange answers every order (and cancel) this long after acting on it
STALE_S = 1  # the LIVE bonding policy's stale-order timeout (an operator's setting, ADR 0402)
PROJECTIONS = ("orders", "venue_orders", "reconciliation", "market_correlations", "market_marks", "capital_allocations",
               "strategies", "execution_policies", "risk_limits")
# Where an order may end once recovery has run: closed (§1.3), reconciled once filled (§7), or ERROR after Kalshi
# said it never got it (nothing there: a retry would reuse the client order id).
SETTLED = TERMINAL_STATES | {S.ERROR, S.RECONCILED}


def _market(i: int, now: datetime) -> dict[str, Any]:
    """A tradable market of the fake's: 2-cent spread, deep synthetic book, open for five more days."""
    ticker = f"KXCRASH-26DEC01-T{i}"
    bid = 30 + 2 * i
    close = (now + timedelta(days=5)).isoformat().replace("+00:00", "Z")
    return {"ticker": ticker, "event_ticker": f"KXCRASH-26DEC01-E{i}", "series_ticker": "KXCRASH",
            "market_type": "binary", "status": "active", "title": ticker, "yes_bid": bid, "yes_ask": bid + 2,
            "no_bid": 98 - bid, "no_ask": 100 - bid, "last_price": bid + 1, "volume": 90_000, "volume_24h": 50_000,
            "open_interest": 1_000, "open_time": "2026-01-01T00:00:00Z", "close_time": close,
            "expected_expiration_time": close, "category": "economics", "rules_primary": f"Test market {ticker}."}


@contextmanager
def _exchange_process(tmp: Path, key: rsa.RSAPrivateKey,
                      markets: dict[str, dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The fake exchange in its own process; yields {base_url, journal, final, proc}."""
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    info = {"journal": tmp / "journal.jsonl", "final": tmp / "exchange-final.json"}
    config = tmp / "exchange.json"
    config.write_text(json.dumps({"public_key_pem": pem, "key_id": KEY_ID, "journal": str(info["journal"]),
                                  "final": str(info["final"]), "answer_delay_s": ANSWER_DELAY_S,
                                  "markets": markets}))
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakes.kalshi_process", str(config)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, "the exchange process did not start"
        yield {**info, "base_url": json.loads(line)["base_url"], "proc": proc}
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _journal(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


class Submitter:
    """The process that sends LIVE orders (``tests.integration.live_submitter``: the scheduler's execute and
    order-timers slots on a fast loop, wired as ``paulp`` wires itself); ``kill`` is SIGKILL.

    Each start is a new process forked by the module's fork server once it has imported everything (ADR 0491):
    the child wires its own container, and SIGKILL ends it with whatever it had not read or written yet, as it
    would a fresh interpreter; the server only saves each start its ~1.5 s of imports."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.server: subprocess.Popen[str] | None = None
        self.pid: int | None = None
        self.starts = 0

    def _server(self) -> subprocess.Popen[str]:
        if self.server is None:
            with self.log.open("a") as err:
                self.server = subprocess.Popen(
                    [sys.executable, "-m", "tests.integration.live_submitter", "--fork-server"], env=self.env,
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True)
            assert self.server.stdout is not None
            line = self.server.stdout.readline()
            assert line.strip() == "imported", f"the fork server did not start: {self.log.read_text()[-3000:]}"
        return self.server

    def start(self) -> None:
        server = self._server()
        assert server.stdin is not None and server.stdout is not None
        server.stdin.write(f"start {self.log}\n")
        server.stdin.flush()
        word, _, pid = server.stdout.readline().strip().partition(" ")
        assert word == "ready", f"the submitter did not start: {self.log.read_text()[-3000:]}"
        self.pid = int(pid)
        self.starts += 1

    def _alive(self) -> bool:
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)  # the server ignores SIGCHLD: a dead child is reaped at once, its pid gone
        except ProcessLookupError:
            self.pid = None
            return False
        return True

    def _wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        return not self._alive()

    def kill(self) -> None:
        if self._alive():
            assert self.pid is not None
            os.kill(self.pid, signal.SIGKILL)
            assert self._wait(10), "the submitter survived SIGKILL"

    def stop(self) -> None:
        if self._alive():
            assert self.pid is not None
            os.kill(self.pid, signal.SIGTERM)
            if not self._wait(10):
                self.kill()

    def close(self) -> None:
        """Kill the submitter if it runs; the fork server exits when its stdin closes."""
        self.kill()
        if self.server is not None:
            assert self.server.stdin is not None
            self.server.stdin.close()
            try:
                self.server.wait(10)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait(10)


@contextmanager
def _projecting(container: Container) -> Iterator[None]:
    """The projector role, never killed here: the views the jobs read follow the log (catch-up every 50 ms)."""
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            _project(container)
            stop.wait(0.05)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)


def _project(container: Container) -> None:
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        for name in PROJECTIONS:
            catch_up_from_log(conn, container.projections[name])


def _feed(container: Container, markets: dict[str, dict[str, Any]], indexes: list[int]) -> None:
    """Bonding signals for the markets named by ``indexes`` through the scan's signal-to-order step (one PENDING
    order per new signal; a signal fed again is a no-op). Even signals are priced at the ask (they fill at
    Kalshi), odd ones a cent under it (they rest, then the stale timer cancels them at Kalshi)."""
    now = datetime.now(UTC)
    signals = []
    for i in indexes:
        m = list(markets.values())[i]
        price = (m["yes_ask"] - (i % 2)) / 100
        signals.append(BondingSignal(
            signal_id=f"crash-signal-{i}", market_id=m["ticker"], signal_type="bond", tail_type=None,
            target_size=30 * price + 0.001, kelly_fraction=0.1, expected_edge=0.05, market_price=price,
            fair_probability=min(price + 0.1, 0.99), confidence=0.8, created_at=now,
            expires_at=now + timedelta(hours=1)))
    _project(container)
    create_orders(container, "bonding", signals, now)
    _project(container)


def _unsettled(container: Container, order_ids: list[str]) -> list[tuple[str, str]]:
    """(order id, state) of every order not settled yet, each read from its events."""
    out = []
    for oid in order_ids:
        order = container.orders.find(oid)
        assert order is not None
        if order.state not in SETTLED or order.submission_in_doubt:
            out.append((oid, order.state.value))
    return out


def _order_ids(container: Container) -> list[str]:
    _project(container)
    with psycopg.connect(container.database_url) as conn:
        return [r[0] for r in conn.execute("SELECT order_id FROM views.orders ORDER BY created_at, order_id")]


def _states(container: Container) -> list[tuple[str, str, str, int, str | None]]:
    """(signal, order, state, filled, last error) of every order, from its events: printed with the seed."""
    out = []
    for oid in _order_ids(container):
        o = container.orders.find(oid)
        assert o is not None
        out.append((o.signal_id, oid, o.state.value, o.filled_size, o.last_error))
    return out


def _journalled(journal: Path, kind: str) -> int:
    """How many order requests (``order``) or cancels (``cancel``) the exchange has acted on so far."""
    return len([e for e in _journal(journal) if e["kind"] == kind])


def test_live_submitter_killed_repeatedly_then_every_order_reaches_kalshi_at_most_once_and_settles(
        fresh_db, nats_url, namespace, tmp_path):
    seed = int(os.environ.get("PAULP_CRASH_SEED", str(random.randrange(1 << 30))))
    print(f"live crash test seed {seed}")
    rnd = random.Random(seed)
    started = time.monotonic()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    markets = {m["ticker"]: m for m in (_market(i, now) for i in range(28))}  # 2 + up to 8 x 3 signals
    kills = rnd.randint(3, 5)  # each costs a submitter restart (~3 s): three fixed kinds plus up to two drawn
    kinds = ["order", "order", "cancel"] + [rnd.choice(["order", "cancel", "random"]) for _ in range(kills - 3)]
    rnd.shuffle(kinds)
    print(f"kills: {kinds}")
    hits: list[tuple[str, bool]] = []  # (kind, whether the kill came right after Kalshi acted)
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    with _exchange_process(tmp_path, key, markets) as fake:
        container = make_container(fresh_db, nats_url, namespace, admin_token=TOKEN,
                                   KALSHI_BASE_URL=fake["base_url"], KALSHI_API_KEY=KEY_ID,
                                   KALSHI_PRIVATE_KEY=private_pem, PAULP_EVIDENCE_DIR=tmp_path / "evidence")
        seed_executor_modes(container, {"kalshi": {"bonding": "LIVE"}})  # go-live: two operators
        with context(ExecutionPolicyService, fresh_db) as policies:  # what `paulp execution policy set` records
            policies.update("bonding", "LIVE", policy_changes(assignments([
                f"staleOrderTimeoutSec={STALE_S}", "minOrderSpacingMs=0", "maxOrdersPerMinute=1000",
                "maxOrdersPerHour=10000", "tradingHours.enabled=false"])), "crash-test", "fast timers for the test")
        catch_up(container)
        env = {**os.environ, "ENVIRONMENT": "test", "PAULP_DATABASE_URL": fresh_db, "PAULP_NATS_URL": nats_url,
               "PAULP_NAMESPACE": namespace, "PAULP_STATE_DIR": str(tmp_path / "state"),
               "PAULP_EVIDENCE_DIR": str(tmp_path / "evidence"), "ADMIN_TOKEN": TOKEN,
               "KALSHI_BASE_URL": fake["base_url"], "KALSHI_API_KEY": KEY_ID, "KALSHI_PRIVATE_KEY": private_pem}
        submitter = Submitter(env, tmp_path / "submitter.log")
        fed, next_signal = [0, 1], 2
        _feed(container, markets, fed)
        try:
            with _projecting(container):
                for kind in kinds:
                    # new signals (a cancel round gets one that rests: odd ones do), and one fed before again (a
                    # scan repeating itself after the crash)
                    new = list(range(next_signal, next_signal + rnd.randint(1, 2)))
                    if kind == "cancel" and not any(i % 2 for i in new):
                        new.append(new[-1] + 1)
                    next_signal += len(new)
                    _feed(container, markets, [*new, rnd.choice(fed)])
                    fed += new
                    seen = _journalled(fake["journal"], kind)
                    submitter.start()
                    if kind == "random":
                        time.sleep(rnd.uniform(0.0, 1.5))
                    else:  # Kalshi placed an order / cancelled one and holds its answer back: kill now
                        deadline = time.monotonic() + 5 + STALE_S
                        while time.monotonic() < deadline and _journalled(fake["journal"], kind) == seen:
                            time.sleep(0.005)
                    hits.append((kind, kind != "random" and _journalled(fake["journal"], kind) > seen))
                    submitter.kill()
                killed_at = time.monotonic() - started
                # recovery: one more start; the jobs run until every order has settled (bounded)
                submitter.start()
                order_ids = _order_ids(container)
                deadline = time.monotonic() + 25
                while _unsettled(container, order_ids) and time.monotonic() < deadline:
                    time.sleep(0.2)
                submitter.stop()
                settled_at = time.monotonic() - started
            _project(container)
            recon = container.jobs.trigger("reconcile", "crash-test", "admin")  # §7, against Kalshi's positions
            _project(container)
            trades = TestClient(create_app(container)).get("/admin/trades?venue=kalshi&mode=LIVE&limit=500",
                                                          headers={"Authorization": f"Bearer {TOKEN}"})
        finally:
            submitter.close()
    final = json.loads(fake["final"].read_text())
    elapsed = time.monotonic() - started
    for row in _states(container):
        print(row)
    print(f"kills {hits}; submitter starts {submitter.starts}, signals {len(fed)}, Kalshi orders"
          f" {len(final['orders'])}; killed by {killed_at:.1f}s, settled by {settled_at:.1f}s, done in {elapsed:.1f}s")

    # every client order id reached Kalshi at most once: never a second order (§1.8)
    posts = Counter(final["order_posts"])
    assert posts and max(posts.values()) == 1, posts.most_common(3)
    venue = {o["client_order_id"]: o for o in final["orders"]}
    # each order kill came right after Kalshi placed an order whose answer the killed process never read: that
    # many orders (at least) went through the recovery of an unknown venue outcome (ADR 0100)
    order_hits = sum(1 for kind, hit in hits if kind == "order" and hit)
    assert order_hits >= 2 and any(hit for kind, hit in hits if kind == "cancel"), hits
    # one order per signal, and only orders of signals that were fed
    orders = [container.orders.find(i) for i in _order_ids(container)]
    assert all(o is not None for o in orders)
    by_signal = Counter(o.signal_id for o in orders if o is not None)
    assert set(by_signal) == {f"crash-signal-{i}" for i in fed} and max(by_signal.values()) == 1, by_signal
    assert set(venue) <= {o.order_id for o in orders if o is not None}
    # nothing in flight after recovery, and each order as Kalshi has it (§1.4, §1.6)
    assert _unsettled(container, [o.order_id for o in orders if o is not None]) == []
    in_doubt = [o.order_id for o in orders if o is not None and any(h.reason == "Venue outcome unknown"
                                                                     for h in o.history)]
    assert len(in_doubt) >= order_hits, (in_doubt, hits)
    for order in orders:
        assert order is not None
        at_kalshi = venue.get(order.order_id)
        if at_kalshi is None:  # never reached Kalshi: nothing filled, nothing working
            assert order.filled_size == 0 and order.broker_order_id is None, order.order_id
            continue
        assert at_kalshi["status"] in ("executed", "canceled"), at_kalshi  # nothing left resting at Kalshi
        assert order.broker_order_id == at_kalshi["order_id"], order.order_id
        assert order.filled_size == at_kalshi["fill_count"], order.order_id
        # a fill is verified against Kalshi's positions by the reconcile run (FILLED -> RECONCILED, §1.4.8)
        expected = S.RECONCILED if at_kalshi["status"] == "executed" else S.CANCELLED
        assert order.state == expected, (order.order_id, order.state, at_kalshi["status"])
    assert recon["status"] == "ok", recon  # Kalshi's positions are the filled orders', no more
    # the trade view (GET /admin/trades) says what the log says
    assert trades.status_code == 200, trades.text
    rows = {t["client_order_id"]: t for t in trades.json()["trades"]}
    for order in orders:
        assert order is not None
        row = rows.get(order.order_id)
        if order.order_id in venue:
            assert row is not None, order.order_id
            assert (row["order_id"], row["fill_count"]) == (order.broker_order_id, order.filled_size), row
            assert row["status"] == {S.RECONCILED: "filled", S.CANCELLED: "cancelled"}[order.state], (row, order.state)
        elif row is not None:
            assert row["status"] in ("not_found", "rejected"), row
    for name in ("orders", "venue_orders"):
        proj = container.projections[name]
        rp.replay(fresh_db, proj, f"replay_crash_{name}")
        assert rp.diff(fresh_db, proj, f"replay_crash_{name}") == [], name
    container.close()
