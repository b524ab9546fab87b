"""1,000 concurrent governed calls against a budget for ~100: never overspent, the rest BUDGET_EXCEEDED."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from paulp.domain.budgets import PeriodType, usd
from paulp.domain.clock import FixedClock
from paulp.domain.routing import MINIMAX, Provider
from tests.fakes.llm_servers import FakeReply
from tests.integration.helpers import make_container
from tests.integration.routing_support import assumptions_for, catch_up, fake_env, provider_fakes, use_routing

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
CALLS, WORKERS, FITTING = 1000, 50, 100
CATEGORY = "ingestion_classification"


def test_budget_when_1000_concurrent_calls_then_limit_never_exceeded_and_ledger_equals_view(
        fresh_db, nats_url, namespace) -> None:
    # Arrange: scanner calls (MiniMax) billed exactly their projection; the daily limit fits 100.5 of them
    container = make_container(fresh_db, nats_url, namespace)
    with provider_fakes() as fakes:
        probe = use_routing(container, fake_env(fakes)).dry_run("signal_scanning", user_prompt="scan: headline")
        routing = use_routing(container, fake_env(fakes),
                              assumptions_for(CATEGORY, (FITTING + 0.5) * probe.projected_cost_usd))
        fakes[Provider.MINIMAX].usage.input_tokens = probe.estimated_input_tokens
        fakes[Provider.MINIMAX].usage.output_tokens = probe.estimated_output_tokens
        limit = usd(routing.budget.envelopes[CATEGORY].daily_limit_usd)
        # Act
        started = time.monotonic()
        with ThreadPoolExecutor(WORKERS) as pool:
            outcomes = list(pool.map(lambda _: routing.govern("signal_scanning", user_prompt="scan: headline"),
                                     range(CALLS)))
        elapsed = time.monotonic() - started
        served = len(fakes[Provider.MINIMAX].requests)
    # Assert: exactly the calls that fit were made, the excess failed closed, nothing leaked
    ok = [o for o in outcomes if o.success]
    codes = {o.error_code for o in outcomes if not o.success}
    spent = sum((usd(o.usage.cost_usd) for o in ok if o.usage), Decimal(0))
    assert elapsed < 60, f"{CALLS} governed calls took {elapsed:.1f}s"
    assert len(ok) == FITTING == served and all(o.model_id == MINIMAX for o in ok)
    assert codes == {"BUDGET_EXCEEDED"} and len(outcomes) == CALLS
    assert spent <= limit
    daily, monthly = routing.ledger_snapshots(CATEGORY)
    assert (daily.consumed_usd, daily.reserved_usd, daily.open_reservations) == (spent, 0, 0)
    assert (monthly.consumed_usd, monthly.reserved_usd, monthly.open_reservations) == (spent, 0, 0)
    catch_up(container)
    with psycopg.connect(container.database_url) as conn:
        view = conn.execute(
            "SELECT period_type, spent_usd, reserved_usd, open_reservations, reservations, settlements, releases,"
            " blocked FROM views.llm_budget WHERE category = %s ORDER BY period_type", (CATEGORY,)).fetchall()
        decisions = conn.execute("SELECT error_code, count(*) FROM views.llm_decisions GROUP BY error_code"
                                 " ORDER BY error_code NULLS FIRST").fetchall()
    assert view == [(str(PeriodType.DAILY), spent, 0, 0, FITTING, FITTING, 0, False),
                    (str(PeriodType.MONTHLY), spent, 0, 0, FITTING, FITTING, 0, False)]
    assert decisions == [(None, FITTING), ("BUDGET_EXCEEDED", CALLS - FITTING)]
    container.close()


def test_budget_when_two_processes_race_then_optimistic_retries_keep_the_limit(fresh_db, nats_url, namespace) -> None:
    # Arrange: two routing services (separate in-process locks, as two processes) share one ledger
    container = make_container(fresh_db, nats_url, namespace)
    other = make_container(fresh_db, nats_url, namespace + "b")
    fitting, calls = 60, 400
    with provider_fakes() as fakes:
        probe = use_routing(container, fake_env(fakes)).dry_run("signal_scanning", user_prompt="scan: headline")
        assumptions = assumptions_for(CATEGORY, (fitting + 0.5) * probe.projected_cost_usd)
        services = [use_routing(c, fake_env(fakes), assumptions) for c in (container, other)]
        fakes[Provider.MINIMAX].usage.input_tokens = probe.estimated_input_tokens
        fakes[Provider.MINIMAX].usage.output_tokens = probe.estimated_output_tokens
        # Act
        with ThreadPoolExecutor(WORKERS) as pool:
            outcomes = list(pool.map(lambda i: services[i % 2].govern("signal_scanning", user_prompt="scan: headline"),
                                     range(calls)))
    # Assert
    assert sum(o.success for o in outcomes) == fitting
    assert {o.error_code for o in outcomes if not o.success} == {"BUDGET_EXCEEDED"}
    daily, _ = services[0].ledger_snapshots(CATEGORY)
    assert daily.open_reservations == 0 and daily.consumed_usd <= usd(services[0].budget.envelopes[CATEGORY]
                                                                       .daily_limit_usd)
    other.close()
    container.close()


@pytest.mark.parametrize("token_factor", [3, 0.5], ids=["dearer-than-held", "cheaper-than-held"])
def test_stale_hold_when_call_outlives_the_sweep_then_charged_in_full_and_trued_up_by_its_late_report(
        fresh_db, nats_url, namespace, token_factor: float) -> None:
    """A call that has not reported back 15 minutes after its reservation is presumed to have spent its hold
    (fail closed); when it does report, only a cost above that charge is added. The view follows the ledger."""
    clock = FixedClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    container = make_container(fresh_db, nats_url, namespace, clock=clock)
    with provider_fakes() as fakes:
        routing = use_routing(container, fake_env(fakes))
        probe = routing.dry_run("signal_scanning", user_prompt="scan: headline")
        held = usd(probe.projected_cost_usd)
        minimax = fakes[Provider.MINIMAX]
        minimax.usage.input_tokens = int(probe.estimated_input_tokens * token_factor)
        minimax.usage.output_tokens = int(probe.estimated_output_tokens * token_factor)
        minimax.enqueue(FakeReply(delay_s=2.5))  # the sweep below runs within milliseconds of the request
        with ThreadPoolExecutor(1) as pool:
            call = pool.submit(routing.govern, "signal_scanning", user_prompt="scan: headline")
            deadline = time.monotonic() + 10
            while not minimax.requests:  # the reservation is stored and the provider is answering slowly
                assert time.monotonic() < deadline, "the call never reached the provider"
                time.sleep(0.01)
            clock.set(clock.now() + timedelta(minutes=20))
            # Act 1: the scheduled sweep finds the hold stale
            assert routing.charge_stale_reservations() == 2  # the daily and the monthly hold
            daily, monthly = routing.ledger_snapshots(CATEGORY)
            # Act 2: the call reports back after all
            outcome = call.result(timeout=30)
    # Assert
    assert (daily.consumed_usd, daily.reserved_usd, daily.open_reservations) == (held, 0, 0)
    assert (monthly.consumed_usd, monthly.reserved_usd) == (held, 0)
    assert outcome.success and outcome.usage is not None
    actual = usd(outcome.usage.cost_usd)
    assert (actual > held) is (token_factor > 1)
    expected = max(held, actual)
    daily, monthly = routing.ledger_snapshots(CATEGORY)
    assert (daily.consumed_usd, monthly.consumed_usd, daily.reserved_usd) == (expected, expected, 0)
    catch_up(container)
    with psycopg.connect(container.database_url) as conn:
        view = conn.execute("SELECT period_type, spent_usd, reserved_usd, open_reservations FROM views.llm_budget"
                            " WHERE category = %s ORDER BY period_type", (CATEGORY,)).fetchall()
    assert view == [(str(PeriodType.DAILY), expected, 0, 0), (str(PeriodType.MONTHLY), expected, 0, 0)]
    container.close()
