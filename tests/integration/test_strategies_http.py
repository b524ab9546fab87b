"""Strategy registry and operator reviews over HTTP on real PostgreSQL + NATS (api-and-security §1.3; ADR 0255).

Commands go through the app; views are built by the relay and projectors; every 4xx leaves the log as it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from paulp.adapters import replay as rp
from paulp.adapters.market_data import StaticMarketData
from paulp.api.app import create_app
from paulp.api.wiring import Container
from paulp.domain.clock import FixedClock
from paulp.domain.golive import GoLiveTerms
from paulp.domain.reviews import PairTerms
from paulp.domain.services.pipeline import TradeSignal
from paulp.domain.strategy_registry import Strategy
from tests.integration.helpers import NOW, facts, make_container, max_notification_id, wait_tracked, workers
from tests.support.seeding import GateOpen

pytestmark = pytest.mark.integration
AUTH = {"Authorization": "Bearer test-admin-token-0123456789abcdef"}
ACTOR = "api-token-user"
TICKERS = tuple(f"KXREG-{n}" for n in range(14))
SPACING = timedelta(seconds=2)  # paper orders of one strategy at least 1 s apart; marks stay fresh (< 60 s)
LIST_FIELDS = ["id", "name", "strategy_type", "status", "total_pnl_usd", "total_positions", "win_count",
               "loss_count", "model_valid"]


MARKET = StaticMarketData({t: facts(t) for t in TICKERS})


def signal(sid: str, ticker: str = "KXREG-0", size: int = 50, strategy: str = "bonding",
           price: int = 42) -> TradeSignal:
    return TradeSignal(signal_id=sid, strategy=strategy, ticker=ticker, side="YES", requested_size=size,
                       max_price=price, model_probability=0.6, edge=0.18, confidence=0.8)



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


def events_named(container: Container, suffix: str) -> list[dict[str, Any]]:
    with psycopg.connect(container.database_url) as conn:
        rows = conn.execute("SELECT state FROM paulp_events WHERE topic LIKE %s ORDER BY notification_id",
                            (f"%{suffix}",)).fetchall()
    return [json.loads(bytes(r[0])) for r in rows]


def go_live(container: Container, strategy: str, capital_cents: int, first: str = "token:alice",
            second: str = "token:bob") -> None:
    terms = GoLiveTerms("alice", "bob", capital_cents)
    container.golive.approve(strategy, terms, first, f"{strategy}-{capital_cents}-1", GateOpen())
    container.golive.approve(strategy, terms, second, f"{strategy}-{capital_cents}-2", GateOpen())


def assert_replay_equals_live(container: Container, name: str) -> None:
    proj = container.projections[name]
    result = rp.replay(container.database_url, proj, f"replay_{name}", rp.live_position(container.database_url, proj))
    assert result.failed == 0 and rp.diff(container.database_url, proj, f"replay_{name}") == []


def status_of(client: TestClient, strategy: str) -> str:
    body = client.get("/admin/status", headers=AUTH).json()
    return next(s["status"] for s in body["strategies"] if s["id"] == strategy)


# ------------------------------------------------------------------------------------------ GET /status


def test_status_when_no_events_then_every_strategy_by_name_with_initial_state(system) -> None:
    _, client, _ = system
    r = client.get("/admin/status", headers=AUTH)
    body = r.json()
    assert r.status_code == 200 and body["unresolvedViolations"] == [] and body["latestSnapshot"] is None
    assert body["circuitBreaker"]["state"] == "NORMAL"
    assert [s["name"] for s in body["strategies"]] == ["Bonding Barbell", "Cross-Venue Signal",
                                                       "Resolution Mispricing", "Smart Money Convergence",
                                                       "Weather Series"]
    assert all(list(s) == LIST_FIELDS for s in body["strategies"])
    assert {s["id"]: s["status"] for s in body["strategies"]} == {
        "bonding": "paper", "weather": "paper", "xv_signal": "disabled", "smart_money": "disabled",
        "resolution": "disabled"}
    assert body["strategies"][0] == {"id": "bonding", "name": "Bonding Barbell", "strategy_type": "bonding_barbell",
                                     "status": "paper", "total_pnl_usd": 0.0, "total_positions": 0, "win_count": 0,
                                     "loss_count": 0, "model_valid": False}


def test_status_when_positions_filled_and_resolved_then_totals_per_strategy(system) -> None:
    container, client, clock = system
    pipeline = container.pipeline(MARKET)
    assert pipeline.process(signal("fill-a", "KXREG-1", 50)).state == "FILLED"  # 50 @ 43c
    clock.set(NOW + SPACING)
    assert pipeline.process(signal("fill-b", "KXREG-2", 30)).state == "FILLED"  # 30 @ 43c
    clock.set(NOW + 2 * SPACING)  # one PAPER throttle for every strategy (ADR 0307)
    assert pipeline.process(signal("fill-w", "KXREG-3", 30, strategy="weather")).state == "FILLED"
    container.markets.resolve("KXREG-1", "YES", NOW, None)  # resolved YES: 100c, a win of 50 * 57c
    container.markets.resolve("KXREG-2", "NO", NOW, None)  # resolved NO: 0c, a loss of 30 * 43c
    settle(container, "orders", "market_marks")
    rows = {s["id"]: s for s in client.get("/admin/status", headers=AUTH).json()["strategies"]}
    assert (rows["bonding"]["total_positions"], rows["bonding"]["win_count"], rows["bonding"]["loss_count"]) == \
        (2, 1, 1)
    assert rows["bonding"]["total_pnl_usd"] == pytest.approx(50 * 0.57 - 30 * 0.43)
    assert (rows["weather"]["total_positions"], rows["weather"]["win_count"], rows["weather"]["loss_count"]) == \
        (1, 0, 0)


# ------------------------------------------------------------------------- POST /strategies/:id/status


@pytest.mark.parametrize("strategy,body,status,code,error", [
    ("bonding", {"status": "LIVE"}, 400, "invalid_status", "Invalid status"),
    ("bonding", {}, 400, "invalid_status", "Invalid status"),
    ("bonding", {"status": 1}, 400, "invalid_status", "Invalid status"),
    ("nope", {"status": "bogus"}, 400, "invalid_status", "Invalid status"),  # value is checked first
    ("bonding", {"status": "live"}, 409, "use_go_live", "Use go-live approval to set live"),
    ("nope", {"status": "live"}, 409, "use_go_live", "Use go-live approval to set live"),  # then live
    ("nope", {"status": "halted"}, 404, "strategy_not_found", "Strategy not found"),  # then the strategy
    ("bonding_barbell", {"status": "halted"}, 404, "strategy_not_found", "Strategy not found"),
    ("bonding", {"status": "halted", "reason": ""}, 400, "validation_error", "Invalid reason"),
    ("bonding", {"status": "halted", "reason": 5}, 400, "validation_error", "Invalid reason"),
])
def test_set_status_when_refused_then_spec_order_and_nothing_recorded(system, strategy: str, body: dict[str, Any],
                                                                      status: int, code: str, error: str) -> None:
    container, client, _ = system
    head = max_notification_id(container.database_url)
    r = client.post(f"/admin/strategies/{strategy}/status", json=body, headers=AUTH)
    assert (r.status_code, r.json()["code"], r.json()["error"]) == (status, code, error)
    assert max_notification_id(container.database_url) == head


def test_set_status_when_malformed_json_then_400_and_nothing_recorded(system) -> None:
    container, client, _ = system
    head = max_notification_id(container.database_url)
    r = client.post("/admin/strategies/bonding/status", content=b"{status", headers=AUTH)
    assert (r.status_code, r.json()["code"]) == (400, "invalid_json")
    assert max_notification_id(container.database_url) == head


def test_set_status_when_halted_then_event_view_exec_mode_and_pipeline_stop(system) -> None:
    container, client, clock = system
    r = client.post("/admin/strategies/bonding/status", json={"status": "halted", "reason": "drawdown drill"},
                    headers=AUTH)
    assert (r.status_code, r.json()) == (200, {"success": True, "newStatus": "halted"})
    (changed,) = events_named(container, "Strategy.StatusChanged")
    assert (changed["from_status"], changed["to_status"], changed["actor"], changed["reason"]) == \
        ("paper", "halted", ACTOR, "drawdown drill")
    settle(container, "strategies")
    assert status_of(client, "bonding") == "halted" and status_of(client, "weather") == "paper"
    detail = client.get("/admin/strategies/bonding", headers=AUTH).json()
    assert detail["strategy"]["status"] == "halted" and detail["strategy"]["status_changed_by"] == ACTOR
    assert detail["strategy"]["status_reason"] == "drawdown drill"
    assert detail["executionPolicy"]["mode"] == "DISABLED" and detail["executionPolicy"]["max_orders_per_minute"] == 0
    modes = client.get("/exec/kalshi/mode", headers=AUTH).json()["strategies"]
    assert (modes["bonding"], modes["weather"]) == ("DISABLED", "PAPER")
    # A halted strategy's next order is refused; the other strategies still trade.
    pipeline = container.pipeline(MARKET)
    halted = pipeline.process(signal("after-halt", "KXREG-4"))
    assert halted.state == "REJECTED" and halted.last_error == "Execution is disabled"  # §1.6, ADR 0140
    alias = pipeline.process(signal("after-halt-alias", "KXREG-5", strategy="bonding_barbell"))
    assert alias.state == "REJECTED"
    # 30 contracts at 42c = $12.60, within 5 % of weather's $300
    assert pipeline.process(signal("weather-ok", "KXREG-6", size=30, strategy="weather")).state == "FILLED"
    # Same status again: 200, nothing recorded; back to paper trades again.
    head = max_notification_id(container.database_url)
    again = client.post("/admin/strategies/bonding/status", json={"status": "halted"}, headers=AUTH)
    assert again.status_code == 200 and max_notification_id(container.database_url) == head
    clock.set(NOW + SPACING)
    assert client.post("/admin/strategies/bonding/status", json={"status": "paper"}, headers=AUTH).status_code == 200
    assert pipeline.process(signal("after-resume", "KXREG-7")).state == "FILLED"
    assert [e["reason"] for e in events_named(container, "Strategy.StatusChanged")] == [
        "drawdown drill", "Operator status change"]


def test_set_status_when_disabled_strategy_set_to_paper_then_it_paper_trades(system) -> None:
    container, client, _ = system
    pipeline = container.pipeline(MARKET)
    # 25 contracts at 40c = $10: both the minimum order and 5 % of smart_money's $200 (§3.2, §5.7); smart_money,
    # not xv_signal, whose orders first need an LLM scoring run of their market (ADR 0425)
    assert pipeline.process(signal("sm-before", "KXREG-8", 25, "smart_money", 40)).state == "REJECTED"
    assert client.post("/admin/strategies/smart_money/status", json={"status": "paper"}, headers=AUTH).json() == \
        {"success": True, "newStatus": "paper"}
    assert pipeline.process(signal("sm-after", "KXREG-9", 25, "smart_money", 40)).state == "FILLED"


# ------------------------------------------------------------------------------- go-live and status


def test_status_after_go_live_then_live_with_capital_and_a_later_halt_then_a_new_go_live(system) -> None:
    container, client, clock = system
    go_live(container, "weather", 250_000)
    settle(container, "strategies")
    assert status_of(client, "weather") == "live"
    strategy = client.get("/admin/strategies/weather", headers=AUTH).json()["strategy"]
    assert (strategy["max_capital_allocation_usd"], strategy["approved_by"]) == (2500.0, "alice,bob")
    assert strategy["live_actors"] == ["token:alice", "token:bob"]
    assert client.get("/exec/kalshi/mode", headers=AUTH).json()["strategies"]["weather"] == "LIVE"
    clock.set(NOW + timedelta(minutes=5))
    r = client.post("/admin/strategies/weather/status", json={"status": "halted", "reason": "venue incident"},
                    headers=AUTH)
    assert r.json() == {"success": True, "newStatus": "halted"}
    assert events_named(container, "Strategy.StatusChanged")[-1]["from_status"] == "live"
    settle(container, "strategies")
    assert status_of(client, "weather") == "halted"
    assert client.get("/exec/kalshi/mode", headers=AUTH).json()["strategies"]["weather"] == "DISABLED"
    clock.set(NOW + timedelta(minutes=10))
    go_live(container, "weather", 100_000)  # a new two-person cycle takes it live again
    settle(container, "strategies")
    assert status_of(client, "weather") == "live"
    assert client.get("/admin/strategies/weather", headers=AUTH).json()["strategy"]["max_capital_allocation_usd"] \
        == 1000.0
    assert [s["status"] for s in client.get("/admin/status", headers=AUTH).json()["strategies"]
            if s["id"] != "weather"] == ["paper", "disabled", "disabled", "disabled"]
    assert_replay_equals_live(container, "strategies")


# ------------------------------------------------------------------------------- GET /strategies/:id


def test_get_strategy_when_unknown_then_404(system) -> None:
    _, client, _ = system
    for sid in ("nope", "bonding_barbell", "BONDING"):
        r = client.get(f"/admin/strategies/{sid}", headers=AUTH)
        assert (r.status_code, r.json()["error"], r.json()["code"]) == (404, "Strategy not found",
                                                                         "strategy_not_found")


def test_get_strategy_when_orders_exist_then_only_its_orders_newest_first(system) -> None:
    container, client, clock = system
    pipeline = container.pipeline(MARKET)
    ids = []
    for n in range(3):
        clock.set(NOW + n * SPACING)
        ids.append(pipeline.process(signal(f"mine-{n}", TICKERS[n])).order_id)
    pipeline.process(signal("theirs", "KXREG-10", strategy="weather"))
    settle(container, "venue_orders")
    body = client.get("/admin/strategies/bonding", headers=AUTH).json()
    assert [o["order_id"] for o in body["recentOrders"]] == ids[::-1]
    assert all(o["source_strategy"] == "bonding" and o["venue"] == "kalshi" for o in body["recentOrders"])
    assert body["strategy"]["id"] == "bonding" and body["strategy"]["status"] == "paper"
    assert body["executionPolicy"]["mode"] == "PAPER" and body["executionPolicy"]["strategy_id"] == "bonding"
    assert client.get("/admin/strategies/resolution", headers=AUTH).json()["recentOrders"] == []


def test_get_strategy_when_many_orders_then_at_most_fifty(system) -> None:
    container, client, _ = system
    with container.pool.connection() as conn:  # venue-order rows as the projection writes them
        for n in range(55):
            conn.execute(
                "INSERT INTO views.kalshi_orders (order_id, record, strategy, created_at, seq)"
                " VALUES (%s, %s, 'bonding', %s, %s)",
                (f"o{n}", f'{{"order_id": "o{n}"}}', NOW + timedelta(seconds=n), n))
    orders = client.get("/admin/strategies/bonding", headers=AUTH).json()["recentOrders"]
    assert len(orders) == 50 and orders[0]["order_id"] == "o54" and orders[-1]["order_id"] == "o5"


# ------------------------------------------------------------------------------ violations


def blocked_order(container: Container, sid: str, ticker: str) -> str:
    out = container.pipeline(MARKET).process(signal(sid, ticker, size=5000))  # $2,100 > 5 % of bonding's $500 (I1)
    assert out.state == "RISK_REJECTED", out
    return out.order_id


def test_violations_when_risk_blocks_then_newest_ten_unresolved_listed(system) -> None:
    container, client, clock = system
    order_ids = []
    for n in range(12):
        clock.set(NOW + n * SPACING)
        order_ids.append(blocked_order(container, f"big-{n}", TICKERS[n]))
    settle(container, "violations")
    listed = client.get("/admin/status", headers=AUTH).json()["unresolvedViolations"]
    assert len(listed) == 10
    assert all(list(v) == ["id", "invariant_id", "invariant_name", "severity", "triggered_at", "resolved"]
               for v in listed)
    times = [v["triggered_at"] for v in listed]
    assert times == sorted(times, reverse=True) and times[0] == "2026-03-02T15:00:22.000Z"
    assert {v["id"].split(":")[0] for v in listed} <= set(order_ids[-6:])  # newest orders only
    first = next(v for v in listed if v["id"] == f"{order_ids[-1]}:I1_MAX_POSITION_SIZE")
    assert first == {"id": f"{order_ids[-1]}:I1_MAX_POSITION_SIZE", "invariant_id": "I1_MAX_POSITION_SIZE",
                     "invariant_name": "Max Position Size", "severity": "BLOCK",
                     "triggered_at": "2026-03-02T15:00:22.000Z", "resolved": False}


@pytest.mark.parametrize("body,field", [({}, "resolver"), ({"resolver": "  "}, "resolver"),
                                        ({"resolver": 3}, "resolver"), ({"resolver": "dana", "notes": 4}, "notes")])
def test_resolve_when_body_invalid_then_400_and_nothing_recorded(system, body: dict[str, Any], field: str) -> None:
    container, client, _ = system
    vid = f"{blocked_order(container, 'big-x', 'KXREG-0')}:I1_MAX_POSITION_SIZE"
    head = max_notification_id(container.database_url)
    r = client.post(f"/admin/violations/{vid}/resolve", json=body, headers=AUTH)
    assert (r.status_code, r.json()["code"], r.json()["fields"]) == (400, "validation_error", [field])
    assert max_notification_id(container.database_url) == head


def test_resolve_when_unknown_violation_then_404_and_nothing_recorded(system) -> None:
    container, client, _ = system
    blocked = blocked_order(container, "big-y", "KXREG-0")
    filled = container.pipeline(MARKET).process(signal("ok", "KXREG-1")).order_id
    head = max_notification_id(container.database_url)
    for vid in ("nope", f"{blocked}:I7_MAX_WEEKLY_LOSS", f"{filled}:I1_MAX_POSITION_SIZE",
                "order-0000000000000000:I1_MAX_POSITION_SIZE", f"{blocked}:"):
        r = client.post(f"/admin/violations/{vid}/resolve", json={"resolver": "dana"}, headers=AUTH)
        assert (r.status_code, r.json()["code"], r.json()["error"]) == (404, "violation_not_found",
                                                                         "Violation not found"), vid
    assert max_notification_id(container.database_url) == head


def test_resolve_when_valid_then_event_with_resolver_and_actor_and_it_leaves_the_list(system) -> None:
    container, client, clock = system
    order_id = blocked_order(container, "big-z", "KXREG-0")
    vid = f"{order_id}:I1_MAX_POSITION_SIZE"
    others = [f"{order_id}:I2_MAX_PORTFOLIO_CONCENTRATION", f"{order_id}:I3_MAX_MARKET_EXPOSURE",
              f"{order_id}:I4_MAX_CATEGORY_EXPOSURE"]
    settle(container, "violations")
    listed = client.get("/admin/status", headers=AUTH).json()["unresolvedViolations"]
    assert sorted(v["id"] for v in listed) == [vid, *others]
    clock.set(NOW + timedelta(minutes=3))
    r = client.post(f"/admin/violations/{vid}/resolve", json={"resolver": " Dana ", "notes": "sized by hand"},
                    headers=AUTH)
    assert (r.status_code, r.json()) == (200, {"success": True})
    (resolved,) = events_named(container, "ViolationResolution.Resolved")
    assert (resolved["violation_id"], resolved["resolver"], resolved["actor"], resolved["notes"]) == \
        (vid, "Dana", ACTOR, "sized by hand")
    settle(container, "violations")
    assert [v["id"] for v in client.get("/admin/status", headers=AUTH).json()["unresolvedViolations"]] == others
    with psycopg.connect(container.database_url) as conn:
        row = conn.execute("SELECT resolved, resolved_at, resolved_by, resolved_actor, resolution_notes"
                           " FROM views.invariant_violations WHERE id = %s", (vid,)).fetchone()
    assert row == (True, NOW + timedelta(minutes=3), "Dana", ACTOR, "sized by hand")
    head = max_notification_id(container.database_url)
    again = client.post(f"/admin/violations/{vid}/resolve", json={"resolver": "erin"}, headers=AUTH)
    assert (again.status_code, again.json()["code"]) == (409, "already_resolved")
    assert max_notification_id(container.database_url) == head
    assert_replay_equals_live(container, "violations")


# ------------------------------------------------------------------------------ market pairs


@pytest.mark.parametrize("body,field", [({}, "reviewer"), ({"reviewer": ""}, "reviewer"),
                                        ({"reviewer": ["x"]}, "reviewer"),
                                        ({"reviewer": "dana", "notes": {}}, "notes")])
def test_approve_pair_when_body_invalid_then_400_and_nothing_recorded(system, body: dict[str, Any],
                                                                     field: str) -> None:
    container, client, _ = system
    pair_id = container.reviews.propose_pair(PairTerms("kalshi", "KXA", "polymarket", "0xa"), "scanner").pair_id
    head = max_notification_id(container.database_url)
    r = client.post(f"/admin/pairs/{pair_id}/approve", json=body, headers=AUTH)
    assert (r.status_code, r.json()["code"], r.json()["fields"]) == (400, "validation_error", [field])
    assert max_notification_id(container.database_url) == head


def test_approve_pair_when_unknown_then_404_and_nothing_recorded(system) -> None:
    container, client, _ = system
    head = max_notification_id(container.database_url)
    r = client.post("/admin/pairs/pair-0000000000000000/approve", json={"reviewer": "dana"}, headers=AUTH)
    assert (r.status_code, r.json()["code"], r.json()["error"]) == (404, "pair_not_found", "Pair not found")
    assert max_notification_id(container.database_url) == head


def test_approve_pair_when_proposed_then_event_with_reviewer_and_actor_and_view_approved(system) -> None:
    container, client, clock = system
    terms = PairTerms("kalshi", "KXFED-26MAR-T4.25", "polymarket", "0xfed", "identical")
    proposal = container.reviews.propose_pair(terms, "scanner")
    settle(container, "market_pairs")
    with psycopg.connect(container.database_url) as conn:
        assert conn.execute("SELECT status FROM views.market_pairs").fetchall() == [("pending_review",)]
    clock.set(NOW + timedelta(hours=1))
    r = client.post(f"/admin/pairs/{proposal.pair_id}/approve", json={"reviewer": "Dana", "notes": "same rule text"},
                    headers=AUTH)
    assert (r.status_code, r.json()) == (200, {"success": True})
    (approved,) = events_named(container, "MarketPair.Approved")
    assert (approved["reviewer"], approved["actor"], approved["notes"]) == ("Dana", ACTOR, "same rule text")
    settle(container, "market_pairs")
    with psycopg.connect(container.database_url) as conn:
        row = conn.execute("SELECT pair_id, status, human_reviewer, human_review_date, human_review_notes,"
                           " reviewed_by_actor, equivalence_grade FROM views.market_pairs").fetchone()
    assert row == (proposal.pair_id, "approved", "Dana", NOW + timedelta(hours=1), "same rule text", ACTOR,
                   "identical")
    head = max_notification_id(container.database_url)
    again = client.post(f"/admin/pairs/{proposal.pair_id}/approve", json={"reviewer": "erin"}, headers=AUTH)
    assert (again.status_code, again.json()["code"]) == (409, "already_approved")
    assert max_notification_id(container.database_url) == head
    assert_replay_equals_live(container, "market_pairs")


def test_strategy_aggregate_when_changed_then_found_again_by_its_id(system) -> None:
    container, client, _ = system
    client.post("/admin/strategies/resolution/status", json={"status": "halted"}, headers=AUTH)
    agg = container.strategies.repository.get(Strategy.create_id("resolution"))
    assert agg.own_status == "halted" and agg.changed_by == ACTOR
