"""A governed LLM call during which the wall clock steps across UTC midnight or a month end (ADR 0522), on real
PostgreSQL: its hold is settled in the day and month it was reserved in, whichever way the clock went, so no
period is left with an open hold and no other period is charged for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from paulp.api.routing_jobs import routing_tick
from paulp.api.routing_wiring import uuid7
from paulp.api.wiring import application_env
from paulp.domain.budget_ledger import open_ledger, reserve_both
from paulp.domain.budgets import BudgetCategory, PeriodType
from paulp.domain.clock import FixedClock
from paulp.domain.executor import CallPort, CallResult, Usage
from paulp.domain.services.routing import RoutingService
from tests.integration.helpers import make_container
from tests.integration.routing_support import catch_up

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
KEYS = {"ANTHROPIC_API_KEY": "k-a", "MINIMAX_API_KEY": "k-m", "MOONSHOT_API_KEY": "k-mo", "GOOGLE_AI_API_KEY": "k-g"}
CATEGORY = "ingestion_classification"  # signal_scanning's budget
END_OF_MONTH = datetime(2026, 3, 31, 23, 59, 50, tzinfo=UTC)
NEXT_MONTH = datetime(2026, 4, 1, 0, 0, 10, tzinfo=UTC)


class SteppingProvider:
    """Answers at once, after moving the service's clock to ``to``: the step happens while the call is out."""

    def __init__(self, clock: FixedClock, to: datetime) -> None:
        self.clock, self.to = clock, to

    def port(self, system: str, user: str) -> CallPort:
        def call(model_id: str) -> CallResult:
            self.clock.set(self.to)
            return CallResult("ok", Usage(120, 30), 0)

        return call


@pytest.mark.parametrize(("reserved_at", "settled_at"), [(END_OF_MONTH, NEXT_MONTH), (NEXT_MONTH, END_OF_MONTH)],
                         ids=["forward", "back"])
def test_govern_when_the_clock_steps_across_a_month_end_mid_call_then_settled_where_reserved(
        fresh_db, nats_url, namespace, reserved_at: datetime, settled_at: datetime):
    make_container(fresh_db, nats_url, namespace).close()  # migrated
    clock = FixedClock(reserved_at)
    provider = SteppingProvider(clock, settled_at)
    svc = RoutingService(application_env(fresh_db), clock, llm_env=KEYS, providers=lambda: provider, new_id=uuid7)
    try:
        out = svc.govern("signal_scanning", user_prompt="classify: Fed holds rates steady in March")
        assert out.success, out.error
        assert 0 <= out.latency_ms < 10_000  # measured, not the clock's step (a wall-clock difference was -20000)
        svc.flush()
        for ledger in svc.ledger_snapshots(CATEGORY, reserved_at):  # the day and the month it was reserved in
            assert (ledger.open_reservations, ledger.reserved_usd) == (0, Decimal(0)), ledger
            assert ledger.consumed_usd > 0, ledger
        for ledger in svc.ledger_snapshots(CATEGORY, settled_at):  # the other side of the step: untouched
            assert (ledger.open_reservations, ledger.consumed_usd) == (0, Decimal(0)), ledger
    finally:
        svc.close()


def test_stale_hold_when_the_clock_steps_forward_days_then_the_old_periods_hold_is_charged(
        fresh_db, nats_url, namespace):
    """A call reserved on 30 March never reports back (its process died), and the wall clock next reads 3 April (a VM
    resumed days later). The routing tick charges the hold in the day and the month it was reserved in: it looked
    only at today's and yesterday's ledgers, and left March's hold open for ever (ADR 0526)."""
    reserved_at = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)
    clock = FixedClock(reserved_at)
    container = make_container(fresh_db, nats_url, namespace, clock=clock)
    try:
        envelope = container.routing.budget.envelopes[BudgetCategory(CATEGORY)]
        daily = open_ledger(CATEGORY, PeriodType.DAILY, reserved_at)
        monthly = open_ledger(CATEGORY, PeriodType.MONTHLY, reserved_at)
        reserve_both(daily, monthly, "call-that-never-reported", Decimal("0.50"), envelope, reserved_at)
        container.routing.save(daily, monthly)
        catch_up(container, "llm_budget")
        clock.set(datetime(2026, 4, 3, 9, 0, tzinfo=UTC))
        assert routing_tick(container).charged_holds == 2  # March 30's and March's
        for ledger in container.routing.ledger_snapshots(CATEGORY, reserved_at):
            assert (ledger.open_reservations, ledger.reserved_usd, ledger.consumed_usd) == (0, 0, Decimal("0.50"))
        catch_up(container, "llm_budget")
        clock.set(clock.now() + timedelta(minutes=1))
        assert routing_tick(container).charged_holds == 0  # nothing left open
    finally:
        container.close()
