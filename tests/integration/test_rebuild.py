"""``paulp rebuild`` on real PostgreSQL + NATS (ADR 0010): a corrupted live view is replaced by what the log
builds while the relay and projector keep running, events appended during and after the rebuild land once,
a dry run changes nothing, and refusals leave the live view as it was."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from paulp.adapters import rebuild as rb
from paulp.adapters.market_data import StaticMarketData
from paulp.adapters.projector import catch_up_from_log
from paulp.api.wiring import Container
from paulp.domain.clock import FixedClock
from paulp.projections.base import Projection
from tests.integration.helpers import (
    NOW,
    assert_live_equals_replay,
    facts,
    make_container,
    max_notification_id,
    signal,
    wait_tracked,
    workers,
)
from tests.integration.kalshi_system import System

pytestmark = pytest.mark.integration
TICKERS = [f"KXREB-{i:03d}" for i in range(240)]
SIZE = 25


def paulp(args: list[str], db: str, nats: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENVIRONMENT": "test", "PAULP_DATABASE_URL": db, "PAULP_NATS_URL": nats, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "paulp.api", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def paulp_here(args: list[str], db: str, nats: str,
               monkeypatch: pytest.MonkeyPatch) -> subprocess.CompletedProcess[str]:
    """``paulp`` run in this process through the same typer app (no interpreter start-up and wiring import, ~2 s
    each); the answer in the subprocess's shape. ``paulp()`` above keeps the real process in the other tests."""
    from typer.testing import CliRunner

    from paulp.api.cli import app

    for name, value in (("ENVIRONMENT", "test"), ("PAULP_DATABASE_URL", db), ("PAULP_NATS_URL", nats),
                        ("COLUMNS", "200")):
        monkeypatch.setenv(name, value)
    out = CliRunner().invoke(app, args)
    return subprocess.CompletedProcess(args, out.exit_code, out.stdout, out.stderr)


def dump(db: str, tables: tuple[str, ...]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of each live table, in a stable order (for 'unchanged' checks)."""
    with psycopg.connect(db) as conn:
        return {t: sorted(conn.execute(f"SELECT * FROM views.{t}").fetchall(), key=repr) for t in tables}


def tracking(db: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db) as conn:
        return conn.execute("SELECT name, last_notification_id, last_stream_seq FROM projection_tracking"
                            " ORDER BY name").fetchall()


def order(container: Container, i: int) -> None:
    """The i-th paper order, filled, on its own market (orders are spaced as the risk rules require)."""
    at = NOW + timedelta(seconds=7 * i)
    container.clock.set(at)  # type: ignore[attr-defined]
    market = StaticMarketData({TICKERS[i]: replace(facts(TICKERS[i]), last_price_update=at - timedelta(seconds=5),
                                                   category=f"rebuild-{i}")})  # no category fills up (I4)
    out = container.pipeline(market).process(signal(f"reb-{i}", TICKERS[i], size=SIZE))
    assert out.state == "FILLED", out


class Writer:
    """Places paper orders in a background thread until told to stop or ``limit`` is reached (bounded)."""

    def __init__(self, container: Container, first: int, limit: int) -> None:
        self.container, self.next, self.limit = container, first, limit
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            while not self.stop.is_set() and self.next < self.limit:
                order(self.container, self.next)
                self.next += 1
        except BaseException as e:  # reported by join()
            self.error = e

    def join(self) -> int:
        self.stop.set()
        self.thread.join(60)
        assert not self.thread.is_alive(), "writer did not stop"
        assert self.error is None, self.error
        return self.next


@pytest.fixture
def container(fresh_db: str, nats_url: str, namespace: str) -> Any:
    c = make_container(fresh_db, nats_url, namespace, clock=FixedClock(NOW))
    # Up to 235 paper fills in one day: their modelled fees (43c each) would pass I5's 3 % daily loss after ~35
    # (fees count as losses, ADR 0442) and refuse the writer's later orders; this test needs events, not fees.
    c.execution_policies.update("bonding", "PAPER", {"paperFeeRate": 0.0}, "ops", "rebuild test: events only")
    yield c
    c.close()


def corrupt_orders(db: str) -> None:
    """What a read-model bug leaves behind: rows lost, rows wrong, a row that should not be there."""
    with psycopg.connect(db) as conn:
        conn.execute("DELETE FROM views.orders WHERE order_id IN (SELECT order_id FROM views.orders"
                     " ORDER BY order_id LIMIT 3)")
        conn.execute("UPDATE views.positions SET contracts = contracts * 2 WHERE ticker IN ('KXREB-004', 'KXREB-005')")
        conn.execute("DELETE FROM views.order_history WHERE notification_id IN (SELECT notification_id"
                     " FROM views.order_history ORDER BY notification_id DESC LIMIT 4)")
        conn.execute("INSERT INTO views.positions (strategy, ticker, side, mode, contracts, cost_cents, last_fill_at)"
                     " VALUES ('ghost', 'KX-NONE', 'YES', 'PAPER', 7, 7, %s)", (NOW,))



def corrupted_orders_view(container: Container, orders: int) -> tuple[str, Projection]:
    """``orders`` orders projected from the log (no projector running), then the view corrupted."""
    db, proj = container.database_url, container.projections["orders"]
    for i in range(orders):
        order(container, i)
    with psycopg.connect(db, autocommit=True) as conn:
        catch_up_from_log(conn, proj)
    corrupt_orders(db)
    return db, proj

def test_rebuild_when_view_corrupted_and_projector_running_then_view_is_the_replay_and_new_events_land_once(
        container: Container):
    db = container.database_url
    proj = container.projections["orders"]
    with workers(container, projections=["orders"]):
        for i in range(20):
            order(container, i)
        wait_tracked(db, "orders", max_notification_id(db))
        corrupt_orders(db)
        writer = Writer(container, 20, len(TICKERS) - 5)
        writer.thread.start()
        try:
            with rb.exclusive(db, proj):
                prepared = rb.prepare(db, proj)
                # the projector moves on while the scratch copy is built: the swap must catch up under its lock
                wait_tracked(db, "orders", prepared.position + 1)
                swapped = rb.swap(db, proj, prepared)
                rb.drop(db, prepared)
        finally:
            placed = writer.join()
        assert swapped.position > prepared.position and swapped.caught_up > 0
        for i in range(placed, placed + 5):  # after the swap: the projector's alone again
            order(container, i)
        last = placed + 5
        wait_tracked(db, "orders", max_notification_id(db))
    assert_live_equals_replay(container, "orders")
    with psycopg.connect(db) as conn:
        orders = conn.execute("SELECT count(*), sum(filled_size) FROM views.orders").fetchone()
        contracts = conn.execute("SELECT sum(contracts) FROM views.positions").fetchone()
        ghosts = conn.execute("SELECT count(*) FROM views.positions WHERE strategy = 'ghost'").fetchone()
        schemas = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'rebuild_%'").fetchone()
        dead = conn.execute("SELECT count(*) FROM projection_dead_letters").fetchone()
    assert orders == (last, SIZE * last) and contracts == (SIZE * last,)  # every order once, every fill once
    assert ghosts == (0,) and schemas == (0,) and dead == (0,)


def test_rebuild_cli_when_dry_run_then_diff_shown_and_nothing_changed_and_with_yes_then_restored(
        container: Container, nats_url: str, monkeypatch: pytest.MonkeyPatch):
    db = container.database_url
    for i in range(8):
        order(container, i)
    with psycopg.connect(db, autocommit=True) as conn:
        catch_up_from_log(conn, container.projections["orders"])
    corrupt_orders(db)
    tables = container.projections["orders"].tables
    before, tracked = dump(db, tables), tracking(db)

    dry = paulp(["rebuild", "--projection", "orders"], db, nats_url)
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing changed" in dry.stdout
    cells = [[c for c in re.split(r"[\s│┃|]+", line) if c] for line in dry.stdout.splitlines()]
    rows = {c[0]: c[1:] for c in cells if c and c[0] in tables}
    # orders: 5 live, 8 rebuilt, 3 only rebuilt; positions: 2 differ, 1 only live; order_history: 4 only rebuilt
    assert rows["orders"][-5:] == ["5", "8", "0", "0", "3"], dry.stdout
    assert rows["positions"][-5:] == ["9", "8", "2", "1", "0"], dry.stdout
    assert rows["order_history"][-3:] == ["0", "0", "4"], dry.stdout
    assert dump(db, tables) == before and tracking(db) == tracked
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'rebuild_%'").fetchone() == (0,)

    done = paulp_here(["rebuild", "--projection", "orders", "--yes"], db, nats_url, monkeypatch)  # dry: a process
    assert done.returncode == 0, done.stderr
    head = max_notification_id(db)
    assert f"swapped in at notification {head}" in done.stdout
    assert tracking(db) == tracked  # the position the rows now match is the one the projector had
    assert_live_equals_replay(container, "orders")
    again = paulp_here(["rebuild", "--projection", "orders"], db, nats_url, monkeypatch)
    assert again.returncode == 0 and "0 table(s) of orders would change" in again.stdout


def test_rebuild_when_paper_and_live_fills_were_merged_by_migration_0056_then_split_by_mode(
        system: System, nats_url: str):
    """ADR 0262: a position that mixed paper and LIVE contracts before 0056 stayed one PAPER row; the log
    knows each fill's mode, so a rebuild splits it."""
    fresh_db = system.container.database_url
    ticker, _ = system.live_fill("mixed-live", size=40)
    system.container.clock.set(NOW + timedelta(seconds=2))  # type: ignore[attr-defined]  # order spacing
    paper = system.container.pipeline(StaticMarketData({ticker: facts(ticker)}))
    assert paper.process(signal("mixed-paper", ticker, size=30)).state == "FILLED"
    system.project("orders")
    with psycopg.connect(fresh_db) as conn:  # the row 0056 leaves: both modes summed, called PAPER
        conn.execute("UPDATE views.positions p SET contracts = t.c, cost_cents = t.cost FROM (SELECT"
                     " sum(contracts) AS c, sum(cost_cents) AS cost FROM views.positions WHERE ticker = %s) t"
                     " WHERE p.ticker = %s AND p.mode = 'PAPER'", (ticker, ticker))
        conn.execute("DELETE FROM views.positions WHERE ticker = %s AND mode = 'LIVE'", (ticker,))
        merged = conn.execute("SELECT mode, contracts FROM views.positions WHERE ticker = %s",
                              (ticker,)).fetchall()
    assert merged == [("PAPER", 70)]
    done = paulp(["rebuild", "--projection", "orders", "--yes"], fresh_db, nats_url)
    assert done.returncode == 0, done.stderr
    with psycopg.connect(fresh_db) as conn:
        split = conn.execute("SELECT mode, contracts FROM views.positions WHERE ticker = %s ORDER BY mode",
                             (ticker,)).fetchall()
    assert split == [("LIVE", 40), ("PAPER", 30)]
    assert_live_equals_replay(system.container, "orders")


def test_rebuild_cli_when_refused_then_nonzero_message_and_live_view_unchanged(container: Container, nats_url: str,
                                                                               monkeypatch: pytest.MonkeyPatch):
    db = container.database_url
    for target in ("CAUTION", "HALT"):
        container.breaker.transition(target, f"to {target}", "tester")
    b = container.breaker.get()
    for code in ("A", "POISON", "B"):
        b.raise_alert(code, "warning", NOW)
    container.breaker.save(b)
    breaker = container.projections["breaker_state"]

    r = paulp_here(["rebuild", "--projection", "nope", "--yes"], db, nats_url, monkeypatch)
    assert r.returncode == 2 and "unknown projection" in r.stderr
    r = paulp_here(["rebuild", "--yes"], db, nats_url, monkeypatch)
    assert r.returncode == 2 and "--projection P or --all" in r.stderr

    # A live table that changed under the projection: the live projector dead-letters the event it cannot
    # store, and so does the rebuild; nothing is swapped in.
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("ALTER TABLE views.breaker_alerts ADD CONSTRAINT no_poison CHECK (code <> 'POISON')")
        catch_up_from_log(conn, breaker)
        assert [d[0] for d in conn.execute("SELECT topic FROM projection_dead_letters")] != []
        conn.execute("UPDATE views.breaker_state SET state = 'NORMAL'")  # corrupted, and must stay so
    before, tracked = dump(db, breaker.tables), tracking(db)
    r = paulp_here(["rebuild", "--projection", "breaker_state", "--yes"], db, nats_url, monkeypatch)
    assert r.returncode == 1 and "breaker_state" in r.stderr and "failed to apply" in r.stderr
    assert dump(db, breaker.tables) == before and tracking(db) == tracked
    r = paulp_here(["rebuild", "--all", "--yes"], db, nats_url, monkeypatch)  # the others rebuilt, breaker_state not
    assert r.returncode == 1 and "1 rebuild(s) refused" in r.stderr and "swapped in" in r.stdout
    assert dump(db, breaker.tables) == before

    with psycopg.connect(db, autocommit=True) as conn:  # migrations not applied: a table is missing
        conn.execute("ALTER TABLE views.breaker_alerts DROP CONSTRAINT no_poison")
        conn.execute("ALTER TABLE views.breaker_alerts RENAME TO breaker_alerts_gone")
    r = paulp_here(["rebuild", "--projection", "breaker_state", "--yes"], db, nats_url, monkeypatch)
    assert r.returncode == 1 and "views.breaker_alerts" in r.stderr and "does not exist" in r.stderr
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("ALTER TABLE views.breaker_alerts_gone RENAME TO breaker_alerts")
    assert dump(db, breaker.tables) == before

    with rb.exclusive(db, breaker):  # a second rebuild of the same projection waits for nobody: refused
        r = paulp_here(["rebuild", "--projection", "breaker_state", "--yes"], db, nats_url, monkeypatch)
    assert r.returncode == 1 and "another rebuild" in r.stderr
    assert dump(db, breaker.tables) == before

    # fixed: swapped in
    r = paulp_here(["rebuild", "--projection", "breaker_state", "--yes"], db, nats_url, monkeypatch)
    assert r.returncode == 0, r.stderr
    assert_live_equals_replay(container, "breaker_state")
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT state FROM views.breaker_state").fetchone() == ("HALT",)
        assert conn.execute("SELECT count(*) FROM projection_dead_letters").fetchone() == (0,)


def test_swap_when_read_meanwhile_then_readers_see_old_or_new_rows_never_an_empty_or_partial_view(
        container: Container):
    db, proj = corrupted_orders_view(container, 6)  # 3 of 6 orders and 4 history rows missing live
    seen: set[tuple[int, int]] = set()
    stop = threading.Event()

    def read() -> None:
        with psycopg.connect(db, autocommit=True) as conn:
            while not stop.is_set():
                seen.add(conn.execute("SELECT (SELECT count(*) FROM views.orders),"
                                      " (SELECT count(*) FROM views.order_history)").fetchone())  # type: ignore[arg-type]

    old = psycopg.connect(db)  # a snapshot taken before the swap, reading the view only after it
    old.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    before = old.execute("SELECT count(*) FROM views.orders").fetchone()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        with rb.exclusive(db, proj):
            prepared = rb.prepare(db, proj)
            rb.swap(db, proj, prepared)
            rb.drop(db, prepared)
        with psycopg.connect(db, autocommit=True) as conn:  # one more read after the commit
            after = conn.execute("SELECT (SELECT count(*) FROM views.orders),"
                                 " (SELECT count(*) FROM views.order_history)").fetchone()
    finally:
        stop.set()
        reader.join(10)
    assert before == (3,) and old.execute("SELECT count(*) FROM views.orders").fetchone() == (3,)
    old.close()
    history = after[1] if after else 0
    assert after == (6, history) and seen <= {(3, history - 4), (6, history)}, seen


def test_swap_when_projector_lock_not_granted_in_time_then_refused_and_live_view_unchanged(container: Container):
    db, proj = corrupted_orders_view(container, 3)
    before = dump(db, proj.tables)
    prepared = rb.prepare(db, proj)
    try:
        with psycopg.connect(db) as batch:  # a projector batch that holds its tracking row
            batch.execute("SELECT 1 FROM projection_tracking WHERE name = 'orders' FOR UPDATE")
            with pytest.raises(rb.RebuildError, match="lock not granted"):
                rb.swap(db, proj, prepared, lock_timeout_ms=200)
    finally:
        rb.drop(db, prepared)
    assert dump(db, proj.tables) == before
