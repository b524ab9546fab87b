"""``paulp orders cancel`` and ``paulp orders replace`` (trading §1.4 step 11, §1.5; ADR 0383) through the CLI,
on real PostgreSQL + NATS with the loopback Kalshi exchange: one order cancelled at Kalshi (or in the log when it
is not there), terminal and mid-step orders refused with the spec's messages and nothing recorded; a closed,
unfilled order replaced by a new one with the resubmit number in its id, linked both ways, up to max_resubmits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from paulp.api.cli import app
from paulp.api.order_timers_job import run_order_timers
from paulp.api.signal_jobs import execute_pending
from paulp.domain.ids import order_id as deterministic_id
from paulp.domain.order_states import OrderState
from paulp.domain.orders import Order
from tests.integration.helpers import NOW
from tests.integration.kalshi_system import System, point_cli_at, resting_live_order

pytestmark = pytest.mark.integration
S = OrderState


@pytest.fixture
def cli(system: System, monkeypatch: pytest.MonkeyPatch) -> System:
    """The CLI pointed at the system's database, NATS, namespace, evidence folder and Kalshi (with credentials)."""
    point_cli_at(system, monkeypatch)
    system.container.compliance.seed()
    return system


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, ["orders", *args])



def _deletes(system: System) -> int:
    return [r.method for r in system.exchange.requests].count("DELETE")


def _walk(system: System, sid: str, *targets: OrderState, resubmit_count: int = 0, price: int = 40) -> str:
    """A paper order (no venue id) walked through ``targets``, saved; its id."""
    order = Order.create(signal_id=sid, strategy="bonding", ticker="KXCMD-" + sid.upper(), side="YES",
                         requested_size=20, max_price=price, now=NOW, signal_model_probability=0.6, signal_edge=0.1,
                         signal_confidence=0.8, resubmit_count=resubmit_count)
    for target in targets:
        order.transition(target, "test path", NOW)
    system.container.orders.save(order)
    system.project("orders")
    return order.order_id


TO_SUBMITTED = (S.VALIDATING, S.VALIDATED, S.RISK_CHECK, S.RISK_APPROVED, S.SUBMITTING, S.SUBMITTED)


def test_cancel_when_live_order_rests_at_kalshi_then_cancelled_there_and_a_second_cancel_refused(cli: System):
    # Arrange
    system = cli
    _, order_id = resting_live_order(system, "cmd-live")
    # Act
    out = _run("cancel", order_id, "--reason", "operator: thesis changed")
    # Assert: cancelled at Kalshi first, then in the log, with the operator's reason
    assert out.exit_code == 0, out.output
    assert f"{order_id}: cancelled_at_venue (state CANCELLED)" in out.output
    order = system.order(order_id)
    assert order.state == S.CANCELLED and order.history[-1].reason == "operator: thesis changed"
    assert _deletes(system) == 1
    # a terminal order: refused with the spec's message, exit 1, nothing recorded or sent
    head = system.head()
    again = _run("cancel", order_id, "--reason", "again")
    assert again.exit_code == 1 and "Order is in terminal state: CANCELLED" in again.output
    assert system.head() == head and _deletes(system) == 1


def test_cancel_when_order_not_at_a_venue_then_cancelled_in_the_log_without_kalshi(cli: System):
    system = cli
    pending = _walk(system, "cmd-pending")
    working = _walk(system, "cmd-paper", *TO_SUBMITTED)
    for order_id in (pending, working):
        out = _run("cancel", order_id, "--reason", "drill")
        assert out.exit_code == 0, out.output
        assert f"{order_id}: cancelled (state CANCELLED)" in out.output
    assert system.exchange.requests == []


@pytest.mark.parametrize(("targets", "message"), [
    ((S.VALIDATING, S.VALIDATED, S.RISK_CHECK), "Order is not cancellable from this state: RISK_CHECK"),
    ((S.VALIDATING, S.REJECTED), "Order is in terminal state: REJECTED"),
    ((*TO_SUBMITTED, S.PRICE_MOVE_CANCEL), "Order is in terminal state: PRICE_MOVE_CANCEL"),
])
def test_cancel_when_terminal_or_mid_step_then_refused_exit_1_and_nothing_recorded(
        cli: System, targets: tuple[OrderState, ...], message: str):
    order_id = _walk(cli, "cmd-refused", *targets)
    head = cli.head()
    out = _run("cancel", order_id, "--reason", "drill")
    assert out.exit_code == 1 and message in out.output
    assert cli.head() == head and cli.order(order_id).state == targets[-1]


def test_cancel_when_bad_input_then_exit_2_or_1_and_nothing_recorded(cli: System):
    order_id = _walk(cli, "cmd-bad")
    head = cli.head()
    blank = _run("cancel", order_id, "--reason", "   ")
    assert blank.exit_code == 2 and "--reason must not be blank" in blank.output
    missing = _run("cancel", order_id)
    assert missing.exit_code == 2
    unknown = _run("cancel", "order-0000000000000000", "--reason", "drill")
    assert unknown.exit_code == 1 and "no order 'order-0000000000000000'" in unknown.output
    assert cli.head() == head and cli.order(order_id).state == S.PENDING


def test_replace_when_price_move_cancelled_then_new_order_linked_both_ways_and_executed_at_the_new_limit(
        cli: System):
    # Arrange: a paper order of 50 (>= $10, <= 5 % of capital) resting 5 cents under the market is price-move
    # cancelled by the timers
    system = cli
    ticker = system.tradable_ticker()
    m = system.exchange.markets[ticker]
    later = (NOW + timedelta(days=5)).isoformat().replace("+00:00", "Z")
    m.update(close_time=later, expected_expiration_time=later, volume_24h=50_000)
    ask = m["yes_ask"]
    old = Order.create(signal_id="cmd-replace", strategy="bonding", ticker=ticker, side="YES", requested_size=50,
                       max_price=ask - 5, now=NOW, signal_model_probability=0.6, signal_edge=0.1,
                       signal_confidence=0.8)
    for target in TO_SUBMITTED:
        old.transition(target, "test path", NOW)
    system.container.orders.save(old)
    system.container.clock.set(NOW + timedelta(seconds=60))  # type: ignore[attr-defined]
    system.project("orders")
    assert run_order_timers(system.container)["priceMoveCancelled"] == 1
    # Act: the operator replaces it at the market's ask
    out = _run("replace", old.order_id, "--max-price", str(ask))
    # Assert: a new PENDING order for the remainder, resubmit #1 in its deterministic id, linked both ways
    assert out.exit_code == 0, out.output
    new_id = deterministic_id("cmd-replace", "bonding", ticker, "YES", 50, float(ask), 1)
    assert f"{old.order_id} replaced by {new_id} (resubmit #1, 50 contracts at {ask}¢, PENDING)" in out.output
    new = system.order(new_id)
    assert (new.state, new.resubmit_count, new.replaces_order_id, new.max_price) == (
        S.PENDING, 1, old.order_id, ask)
    assert system.order(old.order_id).replaced_by == new_id
    # the execute step takes it like any order: validated, risk-checked, sent (paper: filled at the ask)
    system.project("orders")
    done = execute_pending(system.container)
    assert new_id in done["executed"] and system.order(new_id).state == S.FILLED
    system.project("orders")
    # once replaced, never again
    head = system.head()
    twice = _run("replace", old.order_id)
    assert twice.exit_code == 1 and f"was already replaced by {new_id}" in twice.output and system.head() == head


def test_replace_when_chain_reaches_max_resubmits_then_refused_and_nothing_recorded(cli: System):
    system = cli
    first = _walk(system, "cmd-chain", *TO_SUBMITTED, S.PRICE_MOVE_CANCEL)
    ids = [first]
    for n in (1, 2):  # resubmits #1 and #2 (max_resubmits 2), each cancelled before the next replacement
        out = _run("replace", ids[-1])
        assert out.exit_code == 0, out.output
        new = system.order(deterministic_id("cmd-chain", "bonding", "KXCMD-CMD-CHAIN", "YES", 20, 40.0, n))
        assert new.resubmit_count == n and new.replaces_order_id == ids[-1]
        ids.append(new.order_id)
        system.project("orders")
        assert _run("cancel", new.order_id, "--reason", "not now").exit_code == 0
    system.project("orders")
    head = system.head()
    out = _run("replace", ids[-1])
    assert out.exit_code == 1 and "resubmit #3 exceeds max_resubmits 2" in out.output
    assert system.head() == head and system.order(ids[-1]).replaced_by is None


def test_replace_when_working_or_another_order_holds_the_key_or_bad_price_then_refused(cli: System):
    system = cli
    working = _walk(system, "cmd-working", *TO_SUBMITTED)
    closed = _walk(system, "cmd-working", *TO_SUBMITTED, S.PRICE_MOVE_CANCEL, price=41)  # same key, other price
    head = system.head()
    out = _run("replace", closed)
    assert out.exit_code == 1 and f"order {working} is still open" in out.output
    out = _run("replace", working)
    assert out.exit_code == 1 and "is not closed unfilled" in out.output
    out = _run("replace", closed, "--max-price", "0")
    assert out.exit_code == 2 and "--max-price must be 1..99" in out.output
    assert system.head() == head
