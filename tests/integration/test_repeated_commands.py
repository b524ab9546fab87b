"""A command sent again acts once (ADR 0517): an operator's client retries a request whose answer was lost (the first
*was* processed), or sends it twice at once; a cron wrapper runs a CLI command again. Each repeat here is answered
like the first (200, saying it was done already) or refused with a 409 code, and never acts a second time: no second
order at Kalshi, no second go-live, signoff, proposal or budget reset.

One system for the module (real PostgreSQL and NATS, the loopback Kalshi exchange, which counts the orders it was
sent); no projector runs unless a test starts one, so a view shows what a test projected, as a view lags its log in
production. Each test uses its own markets, strategies, sources or phases."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner

from paulp.api.cli import app as paulp
from paulp.domain.gates import GateResult
from paulp.domain.golive import GoLiveApproval
from paulp.domain.marks import Quotes
from tests.fakes.kalshi_exchange import FakeKalshiExchange
from tests.integration.helpers import NOW
from tests.integration.kalshi_system import KEY_ID, System, _system, add_bond_markets, point_cli_at
from tests.integration.write_gate import race
from tests.support.seeding import seed_executor_modes

pytestmark = pytest.mark.integration
ALICE, BOB = "alice-admin-token-0123456789abcdef01", "bob-admin-token-0123456789abcdef0123"
AS_ALICE, AS_BOB = {"Authorization": f"Bearer {ALICE}"}, {"Authorization": f"Bearer {BOB}"}
BONDS = tuple(f"KXREPEAT-26MAR-B{i}" for i in range(5))  # five equal bonds: the barbell's five slots (ADR 0163)


@pytest.fixture(scope="module")
def system(module_db: str, module_nats: str, module_ns: str, key: rsa.RSAPrivateKey,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with FakeKalshiExchange(key.public_key(), KEY_ID) as exchange:
        yield from _system(module_db, module_nats, module_ns, exchange, key, tmp_path_factory.mktemp("repeat"),
                           ADMIN_TOKENS=f"alice={ALICE},bob={BOB}")


@pytest.fixture(autouse=True)
def _clock_at_now(system: System) -> None:
    system.container.clock.set(NOW)  # type: ignore[attr-defined]


def _buys(system: System) -> int:
    """Orders Kalshi was sent to buy."""
    return sum(1 for r in system.exchange.requests
               if r.method == "POST" and r.path.endswith("/portfolio/orders") and b'"buy"' in r.body)


def _events_of(system: System, topic_part: str, originator: UUID) -> list[Any]:
    return [e for e in system.events(topic_part) if e.originator_id == originator]


def _cli(system: System, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    point_cli_at(system, monkeypatch)
    out = CliRunner().invoke(paulp, list(args))
    assert out.exception is None or isinstance(out.exception, SystemExit), repr(out.exception)
    return out


# ------------------------------------------------------------------ closing a position: one sell, the same answer


def test_close_sent_again_after_the_sale_was_projected_then_200_the_same_exit_and_one_sell(
        system: System, monkeypatch: pytest.MonkeyPatch):
    # Arrange: 50 LIVE contracts bought at Kalshi, marked; an operator closes them
    ticker, _ = system.live_fill("repeat-close", size=50)
    m = system.exchange.markets[ticker]
    system.project()
    system.mark(ticker, Quotes(m["yes_bid"], m["yes_ask"], 100 - m["yes_ask"], 100 - m["yes_bid"]))
    body = {"strategy": "bonding", "ticker": ticker, "side": "YES", "mode": "LIVE", "reason": "INC-9: flatten"}
    first = system.client.post("/admin/positions/close", json=body, headers=AS_ALICE)
    assert first.status_code == 200 and first.json()["exit"]["state"] == "FILLED", first.text
    system.project()  # the position view now shows it sold out
    # Act: the client sends the close again; the CLI runs the same close
    again = system.client.post("/admin/positions/close", json=body, headers=AS_ALICE)
    out = _cli(system, monkeypatch, "positions", "close", "bonding", ticker, "YES", "--mode", "LIVE",
               "--operator", "ops-ana", "--reason", "INC-9: flatten")
    # Assert: the exit that sold it, said so; one sell at Kalshi
    assert again.status_code == 200, again.text
    assert (again.json()["exit"], again.json()["alreadyClosed"]) == (first.json()["exit"], True)
    assert out.exit_code == 0 and "already closed, nothing sent" in out.output, out.output
    assert len(system.sells()) == 1


# ------------------------------------------------------------------ the scan: no order made twice


def test_scan_triggered_again_before_the_orders_view_caught_up_then_no_order_twice_and_kalshi_sent_each_once(
        system: System):
    # Arrange: an hour later (bonding's order throttle clear of the close's orders); bonding LIVE; five bonds with a
    # fair value above their price
    start = NOW + timedelta(hours=1)
    system.container.clock.set(start)  # type: ignore[attr-defined]
    seed_executor_modes(system.container, {"kalshi": {"bonding": "LIVE"}})
    add_bond_markets(system, BONDS)
    for ticker in BONDS:
        system.container.fair_values.set(ticker, 0.99, "desk research", "settles on a published figure", "ops-dana",
                                         timedelta(hours=24))
    head, buys = system.head(), _buys(system)
    first = system.client.post("/admin/orchestrator/trigger/scan", headers=AS_ALICE)
    assert first.status_code == 200 and first.json()["result"]["ordersCreated"] == 5, first.text
    # Act: the operator's client timed out and sends the trigger again, 30 s later; the orders view has not applied
    # the first run's orders yet (it follows the log through the relay and its projector)
    system.container.clock.set(start + timedelta(seconds=30))  # type: ignore[attr-defined]
    again = system.client.post("/admin/orchestrator/trigger/scan", headers=AS_ALICE)
    # Assert: the second run makes no order; each market has one, and Kalshi is sent one buy per market
    assert again.status_code == 200 and again.json()["result"]["ordersCreated"] == 0, again.text
    created = [e for e in system.events("Order.Created", head) if e.strategy == "bonding"]
    assert sorted(e.ticker for e in created) == sorted(BONDS)
    system.project("orders")
    executed = system.client.post("/admin/orchestrator/trigger/execute", headers=AS_ALICE)
    assert executed.status_code == 200 and len(executed.json()["result"]["executed"]) == 5, executed.text
    assert _buys(system) - buys == 5


# ------------------------------------------------------------------ go-live: one WentLive


def _phase4_signed(system: System) -> None:
    """An unforced, passed phase-4 signoff in the view: the go-live gate (the go-live's subject is not the gate)."""
    if system.container.gates.phase_log(4) is None:
        result = GateResult(phase=4, target_phase=4, checked_at=NOW.isoformat(), checked_by="token:carol")
        system.container.gates.sign_off(result, "token:carol", "phase4-for-go-live", "gate passed", False)
    system.project("gate_signoffs")


GO_LIVE = {"approver": "Alice Archer", "secondApprover": "Bob Baker", "capitalAllocationUsd": 300}


def test_go_live_confirmation_sent_again_then_200_the_same_go_live_and_no_second_went_live(system: System):
    # Arrange: alice opens the go-live of weather, bob confirms it; bob's answer is lost
    _phase4_signed(system)
    opened = system.client.post("/admin/strategies/weather/go-live", headers=AS_ALICE, json=GO_LIVE)
    assert opened.status_code == 202, opened.text
    confirmed = system.client.post("/admin/strategies/weather/go-live", headers=AS_BOB, json=GO_LIVE)
    assert confirmed.status_code == 200, confirmed.text
    # Act: bob's client sends the confirmation again; alice's client, whose first answer was lost too, sends hers
    bob_again = system.client.post("/admin/strategies/weather/go-live", headers=AS_BOB, json=GO_LIVE)
    alice_again = system.client.post("/admin/strategies/weather/go-live", headers=AS_ALICE, json=GO_LIVE)
    # Assert: both are answered with the go-live that happened; one WentLive, no second request opened
    for r in (bob_again, alice_again):
        assert r.status_code == 200, r.text
        assert r.json() == {**confirmed.json(), "duplicate": True}
    approval = GoLiveApproval.create_id("weather")
    kinds = [type(e).__qualname__ for e in _events_of(system, "GoLiveApproval", approval)]
    assert kinds == ["GoLiveApproval.Created", "GoLiveApproval.Requested", "GoLiveApproval.WentLive"]


def test_go_live_confirmed_twice_at_once_then_one_went_live_and_both_answered_live(system: System):
    # Arrange: alice opened the go-live of xv_signal
    _phase4_signed(system)
    terms = {**GO_LIVE, "capitalAllocationUsd": 150}
    assert system.client.post("/admin/strategies/xv_signal/go-live", headers=AS_ALICE, json=terms).status_code == 202
    # Act: bob's client sends the confirmation twice at once; the second loads the request before the first commits
    first, second = race(system.container.database_url,
                         lambda: system.client.post("/admin/strategies/xv_signal/go-live", headers=AS_BOB, json=terms),
                         lambda: system.client.post("/admin/strategies/xv_signal/go-live", headers=AS_BOB, json=terms),
                         "the second confirmation")
    # Assert
    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    assert second.json() == {**first.json(), "duplicate": True}
    approval = GoLiveApproval.create_id("xv_signal")
    assert len(_events_of(system, "GoLiveApproval.WentLive", approval)) == 1
    assert len(_events_of(system, "GoLiveApproval.Requested", approval)) == 1


# ------------------------------------------------------------------ gate signoff: one signoff


@contextmanager
def _projecting(system: System, name: str) -> Iterator[None]:
    """The projection applied in the background, as ``paulp up``'s projector does (a signoff waits for its view)."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(0.05):
            system.project(name)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def test_gate_signoff_sent_again_then_200_the_same_signoff_and_one_recorded(system: System):
    body = {"force": True, "notes": "drill: sign phase 1 despite its criteria"}
    with _projecting(system, "gate_signoffs"):
        first = system.client.post("/admin/gates/signoff/1", headers=AS_ALICE, json=body)
        assert first.status_code == 200, first.text
        again = system.client.post("/admin/gates/signoff/1", headers=AS_ALICE, json=body)
        assert again.status_code == 200, again.text
        assert again.json() == {**first.json(), "duplicate": True}
        log = system.container.gates.phase_log(1)
        assert log is not None and len(log.signoffs) == 1
        other = system.client.post("/admin/gates/signoff/1", headers=AS_ALICE, json={**body, "notes": "second drill"})
    assert other.status_code == 200 and "duplicate" not in other.json()  # other notes: a new signoff
    assert len(system.container.gates.phase_log(1).signoffs) == 2  # type: ignore[union-attr]


# ------------------------------------------------------------------ compliance: a closed proposal is 409


def test_compliance_approve_or_reject_sent_again_then_409_proposal_closed_and_nothing_recorded(system: System):
    # Arrange: alice proposes fred_api under review; bob approves it; his answer is lost
    proposed = system.client.post("/admin/compliance/sources/fred_api/status", headers=AS_ALICE,
                                  json={"status": "under_review", "reason": "terms changed"})
    assert proposed.status_code == 202, proposed.text
    pid = proposed.json()["proposalId"]
    url = f"/admin/compliance/proposals/{pid.replace('#', '%23')}"
    assert system.client.post(f"{url}/approve", headers=AS_BOB).status_code == 200
    system.project("compliance")
    head = system.head()
    # Act: bob's client approves again; alice's reject (sent before she saw the approval) arrives too
    again = system.client.post(f"{url}/approve", headers=AS_BOB)
    late_reject = system.client.post(f"{url}/reject", headers=AS_ALICE, json={"reason": "not needed"})
    # Assert: a clear 409 naming the outcome, not "not found"; nothing recorded
    assert (again.status_code, again.json()["code"]) == (409, "proposal_closed"), again.text
    assert (again.json()["outcome"], again.json()["closedBy"]) == ("approved", "token:bob")
    assert (late_reject.status_code, late_reject.json()["code"]) == (409, "proposal_closed"), late_reject.text
    assert system.head() == head
    unknown = system.client.post("/admin/compliance/proposals/fred_api%23p9/approve", headers=AS_BOB)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "proposal_not_found")


# ------------------------------------------------------------------ risk limits: one proposal


def test_risk_limits_propose_run_again_then_the_waiting_proposal_and_one_recorded(system: System,
                                                                                  monkeypatch: pytest.MonkeyPatch):
    args = ("risk", "limits", "propose", "maxVpin=0.75", "--actor", "ops-dana", "--reason", "thin books")
    first = _cli(system, monkeypatch, *args)
    assert first.exit_code == 0 and "proposal P1 recorded" in first.output, first.output
    again = _cli(system, monkeypatch, *args)  # the cron wrapper runs it again
    assert again.exit_code == 0, again.output
    assert "proposal P1 already waits" in " ".join(again.output.split()), again.output
    shown = json.loads(_cli(system, monkeypatch, "risk", "limits", "show", "--json").output)
    assert [p["id"] for p in shown["pendingProposals"]] == ["P1"]
    assert [type(e).__qualname__ for e in system.events("RiskLimitSettings.LooseningProposed")] == [
        "RiskLimitSettings.LooseningProposed"]


# ------------------------------------------------------------------ budget reset: one reset


def test_budget_reset_sent_again_then_200_said_so_and_one_reset(system: System):
    body = {"category": "governance_audit", "periodType": "daily", "reason": "INC-77 provider refunded"}
    first = system.client.post("/admin/routing/budget/reset", headers=AS_ALICE, json=body)
    assert first.status_code == 200 and "duplicate" not in first.json(), first.text
    again = system.client.post("/admin/routing/budget/reset", headers=AS_ALICE, json=body)
    assert again.status_code == 200 and again.json() == {**first.json(), "duplicate": True}, again.text
    assert len(system.events("BudgetPeriodLedger.UsageReset")) == 1
    other = system.client.post("/admin/routing/budget/reset", headers=AS_ALICE, json={**body, "reason": "INC-78"})
    assert other.status_code == 200 and "duplicate" not in other.json()  # another reason: another reset
    assert len(system.events("BudgetPeriodLedger.UsageReset")) == 2


# ------------------------------------------------------------------ withdrawing a correlation: 200, said so


def test_correlation_withdrawn_again_then_200_already_withdrawn_and_nothing_recorded(system: System):
    pair = {"marketId": "KXREPEAT-A", "relatedMarketId": "KXREPEAT-B", "type": "same_series", "reason": "one release"}
    assert system.client.post("/admin/risk/correlations", headers=AS_ALICE, json=pair).status_code == 200
    gone = system.client.request("DELETE", "/admin/risk/correlations", headers=AS_ALICE, json=pair)
    assert gone.status_code == 200 and "alreadyWithdrawn" not in gone.json()
    head = system.head()
    again = system.client.request("DELETE", "/admin/risk/correlations", headers=AS_ALICE, json=pair)
    assert again.status_code == 200 and again.json() == {"success": True, "notificationId": 0,
                                                         "alreadyWithdrawn": True}, again.text
    assert system.head() == head
