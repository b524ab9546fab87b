"""Two writers on one aggregate at the same moment (ADR 0512), on real PostgreSQL: the second writer loads what the
first has not committed yet, decides, and saves after the first committed. Its command is either run again on the
fresh state (when deciding again is right) or refused with a code; never a traceback, a 500, or a lost write.

The race is made deterministic by ``write_gate``: the first writer's save is held inside its transaction while the
second loads and queues its save."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from paulp.api.cli import app
from paulp.api.exit_jobs import ONE_POSITION, monitor_exits
from paulp.api.order_commands import OrderCommandRefused, cancel_one, replace_one, resolve_drift_one
from paulp.domain.exits import ExitReason
from paulp.domain.ids import order_id as deterministic_id
from paulp.domain.marks import Quotes
from paulp.domain.order_states import OrderState
from paulp.domain.orders import Order
from paulp.domain.position_exits import ExitState, PositionExit
from tests.integration.helpers import NOW
from tests.integration.kalshi_system import AUTH, System, point_cli_at
from tests.integration.write_gate import race

pytestmark = pytest.mark.integration
S = OrderState
TICKER = "KXRACE-CLOSE"
TO_SUBMITTED = (S.VALIDATING, S.VALIDATED, S.RISK_CHECK, S.RISK_APPROVED, S.SUBMITTING, S.SUBMITTED)


@pytest.fixture
def cli(system: System, monkeypatch: pytest.MonkeyPatch) -> System:
    point_cli_at(system, monkeypatch)
    system.container.compliance.seed()
    return system


def _paulp(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def _walk(system: System, sid: str, *targets: OrderState) -> str:
    """A paper order (no venue id) walked through ``targets``, saved and projected; its id."""
    order = Order.create(signal_id=sid, strategy="bonding", ticker="KXRACE-" + sid.upper(), side="YES",
                         requested_size=20, max_price=40, now=NOW, signal_model_probability=0.6, signal_edge=0.1,
                         signal_confidence=0.8)
    for target in targets:
        order.transition(target, "test path", NOW)
    system.container.orders.save(order)
    system.project("orders")
    return order.order_id



def _no_traceback(out: Any) -> None:
    assert out.exception is None or isinstance(out.exception, SystemExit), repr(out.exception)


def test_orders_replace_when_another_operator_replaces_it_first_then_exit_1_already_replaced_and_one_replacement(
        cli: System):
    # Arrange: a price-move-cancelled order; another operator's replace of it is saved, not yet committed
    system = cli
    old = _walk(system, "race-replace", *TO_SUBMITTED, S.PRICE_MOVE_CANCEL)
    # Act: this operator's `paulp orders replace` loads the order as it was and saves after the other committed
    first, out = race(system.container.database_url, lambda: replace_one(system.container, old),
                      lambda: _paulp("orders", "replace", old), "paulp orders replace")
    # Assert: the other operator's replacement stands; this one is refused on the fresh order, exit 1, no traceback
    new_id = deterministic_id("race-replace", "bonding", "KXRACE-RACE-REPLACE", "YES", 20, 40.0, 1)
    assert isinstance(first, Order) and first.order_id == new_id
    _no_traceback(out)
    assert out.exit_code == 1 and f"was already replaced by {new_id}" in out.output, out.output
    assert system.order(old).replaced_by == new_id and system.order(new_id).state == S.PENDING


def test_orders_reconcile_when_another_operator_fixed_it_first_then_exit_1_not_in_drift_and_the_fix_kept(
        cli: System):
    # Arrange: an order in RECONCILIATION_DRIFT
    system = cli
    drifted = _walk(system, "race-drift", *TO_SUBMITTED, S.FILLED, S.RECONCILIATION_DRIFT)
    # Act: two operators mark it fixed at once
    first, out = race(system.container.database_url,
                      lambda: resolve_drift_one(system.container, drifted, "venue checked", "ops-ana"),
                      lambda: _paulp("orders", "reconcile", drifted, "--reason", "checked too",
                                     "--operator", "ops-ben"), "paulp orders reconcile")
    # Assert: the first fix stands; the second operator is told the order is no longer drifted (exit 1)
    assert isinstance(first, Order)
    _no_traceback(out)
    assert out.exit_code == 1 and "is not in RECONCILIATION_DRIFT state" in out.output, out.output
    order = system.order(drifted)
    assert order.state == S.RECONCILED and "ops-ana" in order.history[-1].reason


def test_orders_cancel_when_a_fill_is_recorded_meanwhile_then_cancelled_on_the_fresh_order_and_the_fill_kept(
        cli: System):
    # Arrange: a paper order working in the log (no venue id); a fill of 5 of its 20 contracts is being saved
    system = cli
    working = _walk(system, "race-cancel", *TO_SUBMITTED)

    def fill() -> None:
        order = system.order(working)
        order.record_fill(5, 40.0, NOW)
        system.container.orders.save(order)

    # Act: the operator's cancel loads the order before the fill commits and saves after it
    _, out = race(system.container.database_url, fill,
                  lambda: _paulp("orders", "cancel", working, "--reason", "thesis changed"), "paulp orders cancel")
    # Assert: cancelled on the order as it is now (with its fill), exit 0
    _no_traceback(out)
    assert out.exit_code == 0, out.output
    assert f"{working}: cancelled (state CANCELLED)" in out.output
    order = system.order(working)
    assert order.state == S.CANCELLED and order.filled_size == 5


def test_cancel_outstanding_when_a_fill_is_recorded_meanwhile_then_every_order_cancelled_and_the_fill_kept(
        cli: System):
    # Arrange: two paper orders working in the log; a fill of one is being saved as the rollback starts
    system = cli
    filled_in_part = _walk(system, "race-rollback-a", *TO_SUBMITTED)
    other = _walk(system, "race-rollback-b", *TO_SUBMITTED)

    def fill() -> None:
        order = system.order(filled_in_part)
        order.record_fill(5, 40.0, NOW)
        system.container.orders.save(order)

    # Act: runbook rollback step 3 reads every open order before the fill commits
    _, out = race(system.container.database_url, fill,
                  lambda: _paulp("orders", "cancel-outstanding", "--reason", "rollback", "--yes"),
                  "paulp orders cancel-outstanding")
    # Assert: both cancelled (the first on its fresh state), exit 0, the fill kept
    _no_traceback(out)
    assert out.exit_code == 0, out.output
    assert system.order(filled_in_part).state == S.CANCELLED and system.order(filled_in_part).filled_size == 5
    assert system.order(other).state == S.CANCELLED


def test_cancel_when_another_operator_cancelled_it_first_then_refused_terminal_and_nothing_more_recorded(
        cli: System):
    system = cli
    pending = _walk(system, "race-cancel-twice")
    first, second = race(system.container.database_url,
                         lambda: cancel_one(system.container, pending, "first operator"),
                         lambda: cancel_one(system.container, pending, "second operator"), "the second cancel")
    assert first.outcome == "cancelled"
    assert isinstance(second, OrderCommandRefused) and second.code == "ORDER_TERMINAL", second
    order = system.order(pending)
    assert order.state == S.CANCELLED and order.history[-1].reason == "first operator"


def _decided_paper_exit(system: System, marked_at: datetime = NOW) -> PositionExit:
    """50 YES bought on paper at 43, marked at 44/46 (mid 45, no rule fires), and an operator's close of it decided
    but not carried out (the process that decided it stopped before the paper sale): the monitor carries such an
    exit on at its next run, as does the next close."""
    system.paper_fill("race-close", TICKER)
    system.mark(TICKER, Quotes(44, 46, 54, 56), at=marked_at)
    with psycopg.connect(system.container.database_url) as conn:
        row = conn.execute(ONE_POSITION, ("bonding", TICKER, "YES", "PAPER")).fetchone()
    assert row is not None
    contracts, cost, opened, exits = row[4], row[5], row[6], row[7]
    ex = PositionExit.decide("bonding", TICKER, "YES", opened, exits, contracts, cost / contracts, 45.0,
                             ExitReason.OPERATOR_CLOSE, "PAPER", NOW, "ops-ana", "INC-9: flatten")
    system.container.exits.save(ex)
    return ex


def _paper_sells(system: System) -> int:
    """Paper sales recorded of the position: the exits' ``Filled`` events."""
    return len(system.events("PositionExit.Filled"))


def test_http_close_when_the_exit_monitor_sells_the_same_exit_meanwhile_then_200_filled_and_sold_once(system: System):
    # Arrange: a decided paper exit of the position, which the monitor and the close both carry on
    decided = _decided_paper_exit(system)
    body = {"strategy": "bonding", "ticker": TICKER, "side": "YES", "mode": "PAPER", "reason": "INC-9: flatten now"}
    # Act: the monitor's paper sale is saved, not committed, while the operator's close loads the exit and sells
    report, r = race(system.container.database_url, lambda: monitor_exits(system.container),
                     lambda: system.client.post("/admin/positions/close", json=body, headers=AUTH),
                     "POST /admin/positions/close")
    # Assert: the close answers with the exit the monitor completed (no 500); one paper sale in the log
    assert report["errors"] == [] and [e["state"] for e in report["exits"]] == ["FILLED"], report
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["success"] is True and out["exit"]["state"] == "FILLED" and out["exit"]["contracts"] == 50
    assert out["exit"]["clientOrderId"] == decided.client_order_id
    found = system.container.exits.app.get_or_none(decided.id)
    assert found.state is ExitState.FILLED
    assert _paper_sells(system) == 1


def test_cli_close_when_the_exit_monitor_sells_the_same_exit_meanwhile_then_exit_0_filled_and_sold_once(cli: System):
    system = cli
    marked = datetime.now(UTC)
    decided = _decided_paper_exit(system, marked)  # the CLI judges the mark's age on the system clock
    system.container.clock.set(marked)  # type: ignore[attr-defined]  # and the monitor: a mark after now is stale
    _, out = race(system.container.database_url, lambda: monitor_exits(system.container),
                  lambda: _paulp("positions", "close", "bonding", TICKER, "YES", "--mode", "PAPER",
                                 "--operator", "ops-ben", "--reason", "INC-9: flatten now", "--json"),
                  "paulp positions close")
    _no_traceback(out)
    assert out.exit_code == 0, out.output
    assert '"state": "FILLED"' in out.output and decided.client_order_id in out.output
    assert _paper_sells(system) == 1


# ------------------------------------------------------------------ commands already run again on the fresh state
# Guards (they passed before ADR 0512): the second operator's command loads what the first has not committed, and
# its save's conflict is met by ``retry_on_conflict``, which decides again on the fresh aggregate.


def test_http_breaker_transition_when_a_risk_check_is_recorded_meanwhile_then_200_and_the_count_kept(system: System):
    breaker = system.container.breaker
    _, r = race(system.container.database_url, lambda: breaker.record_risk_check(blocked=True),
                lambda: system.client.post("/admin/circuit-breaker/transition", headers=AUTH,
                                           json={"targetState": "CAUTION", "reason": "manual drill"}),
                "POST /admin/circuit-breaker/transition")
    assert r.status_code == 200, r.text
    assert (r.json()["previousState"], r.json()["newState"]) == ("NORMAL", "CAUTION")
    now = breaker.get()
    assert now.state.value == "CAUTION" and now.consecutive_failures == 1  # the blocked check is not lost


BOB_TOKEN = "bob-admin-token-0123456789abcdef0123"


@pytest.fixture
def two_operators(fresh_db: str, nats_url: str, namespace: str, exchange: Any, key: Any, tmp_path: Any) -> Any:
    """The system with a second operator's token (``bob``) beside the first."""
    from tests.integration.kalshi_system import _system

    yield from _system(fresh_db, nats_url, namespace, exchange, key, tmp_path, ADMIN_TOKENS=f"bob={BOB_TOKEN}")


def test_http_compliance_approve_when_another_operator_approves_it_first_then_409_proposal_closed_and_one_change(
        two_operators: System):
    system = two_operators
    compliance = system.container.compliance
    pid, _ = compliance.propose_status("noaa_cdo", "blocked", "ToS changed", "ToS review", "ops-ana")
    first, r = race(system.container.database_url, lambda: compliance.approve(pid, "ops-carol"),
                    lambda: system.client.post("/admin/compliance/proposals/noaa_cdo%23p1/approve",
                                               headers={"Authorization": f"Bearer {BOB_TOKEN}"}),
                    "POST /admin/compliance/proposals/…/approve")
    assert first[0].status.value == "blocked"
    assert (r.status_code, r.json()["code"]) == (409, "proposal_closed"), r.text  # not "not found" (ADR 0517)
    src = compliance.source("noaa_cdo")
    assert src is not None and src.status.value == "blocked" and list(src.changed_by) == ["ops-ana", "ops-carol"]


def test_cli_risk_limits_approve_when_another_operator_approves_first_then_exit_1_already_approved(
        fresh_db: str, nats_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch):
    from paulp.api.contexts import context
    from paulp.domain.services.operator_limits import RiskLimitsService

    for name, value in (("PAULP_DATABASE_URL", fresh_db), ("PAULP_NATS_URL", nats_url),
                        ("PAULP_NAMESPACE", namespace), ("ENVIRONMENT", "test")):
        monkeypatch.setenv(name, value)
    with context(RiskLimitsService, fresh_db) as limits:
        limits.update({"maxPositionPct": 4}, "ops-dana", "tighten")
        pid, _ = limits.propose({"maxPositionPct": 5}, "ops-dana", "loosen back")
        first, out = race(fresh_db, lambda: limits.approve(pid, "ops-erin", "incident over"),
                          lambda: _paulp("risk", "limits", "approve", pid, "--actor", "ops-finn", "--reason", "over"),
                          "paulp risk limits approve")
        assert first[0] == 2
        _no_traceback(out)
        assert out.exit_code == 1 and "was already approved by ops-erin" in out.output, out.output
        assert limits.current().version == 2


def test_cli_fair_set_when_another_operator_sets_the_same_market_meanwhile_then_both_recorded_and_the_later_counts(
        cli: System):
    system = cli
    fair = system.container.fair_values
    fair.set("KXRACE-FAIR", 0.6, "desk", "first view", "ops-ana", timedelta(hours=24))
    _, out = race(system.container.database_url,
                  lambda: fair.set("KXRACE-FAIR", 0.62, "desk", "second view", "ops-ana", timedelta(hours=24)),
                  lambda: _paulp("fair", "set", "KXRACE-FAIR", "0.7", "--source", "model", "--reason", "third view",
                                 "--actor", "ops-ben"), "paulp fair set")
    _no_traceback(out)
    assert out.exit_code == 0, out.output
    sets = [e for e in system.events("FairValue") if hasattr(e, "probability")]
    assert [e.probability for e in sets] == [0.6, 0.62, 0.7]  # no write lost; the last one counts


# ------------------------------------------------------------------ a conflict on every attempt


def test_retry_on_conflict_when_another_writer_wins_every_attempt_then_write_conflict_with_code_conflict(
        clocked: tuple[Any, Any]):
    from eventsourcing.persistence import IntegrityError

    from paulp.adapters.eventstore.recorder import application_env
    from paulp.domain.fair_values import FairValue
    from paulp.domain.services.base import OCC_ATTEMPTS, WriteConflict
    from paulp.domain.services.fair_values import FairValueService

    container, clock = clocked
    mine = container.fair_values
    other = FairValueService(application_env(container.database_url), clock)  # another process's writer
    try:
        other.set("KXRACE-LOSE", 0.5, "desk", "seed", "ops-ana", timedelta(hours=1))
        attempts = []

        def lose() -> int:
            attempts.append(1)
            value: FairValue = mine.get("KXRACE-LOSE")  # loaded ...
            other.set("KXRACE-LOSE", 0.5, "desk", "again", "ops-ana", timedelta(hours=1))  # ... changed elsewhere ...
            value.set(0.9, "desk", "mine", "ops-ben", clock.now(), clock.now() + timedelta(hours=1))
            return mine.last_notification_id(mine.save(value))  # ... saved on the stale copy

        with pytest.raises(WriteConflict) as raised:
            mine.retry_on_conflict(lose)
    finally:
        other.close()
    assert len(attempts) == OCC_ATTEMPTS
    assert isinstance(raised.value, IntegrityError) and raised.value.code == "conflict"
    assert isinstance(raised.value.__cause__, IntegrityError)
    found = mine.get("KXRACE-LOSE")
    assert found is not None and found.probability == 0.5  # the other writer's values stand, none of mine
