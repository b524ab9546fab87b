"""The §7.1 cron scheduler on real PostgreSQL with the loopback Kalshi exchange: one leader among replicas,
each slot run once (restart, late tick, second leader), runs of one job never overlap, the daily report."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest

from paulp.api.scheduler import CronScheduler
from paulp.domain.clock import FixedClock
from tests.integration.helpers import NOW, make_container
from tests.integration.kalshi_system import AUTH, KEY_ID, TRIGGER, System, pem

pytestmark = pytest.mark.integration
SLOT = "2026-03-02T15:00Z"  # NOW is 15:00, a Monday: ingest, reconcile, scan, anchor, exits, order-timers are due


@pytest.fixture
def replica(system: System, key) -> Iterator[System]:
    """A second process on the same database and namespace: its own container, clock and pool."""
    c = system.container
    other = make_container(c.database_url, c.nats_url, c.settings.PAULP_NAMESPACE, clock=FixedClock(NOW),
                           KALSHI_BASE_URL=system.exchange.base_url, PAULP_EVIDENCE_DIR=c.settings.evidence_dir(),
                           WEBHOOK_TRIGGER_TOKEN=TRIGGER, KALSHI_API_KEY=KEY_ID, KALSHI_PRIVATE_KEY=pem(key))
    try:
        yield System(other, system.exchange, key)
    finally:
        other.close()


def _runs(system: System, head: int = 0) -> dict[str, list[object]]:
    """Every JobRun event after ``head``, by run id."""
    out: dict[str, list[object]] = {}
    for e in system.events("JobRun", head):
        run = system.container.orchestrator.repository.get(e.originator_id)
        out.setdefault(run.run_id, []).append(e)
    return out


def _set(system: System, at) -> None:
    system.container.clock.set(at)  # type: ignore[attr-defined]


def test_tick_when_two_replicas_then_one_leads_and_each_slot_runs_once_to_completion(system: System,
                                                                                     replica: System):
    a, b = CronScheduler(system.container), CronScheduler(replica.container)
    try:
        head = system.head()
        started = a.tick()
        assert {s.job for s in started} == {"ingest", "reconcile", "scan", "anchor", "exits", "order-timers"}
        assert b.tick() == []  # not the leader: nothing claimed, nothing run
        assert system.container.jobs.wait(60)
        runs = _runs(system, head)
        assert set(runs) == {f"scheduled:{job}:{SLOT}" for job in ("ingest", "reconcile", "scan", "anchor",
                                                                   "exits", "order-timers")}
        for run_id, (created, finished) in runs.items():
            assert (created.source, created.triggered_by) == ("scheduler", "scheduler"), run_id
            assert type(finished).__qualname__ == "JobRun.Completed", (run_id, finished)
        scan = runs[f"scheduled:scan:{SLOT}"][1].result
        created_orders = system.events("Order.Created", head)
        assert scan["ordersCreated"] == len(created_orders)
        assert runs[f"scheduled:anchor:{SLOT}"][1].result["valid"] is True

        # The job_runs view and its endpoint show the slots, filtered.
        system.project("job_runs")
        r = system.client.get("/admin/orchestrator/runs?job=scan&source=scheduler", headers=AUTH)
        assert r.status_code == 200, r.text
        [listed] = r.json()["runs"]
        assert (listed["runId"], listed["state"], listed["triggeredBy"]) == (
            f"scheduled:scan:{SLOT}", "COMPLETED", "scheduler")
        assert listed["result"] == scan and listed["finishedAt"] is not None and listed["error"] is None
        everything = system.client.get("/admin/orchestrator/runs", headers=AUTH).json()
        assert everything["count"] == 6 and everything["filters"] == {
            "job": None, "state": None, "source": None, "limit": 50}

        # The leader goes away; the replica takes over in the same minute: every slot is already claimed.
        a.close()
        after_a = system.head()
        assert b.tick() == []
        assert b.is_leader() and system.head() == after_a

        # Two minutes later the replica runs the execute slot over the pending orders.
        ticker = system.tradable_ticker()
        pending = [system.pending_order("sched-1", ticker, system.exchange.markets[ticker]["yes_ask"])]
        system.project("orders")
        _set(replica, NOW + timedelta(minutes=2))
        assert sorted(s.job for s in b.tick()) == ["execute", "order-timers"]  # the timers' latest minute only
        assert replica.container.jobs.wait(60)
        later = _runs(system, after_a)
        assert set(later) == {"scheduled:execute:2026-03-02T15:02Z", "scheduled:order-timers:2026-03-02T15:02Z"}
        assert all(type(finished).__qualname__ == "JobRun.Completed" for _, finished in later.values())
        _, done = later["scheduled:execute:2026-03-02T15:02Z"]
        assert done.result["processed"] == min(10, len(created_orders) + len(pending))
        assert pending[0] in done.result["executed"] + done.result["rejected"]
        order = replica.container.orders.find(pending[0])
        assert order is not None and order.state.value != "PENDING"
    finally:
        a.close()
        b.close()


def test_tick_when_restarted_in_the_same_minute_then_no_slot_runs_twice(system: System):
    first = CronScheduler(system.container, trading=False)
    assert {s.job for s in first.tick()} == {"anchor"}
    assert system.container.jobs.wait(30)
    first.close()
    head = system.head()
    again = CronScheduler(system.container, trading=False)  # a new process: no memory of the minute
    try:
        assert again.tick() == [] and system.head() == head
    finally:
        again.close()


def test_daily_report_when_its_slot_comes_then_the_days_orders_are_counted(system: System):
    today = [system.pending_order(f"rep-{i}", "KXREP-A", 40, minutes=i) for i in range(3)]
    system.project("orders")
    with psycopg.connect(system.container.database_url, autocommit=True) as conn:
        conn.execute("UPDATE views.orders SET state = 'FILLED' WHERE order_id = %s", (today[0],))
    _set(system, NOW.replace(hour=23))
    cron = CronScheduler(system.container, trading=False)
    try:
        head = system.head()
        assert {s.job for s in cron.tick()} == {"anchor", "daily-report"}
        assert system.container.jobs.wait(30)
        _, done = _runs(system, head)["scheduled:daily-report:2026-03-02T23:00Z"]
        assert type(done).__qualname__ == "JobRun.Completed"
        assert (done.result["date"], done.result["ordersCreated"], done.result["ordersFilled"]) == (
            "2026-03-02", 3, 1)
        assert done.result["avgCLV"] == 0.0 and done.result["clvOrders"] == 0
        assert done.result["bookChangesPruned"] == 0  # the first prune only takes its horizon (ADR 0526)
        with psycopg.connect(system.container.database_url) as conn:
            assert conn.execute("SELECT next IS NOT NULL FROM public.book_changes_pruned").fetchone() == (True,)
    finally:
        cron.close()


def test_slot_when_a_run_of_the_same_job_holds_the_lock_then_failed_busy_and_manual_trigger_refused(
        system: System):
    lock = system.container.names.lock_key("job/execute")
    _set(system, NOW + timedelta(minutes=2))
    cron = CronScheduler(system.container, entries=[("execute", "2 * * * *")])
    try:
        with psycopg.connect(system.container.database_url, autocommit=True) as holder:
            assert holder.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (lock,)).fetchone() == (True,)
            head = system.head()
            assert [s.job for s in cron.tick()] == ["execute"]
            assert system.container.jobs.wait(30)
            [(_, failed)] = _runs(system, head).values()
            assert type(failed).__qualname__ == "JobRun.Failed" and "still in progress" in failed.error
            system.project("job_runs")
            [row] = system.client.get("/admin/orchestrator/runs?state=failed", headers=AUTH).json()["runs"]
            assert (row["runId"], row["error"]) == ("scheduled:execute:2026-03-02T15:02Z", failed.error)

            system.container.jobs.trigger_lock_wait_s = 0.2
            r = system.client.post("/admin/orchestrator/trigger/execute", headers=AUTH)
            assert (r.status_code, r.json()["code"], r.json()["reason"]) == (502, "job_failed", "job_busy")
        r = system.client.post("/admin/orchestrator/trigger/execute", headers=AUTH)  # the lock went with it
        assert r.status_code == 200, r.text
    finally:
        cron.close()


def test_leader_when_its_connection_is_killed_then_the_other_replica_leads(system: System, replica: System):
    a, b = CronScheduler(system.container, trading=False), CronScheduler(replica.container, trading=False)
    try:
        assert a.is_leader() and not b.is_leader()
        assert a._conn is not None
        pid = a._conn.info.backend_pid
        with psycopg.connect(system.container.database_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert b.is_leader()
        assert not a.is_leader()  # it notices the lost connection and cannot take the lock back
    finally:
        a.close()
        b.close()


def test_schedule_when_an_entry_does_not_parse_then_logged_and_ignored(caplog):
    with caplog.at_level(logging.WARNING, logger="paulp.scheduler"):
        cron = CronScheduler(None, entries=[("scan", "*/10 * * * *"), ("report", "at eleven")])
    assert [j.job for j in cron.jobs] == ["scan"]
    assert any("report" in r.getMessage() and "ignored" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("query", "code"), [
    ("job=sweep", "invalid_job"), ("state=stuck", "invalid_state"), ("source=cron", "invalid_source"),
    ("limit=0", "invalid_limit"), ("limit=5%0A", "invalid_limit"), ("job=scan&limit=-1", "invalid_limit"),
])
def test_runs_when_filter_invalid_then_400_with_code_and_nothing_written(system: System, query: str, code: str):
    head = system.head()
    r = system.client.get(f"/admin/orchestrator/runs?{query}", headers=AUTH)
    assert (r.status_code, r.json()["code"]) == (400, code)
    assert system.head() == head
    assert system.client.get("/admin/orchestrator/runs").status_code == 401


def test_jobs_runs_cli_when_runs_projected_then_listed(system: System, monkeypatch):
    from typer.testing import CliRunner

    from paulp.api.cli import app, console

    monkeypatch.setattr(console, "width", 250)  # rows are not cut at a narrow terminal
    system.client.post("/admin/orchestrator/trigger/execute", headers=AUTH)
    system.project("job_runs")
    c = system.container
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("PAULP_DATABASE_URL", c.database_url)
    monkeypatch.setenv("PAULP_NATS_URL", c.nats_url)
    out = CliRunner().invoke(app, ["jobs", "runs", "--job", "execute"])
    assert out.exit_code == 0, out.output
    assert "execute" in out.output and "COMPLETED" in out.output and "api-token-user" in out.output


def test_reap_when_run_left_running_by_a_dead_process_then_failed_unless_its_job_lock_is_held(system: System):
    orchestrator = system.container.orchestrator
    _set(system, NOW - timedelta(minutes=30))
    orchestrator.start_job("dead-scan", "scan", "ops", "admin")  # its process died: no lock, no end
    orchestrator.start_job("live-execute", "execute", "ops", "admin")  # still going: its process holds the lock
    _set(system, NOW)
    orchestrator.start_job("fresh-ingest", "ingest", "ops", "admin")  # too young to judge
    system.project("job_runs")
    cron = CronScheduler(system.container, entries=[])
    lock = system.container.names.lock_key("job/execute")
    try:
        with psycopg.connect(system.container.database_url, autocommit=True) as holder:
            assert holder.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (lock,)).fetchone() == (True,)
            assert cron.reap_abandoned(NOW) == ["dead-scan"]
        assert orchestrator.job_run("dead-scan").state.value == "FAILED"
        assert "Abandoned" in (orchestrator.job_run("dead-scan").error or "")
        assert orchestrator.job_run("live-execute").state.value == "RUNNING"
        assert orchestrator.job_run("fresh-ingest").state.value == "RUNNING"
        assert cron.reap_abandoned(NOW) == ["live-execute"]  # its holder is gone now
        assert cron.reap_abandoned(NOW) == []  # the view lags: already failed in the log, nothing twice
    finally:
        cron.close()


def test_doctor_when_a_scheduler_leads_then_it_says_so_with_each_jobs_last_run(system: System, monkeypatch):
    from typer.testing import CliRunner

    from paulp.api.cli import app, console

    c = system.container
    monkeypatch.setattr(console, "width", 250)
    for name, value in (("ENVIRONMENT", "test"), ("PAULP_DATABASE_URL", c.database_url), ("PAULP_NATS_URL", c.nats_url),
                        ("PAULP_NAMESPACE", c.settings.PAULP_NAMESPACE)):
        monkeypatch.setenv(name, value)
    idle = CliRunner().invoke(app, ["doctor"])
    assert idle.exit_code == 0, idle.output
    assert "NO process leads the cron slots" in idle.output
    cron = CronScheduler(c, trading=False)
    try:
        assert {s.job for s in cron.tick()} == {"anchor"}
        assert c.jobs.wait(30)
        system.project("job_runs")
        led = CliRunner().invoke(app, ["doctor"])
        assert led.exit_code == 0, led.output
        assert "a process leads the cron slots" in led.output
        rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in led.output.splitlines() if "│" in line]
        assert any(row[:2] == ["anchor", "COMPLETED"] for row in rows), led.output
    finally:
        cron.close()
