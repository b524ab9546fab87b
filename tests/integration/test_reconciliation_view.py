"""The reconciliation read model (trading §7, §9; ADR 0393) on real PostgreSQL + NATS with the loopback Kalshi
exchange answering positions in fixed point only: a schedule slot and a manual ``POST /admin/reconcile`` are both
``JobRun``s whose reports land in ``views.reconciliation_runs`` / ``reconciliation_drifts`` with exact sizes and
the spec's severities; the view rebuilds from the log; reports stored by older code project too; the operator
reads it all with ``paulp reconcile``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from eventsourcing.persistence import StoredEvent
from typer.testing import CliRunner

from paulp.adapters import rebuild as rb
from paulp.adapters.projector import catch_up_from_log
from paulp.api.cli import app
from paulp.api.position_rebuild import rebuild_positions
from paulp.domain.schedule import Slot
from tests.fakes.kalshi_exchange import FakeKalshiExchange
from tests.integration.helpers import NOW, assert_live_equals_replay
from tests.integration.kalshi_system import AUTH, KEY_ID, System
from tests.support.seeding import seed_executor_modes
from tests.unit.test_stored_event_fixtures import old_version_rows

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
VIEW = "reconciliation"
RUNS = ("SELECT run_id, source, triggered_by, slot, status, internal_count, venue_count, matched_count, drift_count,"
        " max_drift_pct, total_absolute_drift FROM views.reconciliation_runs ORDER BY at, run_id")
DRIFTS = ("SELECT run_id, market_id, side, internal_size, venue_size, drift, drift_pct, severity"
          " FROM views.reconciliation_drifts ORDER BY at, run_id, market_id, side")


@pytest.fixture
def exchange(key: rsa.RSAPrivateKey) -> Iterator[FakeKalshiExchange]:
    """Kalshi since the fixed-point migration: counts as ``*_fp`` strings only."""
    with FakeKalshiExchange(key.public_key(), KEY_ID, shape="dollars") as fake:
        yield fake


def _rows(system: System, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(system.container.database_url) as conn:
        return conn.execute(query, params).fetchall()


def _cli(system: System, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    for name, value in (("PAULP_DATABASE_URL", system.container.database_url),
                        ("PAULP_NATS_URL", system.container.nats_url),
                        ("PAULP_NAMESPACE", system.container.settings.PAULP_NAMESPACE), ("ENVIRONMENT", "test"),
                        ("COLUMNS", "220")):
        monkeypatch.setenv(name, value)
    return CliRunner().invoke(app, ["reconcile", *args])


def _scheduled_and_manual_runs(system: System) -> tuple[str, str, str, str]:
    """40 YES bought LIVE; the 10:05 slot sees 40.50 at Kalshi, a manual run later 41 and half a NO orphan."""
    ticker, _ = system.live_fill("view-rec", size=40)
    other = next(t for t in sorted(system.exchange.markets) if t != ticker)
    system.project("orders", "venue_orders")
    system.exchange.set_position(ticker, Decimal("40.50"))
    slot = Slot("reconcile", NOW + timedelta(minutes=5))
    system.container.clock.set(slot.minute)
    assert system.container.jobs.run_slot(slot) == slot.run_id
    assert system.container.jobs.wait(60)
    system.exchange.set_position(ticker, Decimal("41"))
    system.exchange.set_position(other, Decimal("-0.50"))
    system.container.clock.set(NOW + timedelta(minutes=7))
    r = system.client.post("/admin/reconcile", headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "critical_drift" and r.json()["triggeredBy"] == "api-token-user"
    system.project(VIEW, "job_runs")
    return ticker, other, slot.run_id, r.json()["runId"]


def test_reconcile_when_a_slot_and_an_operator_run_then_both_in_the_view_with_exact_sizes_and_severities(
        system: System):
    # Arrange + Act
    ticker, other, scheduled, manual = _scheduled_and_manual_runs(system)
    # Assert: one row per run, with its trigger, figures as exact decimals
    assert _rows(system, RUNS) == [
        (scheduled, "scheduler", "scheduler", NOW + timedelta(minutes=5), "drift_detected", 1, 1, 0, 1,
         Decimal("1.25"), Decimal("0.5")),
        (manual, "admin", "api-token-user", None, "critical_drift", 1, 2, 0, 2, Decimal("100"), Decimal("1.5")),
    ]
    drifts = _rows(system, DRIFTS)
    assert drifts == [
        (scheduled, ticker, "YES", Decimal("40"), Decimal("40.5"), Decimal("0.5"), Decimal("1.25"), "minor"),
        *sorted([(manual, other, "NO", Decimal("0"), Decimal("0.5"), Decimal("0.5"), Decimal("100"), "critical"),
                 (manual, ticker, "YES", Decimal("40"), Decimal("41"), Decimal("1"), Decimal("2.5"), "major")]),
    ]
    assert all(isinstance(v, Decimal) for row in drifts for v in row[3:7])
    # the per-market question: this market's drifts, newest first
    newest_first = _rows(system, "SELECT run_id, severity FROM views.reconciliation_drifts WHERE market_id = %s"
                                 " ORDER BY at DESC, run_id DESC", ticker)
    assert newest_first == [(manual, "major"), (scheduled, "minor")]
    # both runs are JobRuns with the report's id, completed
    assert _rows(system, "SELECT run_id, source, state FROM views.job_runs WHERE job = 'reconcile'"
                         " ORDER BY started_at") == [(scheduled, "scheduler", "COMPLETED"),
                                                      (manual, "admin", "COMPLETED")]
    assert system.container.breaker.get().state.value == "HALT"  # the manual run's critical drift


def test_reconciliation_view_when_rebuilt_then_equal_to_replay_and_unchanged(system: System):
    _scheduled_and_manual_runs(system)
    rebuild_positions(system.container, "ops-ann", "DR drill", follow_up=False)  # in HALT: adopts 2 keys (ADR 0415)
    system.project(VIEW)
    before = (_rows(system, RUNS), _rows(system, DRIFTS))
    assert_live_equals_replay(system.container, VIEW)
    projection = system.container.projections[VIEW]
    prepared = rb.prepare(system.container.database_url, projection)
    _, diffs = rb.preview(system.container.database_url, projection, prepared)
    assert [(d.table, d.changed) for d in diffs] == [("reconciliation_runs", False), ("reconciliation_drifts", False),
                                                     ("position_rebuilds", False), ("position_adjustments", False)]
    swapped = rb.swap(system.container.database_url, projection, prepared)
    rb.drop(system.container.database_url, prepared)
    assert swapped.rows == {"reconciliation_runs": 2, "reconciliation_drifts": 3, "position_rebuilds": 1,
                            "position_adjustments": 2}
    assert (_rows(system, RUNS), _rows(system, DRIFTS)) == before


def test_reconcile_when_the_venue_cannot_be_read_then_a_failed_job_run_and_no_view_row(uncredentialed: System):
    seed_executor_modes(uncredentialed.container, {"kalshi": {"bonding": "LIVE"}})  # a venue to ask
    head = uncredentialed.head()
    r = uncredentialed.client.post("/admin/reconcile", headers=AUTH)
    assert (r.status_code, r.json()["code"]) == (503, "venue_not_configured")
    started, failed = uncredentialed.events("JobRun", head)
    assert (started.job, started.source, type(failed).__qualname__) == ("reconcile", "admin", "JobRun.Failed")
    assert uncredentialed.events("ReconciliationReport", head) == []
    uncredentialed.project(VIEW)
    assert _rows(uncredentialed, RUNS) == []


def test_reconciliation_view_when_reports_stored_by_older_code_then_they_project_as_recorded(system: System):
    # Arrange: v1 reports (one from before ADR 0362, floats and ADR 0331's grades), inserted byte for byte
    rows = [r for r in old_version_rows() if r["topic"].endswith("ReconciliationReport.Completed")]
    assert len(rows) == 2
    system.container.orders.recorder.insert_events([
        StoredEvent(UUID(r["originator_id"]), r["originator_version"], r["topic"], r["state"].encode())
        for r in rows])
    # Act
    with psycopg.connect(system.container.database_url, autocommit=True) as conn:
        catch_up_from_log(conn, system.container.projections[VIEW])
    # Assert: no dead letter, the grades as recorded, sizes exact, no trigger source
    assert _rows(system, "SELECT count(*) FROM projection_dead_letters")[0][0] == 0
    assert _rows(system, RUNS) == [
        ("v1-floats-run", None, "api-token-user", None, "critical_drift", 3, 3, 1, 2, Decimal("3"), Decimal("3.5")),
        ("v1-exact-run", None, "scheduler", None, "critical_drift", 3, 4, 1, 3, Decimal("100"), Decimal("3.15")),
    ]
    assert [r[1:] for r in _rows(system, DRIFTS)] == [
        ("KXV1-REC-A", "YES", Decimal("40"), Decimal("40.5"), Decimal("0.5"), Decimal("1.25"), "critical"),
        ("KXV1-REC-B", "NO", Decimal("100"), Decimal("103"), Decimal("3"), Decimal("3"), "major"),
        ("KXV1-REC-D", "YES", Decimal("40"), Decimal("40.5"), Decimal("0.5"), Decimal("1.25"), "minor"),
        ("KXV1-REC-E", "YES", Decimal("43"), Decimal("45.15"), Decimal("2.15"), Decimal("5"), "critical"),
        ("KXV1-REC-F", "NO", Decimal("0"), Decimal("0.5"), Decimal("0.5"), Decimal("100"), "critical"),
    ]
    assert_live_equals_replay(system.container, VIEW)


def test_paulp_reconcile_when_runs_recorded_then_lists_them_and_shows_drift_rows(system: System,
                                                                                 monkeypatch: pytest.MonkeyPatch):
    ticker, _, scheduled, manual = _scheduled_and_manual_runs(system)
    listed = _cli(system, monkeypatch, "runs", "--limit", "1", "--json")
    assert listed.exit_code == 0, listed.output
    [newest] = json.loads(listed.output)
    assert (newest["runId"], newest["source"], newest["maxDriftPct"]) == (manual, "admin", "100")
    table = _cli(system, monkeypatch, "runs")
    assert table.exit_code == 0 and scheduled in table.output and "schedule slot" in table.output
    shown = _cli(system, monkeypatch, "show", scheduled, "--json")
    assert shown.exit_code == 0, shown.output
    found = json.loads(shown.output)
    assert (found["status"], found["slot"]) == ("drift_detected", (NOW + timedelta(minutes=5)).isoformat())
    assert found["drifts"] == [{"marketId": ticker, "side": "YES", "internalSize": "40", "venueSize": "40.5",
                                "drift": "0.5", "driftPct": "1.25", "severity": "minor"}]
    missing = _cli(system, monkeypatch, "show", "no-such-run")
    assert missing.exit_code == 1 and "no reconciliation run" in missing.output
    assert _cli(system, monkeypatch, "runs", "--limit", "0").exit_code == 2
