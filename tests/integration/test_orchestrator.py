"""Orchestrator control over HTTP (api-and-security §1.3, §1.6): triggers, the order list and POST /reconcile,
on real PostgreSQL + NATS with the loopback Kalshi exchange (real wire protocol, RSA-PSS checked) as venue."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from paulp.adapters.market_data import StaticMarketData
from paulp.domain.orders import Order
from tests.fakes.kalshi_exchange import Fault
from tests.integration.helpers import NOW, facts, signal
from tests.integration.kalshi_system import AUTH, TRIGGER, System
from tests.support.seeding import seed_executor_modes

pytestmark = pytest.mark.integration
RESULT_FIELDS = {"timestamp", "internalPositionCount", "venuePositionCount", "matchedCount", "drifts",
                 "totalAbsoluteDrift", "maxDriftPct", "status"}


# ----------------------------------------------------------------------------------------- POST /reconcile


def test_reconcile_when_venue_matches_live_fills_then_ok_recorded_with_actor(system: System):
    ticker, _ = system.live_fill("rec-ok")
    paper = system.container.pipeline(StaticMarketData({"KXPAPER-A": facts("KXPAPER-A")}))
    # own throttle; 30 contracts at 42c = $12.60, within 5 % of weather's $300
    out = paper.process(replace(signal("rec-paper", "KXPAPER-A", size=30), strategy="weather"))
    assert out.state == "FILLED", out  # PAPER: never at the venue
    system.project()
    head = system.head()
    r = system.client.post("/admin/reconcile", headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == RESULT_FIELDS | {"triggeredBy", "timestamp", "runId"}
    assert body["triggeredBy"] == "api-token-user"
    assert (body["status"], body["matchedCount"], body["internalPositionCount"], body["venuePositionCount"]) == (
        "ok", 1, 1, 1)
    assert body["drifts"] == [{"marketId": ticker, "side": "YES", "internalSize": 50.0, "venueSize": 50.0,
                               "drift": 0.0, "driftPct": 0.0, "severity": "none"}]
    [report] = system.events("ReconciliationReport", head)
    assert (report.triggered_by, report.venue, report.result["status"]) == ("api-token-user", "kalshi", "ok")
    started, done = system.events("JobRun", head)  # a JobRun like a trigger or a slot, sharing the report's id
    assert (started.run_id, started.job, started.source) == (body["runId"], "reconcile", "admin")
    assert (report.run_id, report.source, done.result) == (body["runId"], "admin", report.result)
    assert report.evidence_hashes and all(len(h) == 64 for h in report.evidence_hashes)
    assert system.events("CircuitBreaker", head) == [] and system.container.breaker.get().state.value == "NORMAL"
    assert any(r.path.endswith("/portfolio/positions") and r.verified for r in system.exchange.requests)


def test_reconcile_when_venue_holds_an_orphan_then_critical_drift_alert_and_halt(system: System):
    ticker, _ = system.live_fill("rec-orphan", size=40)
    system.orphan_at_venue(ticker, 10)
    system.project()
    head = system.head()
    r = system.client.post("/admin/reconcile", headers=AUTH, content=b"")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "critical_drift" and body["maxDriftPct"] == 25.0
    assert body["drifts"] == [{"marketId": ticker, "side": "YES", "internalSize": 40.0, "venueSize": 50.0,
                               "drift": 10.0, "driftPct": 25.0, "severity": "critical"}]
    assert body["totalAbsoluteDrift"] == 10.0 and body["matchedCount"] == 0
    alerts = system.events("CircuitBreaker.AlertRaised", head)
    assert [(a.code, a.severity) for a in alerts] == [("RECONCILIATION_DRIFT", "critical")]
    assert system.container.breaker.get().state.value == "HALT"
    [report] = system.events("ReconciliationReport", head)
    assert (report.result["status"], report.drift_count) == ("critical_drift", 1)


def test_reconcile_when_nothing_live_then_ok_without_reading_the_venue(uncredentialed: System):
    """PAPER only: the "venue" side is the paper book itself (trading §7), so no credentials are needed."""
    head = uncredentialed.head()
    r = uncredentialed.client.post("/admin/reconcile", headers=AUTH, json={})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["internalPositionCount"], body["venuePositionCount"]) == ("ok", 0, 0)
    assert not uncredentialed.exchange.requests
    [report] = uncredentialed.events("ReconciliationReport", head)
    assert report.result["status"] == "ok"


def _only_a_failed_job_run(system: System, head: int, message: str) -> None:
    """A failed run writes no report and no breaker move: only its JobRun, started then failed (ADR 0393)."""
    started, failed = system.events("JobRun", head)
    assert (type(started).__qualname__, started.job, started.source) == ("JobRun.Created", "reconcile", "admin")
    assert (type(failed).__qualname__, failed.error) == ("JobRun.Failed", message)
    assert system.events("ReconciliationReport", head) == system.events("CircuitBreaker", head) == []


def test_reconcile_when_no_credentials_then_503_and_only_the_failed_run_written(uncredentialed: System):
    seed_executor_modes(uncredentialed.container, {"kalshi": {"bonding": "LIVE"}})  # a venue to ask
    head = uncredentialed.head()
    r = uncredentialed.client.post("/admin/reconcile", headers=AUTH, json={})
    assert r.status_code == 503
    assert (r.json()["code"], r.json()["error"]) == ("venue_not_configured", "Reconciliation failed")
    assert "KALSHI_API_KEY" in r.json()["message"]
    _only_a_failed_job_run(uncredentialed, head, r.json()["message"])
    assert not any(req.path.endswith("/portfolio/positions") for req in uncredentialed.exchange.requests)


def test_reconcile_when_venue_refuses_then_502_with_code_and_only_the_failed_run_written(system: System):
    seed_executor_modes(system.container, {"kalshi": {"bonding": "LIVE"}})  # a venue to ask
    system.exchange.inject(Fault(status=401, path_contains="/portfolio/positions"))
    head = system.head()
    r = system.client.post("/admin/reconcile", headers=AUTH)
    assert (r.status_code, r.json()["code"]) == (502, "venue_auth_failed")
    _only_a_failed_job_run(system, head, r.json()["message"])


@pytest.mark.parametrize("path", ["/admin/reconcile", "/admin/orchestrator/trigger/reconcile"])
def test_mutation_when_body_malformed_then_400_and_nothing_written(system: System, path: str):
    head = system.head()
    for body, code in ((b"{bad", "invalid_json"), (b"[1]", "validation_error")):
        r = system.client.post(path, headers=AUTH, content=body)
        assert (r.status_code, r.json()["code"]) == (400, code)
    assert system.head() == head and system.exchange.requests == []


# ----------------------------------------------------------------------------------------- triggers


def test_trigger_reconcile_when_run_then_report_and_job_run_recorded_with_actor(system: System):
    system.live_fill("trig-rec")
    system.project()
    head = system.head()
    r = system.client.post("/admin/orchestrator/trigger/reconcile", headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["success"], body["trigger"], body["triggeredBy"]) == (True, "reconcile", "api-token-user")
    assert set(body["result"]) == RESULT_FIELDS and body["result"]["status"] == "ok"
    started, done = system.events("JobRun", head)
    assert (started.job, started.triggered_by, started.source) == ("reconcile", "api-token-user", "admin")
    assert type(done).__qualname__ == "JobRun.Completed" and done.result == body["result"]
    assert len(system.events("ReconciliationReport", head)) == 1


def test_trigger_when_job_inputs_missing_then_502_job_failed_and_failure_recorded(uncredentialed: System):
    seed_executor_modes(uncredentialed.container, {"kalshi": {"bonding": "LIVE"}})  # a venue to ask
    head = uncredentialed.head()
    r = uncredentialed.client.post("/admin/orchestrator/trigger/reconcile", headers=AUTH)
    assert r.status_code == 502
    body = r.json()
    assert (body["success"], body["code"], body["trigger"]) == (False, "job_failed", "reconcile")
    assert "credentials" in body["error"]
    started, failed = uncredentialed.events("JobRun", head)
    assert started.triggered_by == "api-token-user" and type(failed).__qualname__ == "JobRun.Failed"
    assert failed.error == body["error"]
    assert uncredentialed.events("ReconciliationReport", head) == []


def test_trigger_when_unknown_then_404_with_code_and_unauthenticated_401(system: System):
    head = system.head()
    r = system.client.post("/admin/orchestrator/trigger/anchor", headers=AUTH)
    assert (r.status_code, r.json()["code"], r.json()["trigger"]) == (404, "unknown_trigger", "anchor")
    assert system.client.post("/admin/orchestrator/trigger/scan").status_code == 401
    assert system.head() == head


def test_trigger_ingest_when_a_position_is_open_then_its_market_is_marked(system: System):
    ticker, _ = system.live_fill("ingest-1")
    system.project()
    head = system.head()
    r = system.client.post("/admin/orchestrator/trigger/ingest", headers=AUTH)
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    assert (result["markets"], result["recorded"], result["failed"]) == (1, 1, {})
    assert [e.originator_id for e in system.events("MarketMark", head)]
    assert any(req.path.endswith(f"/markets/{ticker}") for req in system.exchange.requests)


def test_trigger_ingest_when_every_market_unreadable_then_502(system: System):
    system.live_fill("ingest-2")
    system.project()
    system.exchange.inject(Fault(status=404, path_contains="/markets/", method="GET"))
    r = system.client.post("/admin/orchestrator/trigger/ingest", headers=AUTH)
    assert (r.status_code, r.json()["code"]) == (502, "job_failed")
    assert "venue_not_found" in r.json()["error"]


def test_trigger_scan_when_catalogue_read_then_strategies_reported_and_orders_match(system: System):
    head = system.head()
    r = system.client.post("/admin/orchestrator/trigger/scan", headers=AUTH)
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    bonding, weather = result["strategies"]
    assert (bonding["strategy"], bonding["capital"], bonding["marketsScanned"]) == (
        "bonding", 500.0, len(system.exchange.markets))
    assert (weather["strategy"], weather["signalCount"]) == ("weather", 0)  # no NOAA token here: skipped, unsent
    assert weather["error"].startswith("NOAA CDO not usable") and "NOAA_CDO_TOKEN" in weather["error"]
    assert result["ordersCreated"] == len(system.events("Order.Created", head)) == bonding["ordersCreated"]
    assert any(req.path.endswith("/markets") for req in system.exchange.requests)


def test_trigger_scan_when_no_strategy_can_be_scanned_then_each_skipped_with_its_error(system: System):
    """§7.1: "a failing strategy is skipped"; the report says why, the job itself succeeded."""
    system.exchange.inject(Fault(status=401, path_contains="/markets", method="GET"))
    head = system.head()
    r = system.client.post("/admin/orchestrator/trigger/scan", headers=AUTH)
    assert r.status_code == 200, r.text
    rows = {row["strategy"]: row for row in r.json()["result"]["strategies"]}
    assert {"bonding", "weather"} <= set(rows) and all("error" in row for row in rows.values())
    assert (r.json()["result"]["totalSignals"], r.json()["result"]["ordersCreated"]) == (0, 0)
    assert system.events("Order.Created", head) == []


def test_trigger_execute_when_orders_pending_then_driven_through_the_pipeline(system: System):
    ticker = system.tradable_ticker()
    ask = system.exchange.markets[ticker]["yes_ask"]
    first = system.pending_order("exe-1", ticker, ask)
    unknown = system.pending_order("exe-2", "KXNOT-LISTED", 40, minutes=1)
    system.project("orders")
    r = system.client.post("/admin/orchestrator/trigger/execute", headers=AUTH)
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    assert (result["processed"], result["executed"], result["rejected"]) == (1, [], [first])
    assert result["errors"] == [{"orderId": unknown, "error": "market data unavailable (venue_not_found)"}]
    driven, untouched = system.container.orders.find(first), system.container.orders.find(unknown)
    assert driven is not None and driven.state.value == "RISK_REJECTED"  # the fake's recorded markets settled
    assert untouched is not None and untouched.state.value == "PENDING" and untouched.version == 1


def test_trigger_execute_when_several_pending_then_driven_by_priority_then_age(system: System):
    # §5.2 queue order: priority (edge, confidence 0.8 each: 90, 65, 43) desc, then first queued
    ticker = system.tradable_ticker()
    low_oldest = system.pending_order("pri-low", ticker, 40, minutes=0, edge=0.01)
    high = system.pending_order("pri-high", ticker, 40, minutes=1, edge=0.2)
    mid = system.pending_order("pri-mid", ticker, 40, minutes=2, edge=0.1)
    mid_later = system.pending_order("pri-mid-2", ticker, 40, minutes=3, edge=0.1)
    head = system.head()
    system.project("orders")
    r = system.client.post("/admin/orchestrator/trigger/execute", headers=AUTH)
    assert r.status_code == 200 and r.json()["result"]["processed"] == 4, r.text
    touched: list[UUID] = []
    for e in system.events("Transitioned", head):
        if e.originator_id not in touched:
            touched.append(e.originator_id)
    ids = {system.container.orders.find(o).id: o for o in (low_oldest, high, mid, mid_later)}
    assert [ids[t] for t in touched] == [high, mid, mid_later, low_oldest]


def test_trigger_execute_when_strategy_live_and_no_credentials_then_502_and_orders_untouched(
        uncredentialed: System):
    seed_executor_modes(uncredentialed.container, {"kalshi": {"bonding": "LIVE"}})  # go-live, two operators
    order_id = uncredentialed.pending_order("exe-live", uncredentialed.tradable_ticker(), 40)
    uncredentialed.project("orders")
    r = uncredentialed.client.post("/admin/orchestrator/trigger/execute", headers=AUTH)
    assert (r.status_code, r.json()["code"]) == (502, "job_failed")
    assert "LIVE" in r.json()["error"]
    order = uncredentialed.container.orders.find(order_id)
    assert order is not None and order.version == 1
    assert uncredentialed.exchange.requests == []


def test_trigger_execute_when_nothing_pending_then_empty_report(system: System):
    r = system.client.post("/admin/orchestrator/trigger/execute", headers=AUTH, json={})
    assert r.status_code == 200
    assert {k: v for k, v in r.json()["result"].items() if k != "durationMs"} == {
        "processed": 0, "executed": [], "rejected": [], "errors": [], "deferred": []}


# ----------------------------------------------------------------------------------------- webhooks


def test_webhook_trigger_when_reconcile_then_same_job_runs_and_shape_kept(system: System):
    system.live_fill("hook-1")
    system.project()
    head = system.head()
    r = system.client.post("/webhooks/trigger/reconcile", headers={"Authorization": f"Bearer {TRIGGER}"})
    assert r.status_code == 200, r.text
    body = r.json()  # §1.6: reconcile is triggered, not awaited; its outcome is the run's last event
    assert set(body) == {"triggered", "job", "runId", "timestamp"}
    assert (body["triggered"], body["job"]) == (True, "reconcile")
    assert system.container.jobs.wait(30)
    started, done = system.events("JobRun", head)
    assert (started.triggered_by, started.source) == ("webhook", "webhook")
    assert type(done).__qualname__ == "JobRun.Completed" and done.result["status"] == "ok"
    [report] = system.events("ReconciliationReport", head)
    assert report.triggered_by == "webhook"


def test_webhook_trigger_when_reconcile_cannot_run_then_triggered_and_failure_recorded(uncredentialed: System):
    seed_executor_modes(uncredentialed.container, {"kalshi": {"bonding": "LIVE"}})  # a venue to ask
    head = uncredentialed.head()
    r = uncredentialed.client.post("/webhooks/trigger/reconcile", headers={"Authorization": f"Bearer {TRIGGER}"})
    assert (r.status_code, r.json()["triggered"]) == (200, True)
    assert uncredentialed.container.jobs.wait(30)
    started, failed = uncredentialed.events("JobRun", head)
    assert started.source == "webhook" and type(failed).__qualname__ == "JobRun.Failed"
    assert "credentials" in failed.error
    assert uncredentialed.events("ReconciliationReport", head) == []


# ----------------------------------------------------------------------------------------- GET orders


@pytest.fixture
def listed(system: System) -> System:
    system.pending_order("o-1", "KX-A", 40, minutes=0)
    system.pending_order("o-2", "KX-B", 41, minutes=1, strategy="weather")
    bad = Order.create(signal_id="o-3", strategy="bonding", ticker="KX-C", side="YES", requested_size=5,
                       max_price=0, now=NOW + timedelta(minutes=2))
    bad.validate(NOW + timedelta(minutes=2))  # "Invalid price" -> REJECTED
    system.container.orders.save(bad)
    system.project("orders")
    return system


def _tickers(r: Any) -> list[str]:
    return [o["ticker"] for o in r.json()["orders"]]


def test_orders_when_unfiltered_then_newest_first_with_default_limit(listed: System):
    r = listed.client.get("/admin/orchestrator/orders", headers=AUTH)
    assert r.status_code == 200
    body = r.json()
    assert (_tickers(r), body["count"]) == (["KX-C", "KX-B", "KX-A"], 3)
    assert body["filters"] == {"state": None, "strategy": None, "limit": 50}
    first = body["orders"][0]
    assert (first["currentState"], first["lastError"], first["strategy"], first["createdAt"]) == (
        "REJECTED", "Invalid price", "bonding", "2026-03-02T15:02:00.000Z")
    assert {"orderId", "signalId", "side", "requestedSize", "maxPrice", "filledSize", "avgFillPrice",
            "updatedAt"} <= set(first)


@pytest.mark.parametrize("query,expected,limit", [
    ("state=pending", ["KX-B", "KX-A"], 50), ("state=REJECTED", ["KX-C"], 50),
    ("strategy=weather", ["KX-B"], 50), ("state=PENDING&strategy=bonding", ["KX-A"], 50),
    ("limit=1", ["KX-C"], 1), ("limit=501", ["KX-C", "KX-B", "KX-A"], 500),
    ("limit=", ["KX-C", "KX-B", "KX-A"], 50), ("state=&strategy=", ["KX-C", "KX-B", "KX-A"], 50),
    ("strategy=nobody", [], 50),
])
def test_orders_when_filtered_then_pushed_into_the_query(listed: System, query: str, expected: list[str],
                                                         limit: int):
    r = listed.client.get(f"/admin/orchestrator/orders?{query}", headers=AUTH)
    assert r.status_code == 200
    assert (_tickers(r), r.json()["count"], r.json()["filters"]["limit"]) == (expected, len(expected), limit)


@pytest.mark.parametrize("query,code", [
    ("limit=0", "invalid_limit"), ("limit=-1", "invalid_limit"), ("limit=abc", "invalid_limit"),
    ("limit=1.5", "invalid_limit"), ("limit=%205", "invalid_limit"), ("limit=10abc", "invalid_limit"),
    ("limit=5%0A", "invalid_limit"),
    ("state=BOGUS", "invalid_state"), ("state=BOGUS&limit=0", "invalid_state"),
])
def test_orders_when_filter_invalid_then_400_with_code_and_nothing_written(listed: System, query: str, code: str):
    head = listed.head()
    r = listed.client.get(f"/admin/orchestrator/orders?{query}", headers=AUTH)
    assert (r.status_code, r.json()["code"]) == (400, code)
    assert listed.head() == head


def test_orders_when_unauthenticated_then_401(listed: System):
    assert listed.client.get("/admin/orchestrator/orders").status_code == 401
