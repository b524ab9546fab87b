"""Portfolio snapshots (trading §9) and ``GET /admin/status`` ``latestSnapshot`` (api-and-security §1.3) on real
PostgreSQL + NATS: each exits slot values the book for the breaker, its report is projected into
``views.portfolio_snapshots``, and the status shows the newest row; a rebuild from the log gives the same rows
(ADR 0356)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from fastapi.testclient import TestClient

from paulp.adapters import rebuild as rb
from paulp.adapters.market_data import StaticMarketData
from paulp.adapters.projector import catch_up_from_log
from paulp.api.app import create_app
from paulp.api.queries import latest_portfolio_snapshot
from paulp.api.wiring import Container
from paulp.domain.clock import FixedClock
from paulp.domain.orchestration import JobRun
from paulp.domain.schedule import Slot
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
from tests.unit.test_stored_event_fixtures import FIXTURE

pytestmark = pytest.mark.integration
AUTH = {"Authorization": "Bearer test-admin-token-0123456789abcdef"}
VIEW = "portfolio_snapshots"
ROWS = ("SELECT mode, total_value, daily_pnl, weekly_pnl, max_drawdown, position_count, valued_at"
        " FROM views.portfolio_snapshots ORDER BY notification_id")


@pytest.fixture
def system(fresh_db: str, nats_url: str, namespace: str) -> Iterator[tuple[Container, TestClient, FixedClock]]:
    clock = FixedClock(NOW)
    container = make_container(fresh_db, nats_url, namespace, clock=clock)
    try:
        with workers(container):
            yield container, TestClient(create_app(container), raise_server_exceptions=False), clock
    finally:
        container.close()


def settle(container: Container, *projections: str) -> None:
    head = max_notification_id(container.database_url)
    for name in projections:
        wait_tracked(container.database_url, name, head)


def rows(container: Container) -> list[tuple[Any, ...]]:
    with psycopg.connect(container.database_url) as conn:
        return conn.execute(ROWS).fetchall()


def hold(container: Container, clock: FixedClock, ticker: str) -> None:
    """A paper bonding fill of 50 YES at 43 ($21.50), in a category of its own (I4 stays out of the way)."""
    market = StaticMarketData({ticker: replace(facts(ticker), category=ticker, last_price_update=clock.now())})
    assert container.pipeline(market).process(signal(f"snap-{ticker}", ticker)).state == "FILLED"
    clock.set(clock.now() + timedelta(seconds=2))  # one strategy's paper orders at least 1 s apart


def exits_slot(container: Container, clock: FixedClock, minute: datetime) -> dict[str, Any]:
    """The scheduler's path: claim the exits slot, run it in the background, wait; the run's stored report."""
    clock.set(minute)
    slot = Slot("exits", minute)
    assert container.jobs.run_slot(slot) == slot.run_id
    assert container.jobs.wait(30)
    run = container.orchestrator.job_run(slot.run_id)
    assert run.result is not None, run.error
    report: dict[str, Any] = run.result["portfolio"]
    return report


def test_status_when_no_valuation_yet_then_latest_snapshot_null(system) -> None:
    container, client, _ = system
    body = client.get("/admin/status", headers=AUTH).json()
    assert body["latestSnapshot"] is None
    assert latest_portfolio_snapshot(container) is None


def test_exits_slots_when_book_valued_then_view_rows_status_latest_and_rebuild_agree(system) -> None:
    # Arrange: two paper positions of $21.50
    container, client, clock = system
    hold(container, clock, "KXSNAP-A")
    hold(container, clock, "KXSNAP-B")
    settle(container, "orders", "market_marks")
    first_at, second_at = NOW + timedelta(minutes=5), NOW + timedelta(minutes=10)
    # Act: an exits slot values the book; one market resolves NO; the next slot values it again
    first = exits_slot(container, clock, first_at)
    assert container.markets.resolve("KXSNAP-A", "NO", first_at + timedelta(minutes=1), None)
    settle(container, "orders", "market_marks")
    second = exits_slot(container, clock, second_at)
    settle(container, VIEW)
    # Assert: the reports carry the new fields; one row per valuation, as the reports give them
    assert (first["positionCount"], second["positionCount"]) == (2, 1)
    assert (first["valuedAt"], second["valuedAt"]) == ("2026-03-02T15:05:00.000Z", "2026-03-02T15:10:00.000Z")
    # each paper fill paid the policy's modelled fee (paperFeeRate 0.07: 50 at 43c -> 86c), a loss at its fill
    # time, so the loss figures are net of $1.72 (ADR 0442) before and after the $21.50 resolution loss
    assert rows(container) == [
        ("PAPER", 800.0, -1.72, -1.72, pytest.approx(1.72 / 800), 2, first_at),
        ("PAPER", 800.0, -23.22, -23.22, pytest.approx(23.22 / 800), 1, second_at),
    ]
    assert (second["totalValue"], second["dailyPnl"], second["weeklyPnl"]) == (800.0, -23.22, -23.22)
    # Assert: the status shows the newest row, in the spec's snake_case fields plus the book's mode
    r = client.get("/admin/status", headers=AUTH)
    assert r.status_code == 200
    assert r.json()["latestSnapshot"] == {
        "total_value": 800.0, "daily_pnl": -23.22, "weekly_pnl": -23.22, "max_drawdown": second["maxDrawdown"],
        "position_count": 1, "timestamp": "2026-03-02T15:10:00.000Z", "mode": "PAPER"}
    # Assert: replay into a scratch schema and a rebuild of the live view give the same rows
    assert_live_equals_replay(container, VIEW)
    before = rows(container)
    projection = container.projections[VIEW]
    prepared = rb.prepare(container.database_url, projection)
    _, diffs = rb.preview(container.database_url, projection, prepared)
    assert [(d.table, d.changed) for d in diffs] == [("portfolio_snapshot_runs", False), ("portfolio_snapshots", False)]
    swapped = rb.swap(container.database_url, projection, prepared)
    rb.drop(container.database_url, prepared)
    assert swapped.rows == {"portfolio_snapshot_runs": 0, "portfolio_snapshots": 2}
    assert rows(container) == before


def _stored_fixture_run(container: Container) -> list[dict[str, Any]]:
    """The stored v1 exits run (a report from before positionCount/valuedAt), inserted byte for byte."""
    fixture = [r for r in json.loads(FIXTURE.read_text()) if r["topic"].startswith(get_topic(JobRun))]
    container.orders.recorder.insert_events([
        StoredEvent(UUID(r["originator_id"]), r["originator_version"], r["topic"], r["state"].encode())
        for r in fixture])
    return fixture


def test_projection_when_old_failed_foreign_and_malformed_runs_then_only_valuations_are_rows(clocked) -> None:
    # Arrange: an exits run stored by the code before ADR 0356; a failed valuation; an exits run that failed;
    # a scan run; a valuation missing its weekly PnL
    container, _ = clocked
    fixture = _stored_fixture_run(container)
    orchestrator = container.orchestrator
    orchestrator.start_job("snap-error", "exits", "scheduler", "scheduler")
    orchestrator.complete_job("snap-error", {"positions": 0, "portfolio": {"error": "OperationalError"}})
    orchestrator.start_job("snap-failed", "exits", "scheduler", "scheduler")
    orchestrator.fail_job("snap-failed", "Job failed (internal error)")
    orchestrator.start_job("snap-scan", "scan", "ops-dana", "admin")
    orchestrator.complete_job("snap-scan", {"portfolio": {"mode": "PAPER", "totalValue": 1.0, "dailyPnl": 0.0,
                                                          "weeklyPnl": 0.0, "maxDrawdown": 0.0}})
    orchestrator.start_job("snap-bad", "exits", "scheduler", "scheduler")
    bad = orchestrator.complete_job("snap-bad", {"portfolio": {"mode": "PAPER", "totalValue": 800.0, "dailyPnl": 0.0,
                                                               "maxDrawdown": 0.0}})
    # Act
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        catch_up_from_log(conn, container.projections[VIEW])
        dead = conn.execute("SELECT notification_id, error FROM projection_dead_letters WHERE projection = %s",
                            (VIEW,)).fetchall()
        pending = conn.execute("SELECT count(*) FROM views.portfolio_snapshot_runs").fetchone()
    # Assert: the old run is a row without a position count, timed at its completion; no other run is a row;
    # the malformed valuation is set aside, not shown
    completed_at = datetime.fromisoformat(json.loads(fixture[1]["state"])["at"]["_data_"])
    assert rows(container) == [("PAPER", 800.0, -12.5, -30.25, 0.0378, None, completed_at)]
    assert latest_portfolio_snapshot(container) == {
        "total_value": 800.0, "daily_pnl": -12.5, "weekly_pnl": -30.25, "max_drawdown": 0.0378,
        "position_count": None, "timestamp": "2026-03-02T15:05:03.000Z", "mode": "PAPER"}
    assert [nid for nid, _ in dead] == [bad] and "weeklyPnl" in dead[0][1]
    assert pending == (1,)  # only the malformed run, whose Completed was set aside
