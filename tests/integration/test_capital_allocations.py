"""The capital approved at go-live is what the scan, the risk check and the dashboard use (api-and-security §7.1
resolution, §1.5; trading §5.7; ADR 0389), on real PostgreSQL + NATS with the loopback Kalshi exchange: the
capital-allocation view is built from go-lives and status changes, §5.7's static table counts only for
strategies with no allocation event, and an unreadable view stops the scan instead of falling back."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from paulp.adapters.market_data import StaticMarketData
from paulp.domain.golive import GoLiveTerms
from paulp.domain.strategy_registry import StrategyStatus
from tests.integration.helpers import NOW, assert_live_equals_replay, facts, signal
from tests.integration.kalshi_system import AUTH, System, add_bond_markets
from tests.support.seeding import GateOpen

pytestmark = pytest.mark.integration

BONDS = tuple(f"KXALLOC-26MAR-B{i}" for i in range(5))  # five equal bonds: HHI 0.2 <= 0.25 (ADR 0163)
VIEW = "capital_allocations"


def go_live(system: System, strategy: str, capital_cents: int) -> None:
    terms = GoLiveTerms("alice", "bob", capital_cents)
    golive = system.container.golive
    golive.approve(strategy, terms, "token:alice", f"{strategy}-{capital_cents}-1", GateOpen())
    golive.approve(strategy, terms, "token:bob", f"{strategy}-{capital_cents}-2", GateOpen())


def set_status(system: System, strategy: str, status: StrategyStatus, reason: str) -> None:
    assert system.container.strategies.set_status(strategy, status, "token:carol", reason).changed


def with_fair_bonds(system: System) -> None:
    add_bond_markets(system, BONDS)
    for ticker in BONDS[:3]:
        system.container.fair_values.set(ticker, 0.99, "desk research", "published figure", "ops-dana",
                                         timedelta(hours=24))


def scan(system: System) -> tuple[dict[str, dict[str, Any]], list[Any]]:
    head = system.head()
    r = system.client.post("/admin/orchestrator/trigger/scan", headers=AUTH)
    assert r.status_code == 200, r.text
    rows = {row["strategy"]: row for row in r.json()["result"]["strategies"]}
    return rows, system.events("Order.Created", head)


def view_rows(system: System) -> dict[str, dict[str, Any]]:
    with psycopg.connect(system.container.database_url) as conn:
        cur = conn.execute(f"SELECT * FROM views.{VIEW}")
        names = [d.name for d in cur.description or ()]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}


def summary(system: System) -> dict[str, Any]:
    r = system.client.get("/dashboard/summary", headers=AUTH)
    assert r.status_code == 200, r.text
    return dict(r.json())


def break_view(system: System) -> None:
    """Make the view genuinely unreadable (revoked by renaming its table)."""
    with psycopg.connect(system.container.database_url, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE views.{VIEW} RENAME TO {VIEW}_unavailable")


# ------------------------------------------------------------------------------------- no allocation event


def test_scan_when_no_allocation_event_then_static_strategies_and_capital(system: System):
    with_fair_bonds(system)
    rows, created = scan(system)
    assert view_rows(system) == {}
    assert [(s, rows[s]["capital"]) for s in rows] == [("bonding", 500.0), ("weather", 300.0)]
    # §5.7: 5 % of 500 USD = 25 USD a position: floor(25 / 0.96) = 26 contracts (ADR 0288).
    assert sorted(e.ticker for e in created) == list(BONDS[:3])
    assert {e.requested_size for e in created} == {26}
    assert summary(system)["daily_loss_remaining_budget"] == 7.5  # §1.5: 250 x 3 % without an allocation


# ------------------------------------------------------------------------------------ go-live with capital X


def test_scan_when_bonding_went_live_with_400_usd_then_sized_with_400_and_the_dashboard_budget_too(system: System):
    with_fair_bonds(system)
    go_live(system, "bonding", 40_000)
    system.project(VIEW)
    row = view_rows(system)["bonding"]
    assert (float(row["capital"]), float(row["max_position_pct"]), row["enabled"]) == (400.0, 5.0, True)
    assert (row["approved_by"], row["approved_at"], row["allocated_at"], row["enabled_at"]) == (
        "alice,bob", NOW, NOW, NOW)
    assert row["disabled_at"] is None and set(view_rows(system)) == {"bonding"}

    rows, created = scan(system)
    assert (rows["bonding"]["capital"], rows["weather"]["capital"]) == (400.0, 300.0)  # weather: no event, static
    # 5 % of 400 USD = 20 USD a position: floor(20 / 0.96) = 20 contracts (26 with the static 500 USD).
    assert sorted(e.ticker for e in created) == list(BONDS[:3])
    assert {e.requested_size for e in created} == {20}
    assert system.container.strategy_capital("bonding_barbell") == 400.0  # the risk check's portfolio value
    assert summary(system)["daily_loss_remaining_budget"] == 12.0  # 400 x 3 %
    assert_live_equals_replay(system.container, VIEW)


def test_risk_check_when_bonding_went_live_with_400_usd_then_i1_relative_to_400(system: System):
    """50 contracts at 42c = 21 USD: 4.2 % of the static 500 USD passes I1, 5.25 % of the approved 400 does not."""
    market = StaticMarketData({t: facts(t) for t in ("KXTEST-A", "KXTEST-B")})
    assert system.container.pipeline(market).process(signal("alloc-before")).state == "FILLED"
    go_live(system, "bonding", 40_000)
    system.project(VIEW)
    system.container.clock.set(NOW + timedelta(seconds=2))  # type: ignore[attr-defined]
    out = system.container.pipeline(market).process(signal("alloc-after", "KXTEST-B"))
    assert out.state == "RISK_REJECTED", out
    [checked] = [e for e in system.container.orders.history(out.order_id) if type(e).__name__ == "RiskChecked"]
    assert "I1_MAX_POSITION_SIZE" in checked.result["invariantIds"]


def test_dashboard_when_a_21_50_usd_loss_today_then_loss_limit_judged_on_the_go_live_capital(system: System):
    """The same loss exceeds 3 % of the 250 USD default and stays within 3 % of an approved 1000 USD."""
    market = StaticMarketData({"KXTEST-A": facts("KXTEST-A")})
    assert system.container.pipeline(market).process(signal("alloc-loss")).state == "FILLED"  # 50 at 43c
    assert system.container.markets.resolve("KXTEST-A", "NO", NOW + timedelta(minutes=30), None)
    system.project("orders", "market_marks")
    system.container.clock.set(NOW + timedelta(hours=1))  # type: ignore[attr-defined]
    before = summary(system)
    assert (before["today_realized_pnl"], before["daily_loss_remaining_budget"], before["account_status"]) == (
        -21.5, 0.0, "LOSS_LIMIT_EXCEEDED")
    go_live(system, "bonding", 100_000)
    system.project(VIEW)
    after = summary(system)
    assert (after["daily_loss_remaining_budget"], after["account_status"]) == (8.5, "NORMAL")  # 30 - 21.50


# ------------------------------------------------------------------------------------- status changes


def test_scan_when_bonding_disabled_after_go_live_then_not_scanned_and_paper_brings_it_back(system: System):
    with_fair_bonds(system)
    go_live(system, "bonding", 40_000)
    set_status(system, "bonding", StrategyStatus.DISABLED, "venue incident")
    system.project(VIEW)
    row = view_rows(system)["bonding"]
    assert (row["enabled"], row["disabled_at"], row["disable_reason"], float(row["capital"])) == (
        False, NOW, "venue incident", 400.0)

    rows, created = scan(system)
    assert list(rows) == ["weather"] and created == []
    assert summary(system)["daily_loss_remaining_budget"] == 7.5  # no enabled bonding allocation: 250

    set_status(system, "bonding", StrategyStatus.PAPER, "incident over, paper first")
    system.project(VIEW)
    rows, created = scan(system)
    assert rows["bonding"]["capital"] == 400.0 and {e.requested_size for e in created} == {20}
    assert_live_equals_replay(system.container, VIEW)


def test_scan_when_weather_halted_without_go_live_then_only_bonding_with_static_capital(system: System):
    set_status(system, "weather", StrategyStatus.HALTED, "forecast source suspect")
    system.project(VIEW)
    assert (view_rows(system)["weather"]["enabled"], float(view_rows(system)["weather"]["capital"])) == (False, 300.0)
    rows, _ = scan(system)
    assert [(s, r["capital"]) for s, r in rows.items()] == [("bonding", 500.0)]


def test_scan_when_a_disabled_strategy_goes_live_then_scanned_with_its_capital(system: System):
    """§5.7 keeps xv_signal disabled; go-live enables it (it has no signal source, so its row says so)."""
    go_live(system, "xv_signal", 15_000)
    system.project(VIEW)
    rows, _ = scan(system)
    assert rows["xv_signal"]["capital"] == 150.0 and "no signal source" in rows["xv_signal"]["error"]


# ------------------------------------------------------------------------------------- fail closed


def test_scan_when_the_view_cannot_be_read_then_the_run_fails_and_nothing_is_read_or_made(system: System):
    with_fair_bonds(system)
    break_view(system)
    head = system.head()
    r = system.client.post("/admin/orchestrator/trigger/scan", headers=AUTH)
    assert (r.status_code, r.json()["code"], r.json()["reason"]) == (502, "job_failed",
                                                                     "capital_allocations_unavailable")
    assert "capital allocations could not be read" in r.json()["error"]
    assert system.events("Order.Created", head) == []
    assert not any(req.path.endswith("/markets") for req in system.exchange.requests)
    [failed] = system.events("JobRun.Failed", head)
    assert "capital allocations could not be read" in failed.error

    dashboard = system.client.get("/dashboard/summary", headers=AUTH)
    assert (dashboard.status_code, dashboard.json()["code"]) == (500, "dashboard_unavailable")
    # The risk check cannot value the portfolio: the order waits unanswered, never approved on static capital.
    market = StaticMarketData({"KXTEST-A": facts("KXTEST-A")})
    out = system.container.pipeline(market).process(replace(signal("alloc-unread"), requested_size=10))
    assert out.state == "RISK_CHECK", out
