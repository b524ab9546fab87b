"""The execute job next to another writer of the same order (a second execute, a cancel, the webhook inbox):
losing the optimistic-concurrency race must not overwrite what the winner recorded."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from paulp.adapters.market_data import StaticMarketData
from paulp.api.signal_jobs import execute_pending
from paulp.domain.execution_policy import ExecutionMode
from paulp.domain.services.pipeline import OrderPipeline
from tests.fakes.kalshi_exchange import Fault
from tests.integration.helpers import NOW
from tests.integration.kalshi_system import System, facts_at_book, pending_live_order

pytestmark = pytest.mark.integration


def test_execute_when_another_writer_records_the_order_first_then_its_state_is_kept(system: System):
    """The job's order request is in flight past the stale timeout; meanwhile another execute finds the order
    stale, puts it in doubt and resolves it at Kalshi (ORDER_ACKNOWLEDGED). The job then loses the save race:
    the winner's state stands (not ERROR), and nothing was sent twice."""
    ticker, order_id = pending_live_order(system)
    # the exchange places the job's order, then answers 1 s late
    system.exchange.inject(Fault(status=None, delay_s=1.0, process=True, method="POST",
                                 path_contains="/portfolio/orders"))
    report: dict[str, Any] = {}
    job = threading.Thread(target=lambda: report.update(execute_pending(system.container)))
    job.start()
    deadline = time.monotonic() + 5
    while not system.exchange.orders and time.monotonic() < deadline:
        time.sleep(0.02)
    system.container.clock.set(NOW + timedelta(minutes=6))  # type: ignore[attr-defined]
    port, client = system.venue_port()
    try:
        c = system.container
        other = OrderPipeline(c.orders, c.breaker, c.execution,
                              StaticMarketData({ticker: facts_at_book(system.exchange, ticker)}),
                              c.pipeline(StaticMarketData({})).portfolio, port,
                              modes={"bonding": ExecutionMode.LIVE})
        assert other.advance(order_id).state == "ORDER_ACKNOWLEDGED"
    finally:
        port.close(client)
    job.join(10)
    assert len(system.exchange.orders) == 1
    order = system.container.orders.find(order_id)
    assert order is not None and order.state.value == "ORDER_ACKNOWLEDGED", (order and order.state, report)
    assert order.broker_order_id == system.exchange.orders[0]["order_id"]
    assert [e["orderId"] for e in report["errors"]] == [order_id]  # the job says it lost the race


def test_cancel_outstanding_during_a_live_submission_never_leaves_an_order_at_kalshi_cancelled_in_the_log(
        system: System):
    """Rollback step 3 while the execute job's order request is in flight: the order is SUBMITTING in the log
    before anything is sent, so the cancel names it instead of closing it locally behind the venue's back."""
    from paulp.api.cancel_job import cancel_outstanding

    _, order_id = pending_live_order(system)
    system.exchange.inject(Fault(status=None, delay_s=1.0, method="POST", path_contains="/portfolio/orders"))
    job = threading.Thread(target=lambda: execute_pending(system.container))
    job.start()
    deadline = time.monotonic() + 5
    while not any(r.method == "POST" for r in system.exchange.requests) and time.monotonic() < deadline:
        time.sleep(0.02)
    [during] = cancel_outstanding(system.container, "rollback")["results"]
    job.join(10)
    assert during["outcome"] == "not_cancellable: SUBMITTING"
    assert system.container.orders.find(order_id).state.value == "SUBMITTED"  # type: ignore[union-attr]
    system.project("orders")
    [after] = cancel_outstanding(system.container, "rollback")["results"]
    assert after["outcome"] == "cancelled_at_venue"
    assert [o["status"] for o in system.exchange.orders] == ["canceled"]


def test_execute_when_a_live_submission_was_cut_off_then_resolved_by_client_order_id_after_the_timeout(
        system: System):
    """A process that died after recording SUBMITTING (and perhaps after sending): past stale_order_timeout the
    next execute puts it in doubt and asks Kalshi by client order id, never sending it again (§1.5, ADR 0100)."""
    ticker, order_id = pending_live_order(system)
    _sent_then_cut_off(system, ticker, order_id, NOW - timedelta(minutes=6))
    _resolved_by_client_order_id(system, order_id)


def test_execute_when_a_cut_off_live_submission_outlived_its_strategys_stale_timeout_then_resolved_before_300s(
        system: System):
    """ADR 0467: the recovery holds a cut-off submission to the stale timeout of its strategy's policy now (60 s
    here, an operator's setting, ADR 0402), as the order timers hold every working order, not to the spec's
    300 s default: 90 s after the crash it is looked up by client order id and acknowledged, never sent again."""
    from paulp.api.cli_risk_limits import assignments
    from paulp.api.contexts import context
    from paulp.domain.execution_policies import policy_changes
    from paulp.domain.services.operator_limits import ExecutionPolicyService

    ticker, order_id = pending_live_order(system)
    with context(ExecutionPolicyService, system.container.database_url) as policies:
        policies.update("bonding", "LIVE", policy_changes(assignments(["staleOrderTimeoutSec=60"])), "ops",
                        "resting orders are cancelled after a minute")
    _sent_then_cut_off(system, ticker, order_id, NOW - timedelta(seconds=90))
    _resolved_by_client_order_id(system, order_id)


def _sent_then_cut_off(system: System, ticker: str, order_id: str, cut_off: datetime) -> None:
    """The order recorded SUBMITTING at ``cut_off`` and its request reached Kalshi; then the process died."""
    from paulp.domain.execution_orders import VenueOrder
    from paulp.domain.order_states import OrderState

    order = system.container.orders.find(order_id)
    assert order is not None
    for target in (OrderState.PRE_TRADE_CHECK, OrderState.VALIDATING, OrderState.VALIDATED, OrderState.RISK_CHECK,
                   OrderState.RISK_APPROVED, OrderState.SUBMITTING):
        order.transition(target, "before the crash", cut_off)
    system.container.orders.save(order)
    port, client = system.venue_port()
    try:
        price = system.exchange.markets[ticker]["yes_ask"] - 1
        port.submit(VenueOrder(ticker, order_id, "yes", "buy", 50, "limit", price, None))
    finally:
        port.close(client)


def _resolved_by_client_order_id(system: System, order_id: str) -> None:
    """The next execute found the order at Kalshi by its client order id and never sent it again."""
    system.project("orders")
    report = execute_pending(system.container)
    order = system.container.orders.find(order_id)
    assert order is not None and order.state.value == "ORDER_ACKNOWLEDGED", (order and order.state, report)
    assert order.broker_order_id == system.exchange.orders[0]["order_id"]
    assert [r.method for r in system.exchange.requests].count("POST") == 1
