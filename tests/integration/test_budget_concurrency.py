"""1,000 concurrent governed calls against a budget for ~100: never overspent, the rest BUDGET_EXCEEDED."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from paulp.domain.budgets import PeriodType, usd
from paulp.domain.clock import FixedClock
from paulp.domain.routing import MINIMAX, RETRYABLE_CODES, ErrorCode, Provider
from tests.fakes.llm_servers import FakeLlmServer, FakeReply
from tests.integration.helpers import make_container
from tests.integration.routing_support import (
    PROVIDER_OF,
    assumptions_for,
    catch_up,
    fake_env,
    provider_fakes,
    requests_by_provider,
    use_routing,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
CALLS, WORKERS, FITTING = 1000, 50, 100
CATEGORY = "ingestion_classification"
REFUSED = str(ErrorCode.BUDGET_EXCEEDED)
TRANSIENT = frozenset(str(c) for c in RETRYABLE_CODES)  # every provider failed: the hold is released, not spent


def _bill_every_provider_the_projection(fakes: dict[Provider, FakeLlmServer], tokens: tuple[int, int]) -> None:
    """Every fake reports the token counts the hold was projected from. MiniMax, the chain's first model, is
    billed exactly its hold; every fallback (Gemini, Kimi, Llama) is cheaper per token, so it settles below it."""
    for fake in fakes.values():
        fake.usage.input_tokens, fake.usage.output_tokens = tokens


def test_budget_when_1000_concurrent_calls_then_limit_never_exceeded_and_ledger_equals_view(
        fresh_db, nats_url, namespace) -> None:
    # Arrange: scanner calls (MiniMax first) against a daily limit of 100.5 holds. Scripted provider errors make
    # two calls fall back to Gemini and one fail on every model, so both ways a hold can end below its amount
    # happen on every run, not only when a loaded server makes the evidence store fail an attempt.
    container = make_container(fresh_db, nats_url, namespace)
    with provider_fakes() as fakes:
        probe = use_routing(container, fake_env(fakes)).dry_run("signal_scanning", user_prompt="scan: headline")
        routing = use_routing(container, fake_env(fakes),
                              assumptions_for(CATEGORY, (FITTING + 0.5) * probe.projected_cost_usd))
        _bill_every_provider_the_projection(fakes, (probe.estimated_input_tokens, probe.estimated_output_tokens))
        fakes[Provider.MINIMAX].enqueue(*[FakeReply(status=503)] * 3)
        for provider in (Provider.GOOGLE, Provider.MOONSHOT, Provider.CLOUDFLARE):
            fakes[provider].enqueue(FakeReply(status=503))
        hold, limit = usd(probe.projected_cost_usd), usd(routing.budget.envelopes[CATEGORY].daily_limit_usd)
        # Act
        started = time.monotonic()
        with ThreadPoolExecutor(WORKERS) as pool:
            outcomes = list(pool.map(lambda _: routing.govern("signal_scanning", user_prompt="scan: headline"),
                                     range(CALLS)))
        elapsed = time.monotonic() - started
        requests = requests_by_provider(fakes)
    # Assert: never overspent; every failure is a budget refusal or a call on which every model failed
    ok = [o for o in outcomes if o.success]
    failed = Counter(o.error_code for o in outcomes if not o.success)
    transient = sum(n for code, n in failed.items() if code in TRANSIENT)
    full_price = [o for o in ok if o.model_id == MINIMAX]
    fallbacks = [o for o in ok if o.model_id != MINIMAX]
    spent = sum((usd(o.usage.cost_usd) for o in ok if o.usage), Decimal(0))
    assert elapsed < 60, f"{CALLS} governed calls took {elapsed:.1f}s"
    assert len(outcomes) == CALLS and set(failed) <= {REFUSED} | TRANSIENT and failed[REFUSED] > 0, failed
    assert spent <= limit
    assert all(o.usage and usd(o.usage.cost_usd) == hold for o in full_price)
    assert all(o.usage and usd(o.usage.cost_usd) < hold for o in fallbacks)
    # The scripted errors: three MiniMax failures end at a fallback or fail everywhere, and the one caller that
    # reaches Llama fails there too (a server short of connections can only add to both)
    assert len(fallbacks) + transient >= 3 and transient >= 1, (len(fallbacks), transient)
    # The band. Upper: a full-price call costs its hold, so at most FITTING of them fit in 100.5 holds; only a
    # fallback, settling below its hold, leaves room for one more (two Gemini settlements free 2/3 of a hold).
    # Lower: a call is refused only while spent + held + one hold > limit, i.e. more than 99.5 holds' worth, and
    # each reserved call counts at most one hold, so at least FITTING calls were reserved; the reserved calls are
    # the successes plus the transient failures, whose holds were released.
    assert FITTING - transient <= len(ok) <= FITTING + len(fallbacks), (len(ok), len(fallbacks), transient)
    # Only reserved calls reached a provider: each attempt was one request to that model's provider
    attempts = Counter(PROVIDER_OF[a.model_id] for o in outcomes for a in o.attempts)
    assert requests == {p: attempts[p] for p in Provider}
    assert attempts[Provider.MINIMAX] == len(ok) + transient
    # The ledger holds nothing open and its sums equal the calls' costs, and the view equals the ledger
    daily, monthly = routing.ledger_snapshots(CATEGORY)
    assert (daily.consumed_usd, daily.reserved_usd, daily.open_reservations) == (spent, 0, 0)
    assert (monthly.consumed_usd, monthly.reserved_usd, monthly.open_reservations) == (spent, 0, 0)
    catch_up(container)
    with psycopg.connect(container.database_url) as conn:
        view = conn.execute(
            "SELECT period_type, spent_usd, reserved_usd, open_reservations, reservations, settlements, releases,"
            " blocked FROM views.llm_budget WHERE category = %s ORDER BY period_type", (CATEGORY,)).fetchall()
        decisions = dict(conn.execute("SELECT error_code, count(*) FROM views.llm_decisions GROUP BY error_code")
                         .fetchall())
    reserved = len(ok) + transient
    assert view == [(str(PeriodType.DAILY), spent, 0, 0, reserved, len(ok), transient, False),
                    (str(PeriodType.MONTHLY), spent, 0, 0, reserved, len(ok), transient, False)]
    assert decisions == {None: len(ok), **failed}
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
        _bill_every_provider_the_projection(fakes, (probe.estimated_input_tokens, probe.estimated_output_tokens))
        # Act
        with ThreadPoolExecutor(WORKERS) as pool:
            outcomes = list(pool.map(lambda i: services[i % 2].govern("signal_scanning", user_prompt="scan: headline"),
                                     range(calls)))
    # Assert: the band of the test above (no scripted errors here, so normally exactly ``fitting`` succeed)
    ok = [o for o in outcomes if o.success]
    failed = Counter(o.error_code for o in outcomes if not o.success)
    transient = sum(n for code, n in failed.items() if code in TRANSIENT)
    fallbacks = sum(o.model_id != MINIMAX for o in ok)
    assert set(failed) <= {REFUSED} | TRANSIENT and failed[REFUSED] > 0, failed
    assert fitting - transient <= len(ok) <= fitting + fallbacks, (len(ok), fallbacks, transient)
    services[1].flush()  # the other process's outcomes are stored too before the ledger is read
    daily, _ = services[0].ledger_snapshots(CATEGORY)
    spent = sum((usd(o.usage.cost_usd) for o in ok if o.usage), Decimal(0))
    assert daily.open_reservations == 0 and daily.consumed_usd == spent
    assert spent <= usd(services[0].budget.envelopes[CATEGORY].daily_limit_usd)
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
        answer = threading.Event()  # the provider answers once the sweep below has run (the client waits 5 s)
        minimax.enqueue(FakeReply(delay_s=30, release=answer))
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
            assert not call.done(), "the call answered before the sweep"
            # Act 2: the call reports back after all
            answer.set()
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
