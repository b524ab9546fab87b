"""Operator fair values on real PostgreSQL + NATS (ADR 0277): the scan against the loopback Kalshi exchange
signals bonds only on markets whose fair value is current (read from the log, not the view), and
``paulp fair`` (run in-process) stores good input, refuses bad input with exit 2, and lists the view."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from paulp.adapters.migrate import migrate
from paulp.adapters.projector import catch_up_from_log
from paulp.api.cli import app
from paulp.api.signal_jobs import catalogue_facts, create_orders
from paulp.domain.execution_policy import ExecutionMode
from paulp.domain.fair_values import FairValue
from paulp.domain.strategies.bonding_signals import BondingSignal
from tests.integration.helpers import NOW, assert_live_equals_replay, make_container, max_notification_id
from tests.integration.kalshi_system import AUTH, System, add_bond_markets

pytestmark = pytest.mark.integration

BONDS = tuple(f"KXFAIR-26MAR-B{i}" for i in range(5))  # five equal bonds: HHI 0.2 <= 0.25 (ADR 0163)


def add_bonds(system: System) -> None:
    add_bond_markets(system, BONDS)


def scan(system: System) -> tuple[dict[str, Any], list[Any]]:
    head = system.head()
    r = system.client.post("/admin/orchestrator/trigger/scan", headers=AUTH)
    assert r.status_code == 200, r.text
    [bonding] = [row for row in r.json()["result"]["strategies"] if row["strategy"] == "bonding"]
    return bonding, [e for e in system.events("Order.Created", head) if e.strategy == "bonding"]


def test_scan_when_fair_values_current_then_bond_orders_only_on_those_markets(system: System):
    add_bonds(system)
    svc, clock = system.container.fair_values, system.container.clock
    bonding, created = scan(system)
    assert (bonding["signalCount"], bonding["ordersCreated"], created) == (0, 0, [])  # no fair values, no bonds

    clock.set(NOW - timedelta(days=2))  # type: ignore[attr-defined]
    svc.set(BONDS[3], 0.99, "desk research", "old view", "ops-dana", timedelta(hours=24))  # expired by NOW
    clock.set(NOW)  # type: ignore[attr-defined]
    for ticker in BONDS[:3] + BONDS[4:]:
        svc.set(ticker, 0.99, "desk research", "settles on a published figure", "ops-dana", timedelta(hours=24))
    svc.withdraw(BONDS[4], "ops-erin", "figure revised")
    with psycopg.connect(system.container.database_url) as conn:  # no projector ran: the scan reads the log
        assert conn.execute("SELECT count(*) FROM views.fair_values").fetchone() == (0,)

    bonding, created = scan(system)
    assert sorted(e.ticker for e in created) == list(BONDS[:3]), "expired and withdrawn values must not count"
    assert bonding["signalCount"] == bonding["ordersCreated"] == 3
    # A barbell slot is 90 USD (20 % of the 450 USD bond bucket), capped at bonding's largest position
    # (§5.7: 5 % of 500 USD = 25 USD, I1's limit): floor(25 / 0.96) = 26 contracts (ADR 0288).
    assert {(e.side, e.max_price, e.requested_size, e.signal_model_probability) for e in created} == {
        ("YES", 96, 26, 0.99)}
    assert {round(e.signal_edge, 6) for e in created} == {0.035}  # §6.3: fair 0.99 - mid price 0.955, a fraction
    assert system.container.execution_mode("bonding") is ExecutionMode.PAPER

    # Sized to fit, the bonds pass the risk governor and fill; the breaker is untouched (three I1 refusals in
    # a row would have put it in HALT).
    system.project("orders")
    r = system.client.post("/admin/orchestrator/trigger/execute", headers=AUTH)
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    assert (result["processed"], result["rejected"]) == (3, []), result
    assert set(result["executed"]) == {e.order_id for e in created}
    assert system.container.breaker.get().state.value == "NORMAL"



def test_scan_when_breaker_in_caution_then_bonds_sized_to_the_halved_limit_and_fill(system: System):
    """CAUTION halves I1's 5 % (§2.1): orders sized to the unscaled 5 % were all refused by I1, and three
    refusals in a row put the breaker in HALT; a loss that tripped CAUTION then halted trading by itself."""
    add_bonds(system)
    for ticker in BONDS[:3]:
        system.container.fair_values.set(ticker, 0.99, "desk research", "published figure", "ops-dana",
                                         timedelta(hours=24))
    assert system.container.breaker.transition("CAUTION", "drawdown drill", "ops-dana").new_state.value == "CAUTION"
    bonding, created = scan(system)
    assert bonding["ordersCreated"] == 3
    # 2.5 % of bonding's 500 USD = 12.50 USD: floor(12.50 / 0.96) = 13 contracts.
    assert {(e.max_price, e.requested_size) for e in created} == {(96, 13)}
    system.project("orders")
    r = system.client.post("/admin/orchestrator/trigger/execute", headers=AUTH)
    assert r.status_code == 200, r.text
    assert (r.json()["result"]["processed"], r.json()["result"]["rejected"]) == (3, []), r.json()
    assert system.container.breaker.get().state.value == "CAUTION"


def test_scan_when_book_full_then_no_order_is_created_to_be_refused_and_trading_goes_on(system: System):
    """Five bonds filled (about 25 USD each, all economics) leave no room under I2 (10 % of bonding's 500 USD
    per market) or I4 (30 % per category) for a second round on the same markets. Created, the five orders
    were refused one after another, and three refusals in a row put the breaker in HALT."""
    add_bonds(system)
    for ticker in BONDS:
        system.container.fair_values.set(ticker, 0.99, "desk research", "published figure", "ops-dana",
                                         timedelta(hours=24))
    scan(system)
    system.project("orders")
    r = system.client.post("/admin/orchestrator/trigger/execute", headers=AUTH)
    assert (r.json()["result"]["processed"], r.json()["result"]["rejected"]) == (5, []), r.json()
    system.project("orders")  # the orders projection keeps views.positions too

    system.container.clock.set(NOW + timedelta(minutes=10))  # type: ignore[attr-defined]
    bonding, created = scan(system)
    assert (bonding["signalCount"], bonding["ordersCreated"], created) == (5, 0, [])
    assert bonding["skippedAtRiskLimits"] == {"I2_MAX_PORTFOLIO_CONCENTRATION": 5, "I4_MAX_CATEGORY_EXPOSURE": 5}
    system.project("orders")
    r = system.client.post("/admin/orchestrator/trigger/execute", headers=AUTH)
    assert (r.json()["result"]["processed"], r.json()["result"]["rejected"]) == (0, []), r.json()
    assert system.container.breaker.get().state.value == "NORMAL"


def test_create_orders_counts_the_orders_of_its_own_scan_against_the_category_limit(system: System):
    """Eight 24.96 USD bonds in one category: six fit under I4's 150 USD (149.76), the seventh and eighth
    would break it once the first six fill, so they are left out rather than created and refused."""
    at = NOW
    signals = [BondingSignal(signal_id=f"sig-cat-{i}", market_id=f"KXCAT-26MAR-B{i}", signal_type="bond",
                             tail_type=None, target_size=90.0, kelly_fraction=0.2, expected_edge=0.03,
                             market_price=0.96, fair_probability=0.99, confidence=0.9, created_at=at,
                             expires_at=at + timedelta(hours=1)) for i in range(8)]
    markets = catalogue_facts([{"ticker": s.market_id, "status": "active", "category": "economics",
                                "close_time": "2026-03-20T00:00:00Z"} for s in signals], at)
    created, skipped = create_orders(system.container, "bonding", signals, at, markets)
    assert (created, dict(skipped)) == (6, {"I4_MAX_CATEGORY_EXPOSURE": 2})
    made = system.events("Order.Created")
    assert sorted(e.ticker for e in made) == [f"KXCAT-26MAR-B{i}" for i in range(6)]
    assert {e.requested_size for e in made} == {26}



def test_scan_when_a_bond_settles_within_a_day_then_no_order_is_created_for_it(system: System):
    """I11 refuses a market settling within 24 h (§3.2), and nothing in the bond filter (§6.1) looks at the
    settlement date: near-certain markets are often the ones about to close. Created, each such order was
    refused, and three of them in a row put the breaker in HALT."""
    add_bonds(system)
    for ticker in BONDS:
        system.container.fair_values.set(ticker, 0.99, "desk research", "published figure", "ops-dana",
                                         timedelta(hours=24))
    for ticker in BONDS[:3]:
        system.exchange.markets[ticker]["close_time"] = "2026-03-03T03:00:00Z"  # NOW + 12 h
    bonding, created = scan(system)
    assert sorted(e.ticker for e in created) == list(BONDS[3:])
    assert bonding["skippedAtRiskLimits"] == {"I11_MIN_TIME_TO_SETTLEMENT": 3}
    system.project("orders")
    r = system.client.post("/admin/orchestrator/trigger/execute", headers=AUTH)
    assert (r.json()["result"]["processed"], r.json()["result"]["rejected"]) == (2, []), r.json()
    assert system.container.breaker.get().state.value == "NORMAL"


def test_scan_when_breaker_halted_then_no_order_and_the_row_says_why(system: System):
    add_bonds(system)
    for ticker in BONDS:
        system.container.fair_values.set(ticker, 0.99, "desk research", "published figure", "ops-dana",
                                         timedelta(hours=24))
    assert system.container.breaker.trip("drill", "ops-dana")
    bonding, created = scan(system)
    assert (bonding["signalCount"], bonding["ordersCreated"], created) == (5, 0, [])
    assert bonding["skippedAtRiskLimits"] == {"I16_CIRCUIT_BREAKER_STATE": 5}

@pytest.fixture
def cli(fresh_db: str, nats_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in (("ENVIRONMENT", "test"), ("PAULP_DATABASE_URL", fresh_db), ("PAULP_NATS_URL", nats_url),
                        ("PAULP_NAMESPACE", namespace)):
        monkeypatch.setenv(name, value)  # the CLI, run in-process, resolves the same services
    monkeypatch.setenv("COLUMNS", "200")
    migrate(fresh_db)  # so "nothing stored" is read from a log that exists
    yield fresh_db


def fair(*args: str) -> Any:
    return CliRunner().invoke(app, ["fair", *args])


def fair_events(db: str) -> list[str]:
    with psycopg.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT topic FROM paulp_events WHERE topic LIKE %s ORDER BY"
                                           " notification_id", ("%FairValue%",)).fetchall()]


GOOD = ["--source", "desk research", "--reason", "published figure", "--actor", "ops-dana"]


BAD_SET = [  # one database for all cases: each is refused before anything is stored
    (["KX-A", "1.0", *GOOD], "strictly between 0 and 1"),
    (["KX-A", "0", *GOOD], "strictly between 0 and 1"),
    (["KX-A", "nan", *GOOD], "strictly between 0 and 1"),
    (["KX-A", "0.9", *GOOD, "--valid-for", "8d"], "at most 7 days"),
    (["KX-A", "0.9", *GOOD, "--valid-for", "0h"], "not after now"),
    (["KX-A", "0.9", *GOOD, "--valid-for", "tomorrow"], "--valid-for"),
    (["kx-a", "0.9", *GOOD], "ticker"),
    (["KX-A", "0.9", "--source", "desk", "--reason", "why", "--actor", "  "], "actor required"),
    (["KX-A", "0.9", "--source", "desk", "--reason", " ", "--actor", "ops"], "reason required"),
    (["KX-A", "0.9", "--source", "", "--reason", "why", "--actor", "ops"], "source required"),
]


def test_fair_set_when_input_bad_then_exit_2_with_reason_and_nothing_stored(cli: str):
    for args, message in BAD_SET:
        out = fair("set", *args)
        assert (out.exit_code, message in " ".join(out.output.split())) == (2, True), (args, out.output)
    assert fair_events(cli) == []


def test_fair_cli_when_set_withdrawn_and_listed_then_log_view_and_rebuild_agree(cli: str, nats_url: str,
                                                                                namespace: str):
    assert fair("set", "KXFAIR-A", "0.97", *GOOD).exit_code == 0
    out = fair("set", "KXFAIR-B", "0.95", *GOOD, "--valid-for", "90m")
    assert out.exit_code == 0 and "KXFAIR-B set to 0.95 until" in out.output, out.output
    assert fair("set", "KXFAIR-A", "0.98", *GOOD).exit_code == 0  # a correction is a new Set
    out = fair("withdraw", "KXFAIR-B", "--actor", "ops-erin", "--reason", "figure revised")
    assert out.exit_code == 0 and "KXFAIR-B withdrawn" in out.output, out.output
    again = fair("withdraw", "KXFAIR-B", "--actor", "ops-erin", "--reason", "again")
    never = fair("withdraw", "KXFAIR-Z", "--actor", "ops-erin", "--reason", "never set")
    assert (again.exit_code, never.exit_code) == (2, 2) and "no current fair value" in again.output
    assert "no fair value was ever set for KXFAIR-Z" in never.output
    assert [t.rsplit(".", 1)[-1] for t in fair_events(cli)] == [
        "Registered", "Set", "Registered", "Set", "Set", "Withdrawn"]

    container = make_container(cli, nats_url, namespace)
    try:
        with psycopg.connect(cli, autocommit=True) as conn:
            catch_up_from_log(conn, container.projections["fair_values"])
        current = json.loads(fair("list", "--json").output)
        everything = json.loads(fair("list", "--all", "--json").output)
        assert [(r["ticker"], r["probability"], r["status"], r["version"]) for r in current] == [
            ("KXFAIR-A", 0.98, "current", 3)]
        assert [(r["ticker"], r["status"], r["withdrawnBy"], r["withdrawReason"]) for r in everything] == [
            ("KXFAIR-A", "current", None, None), ("KXFAIR-B", "withdrawn", "ops-erin", "figure revised")]
        assert (current[0]["source"], current[0]["actor"]) == ("desk research", "ops-dana")
        assert fair("list").exit_code == 0
        rebuilt = CliRunner().invoke(app, ["rebuild", "--projection", "fair_values", "--yes"])
        assert rebuilt.exit_code == 0, rebuilt.output
        assert_live_equals_replay(container, "fair_values")
        assert container.fair_values.current(["KXFAIR-A", "KXFAIR-B"], container.clock.now()) == {"KXFAIR-A": 0.98}
        assert FairValue.create_id("KXFAIR-A") == container.fair_values.get("KXFAIR-A").id  # type: ignore[union-attr]
        assert max_notification_id(cli) > 0
    finally:
        container.close()
