"""``paulp breaker reset`` and ``paulp breaker transition`` on real PostgreSQL + NATS (trading §2.2, ADR 0376).

Three orders the risk governor blocks halt the breaker; a reset without --force is refused with the spec's message
and records nothing; with --force the breaker is NORMAL with its counter at 0, so the next blocked order does not
halt it again, and the reset is in the breaker's history (view and ``paulp breaker status``).

The CLI builds its own services on the system clock, so this module's container runs on a clock started at the
real time: a HALT recorded at a fixture's fixed date would have timed out (> 60 min) by the CLI's clock.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from typer.testing import CliRunner

from paulp.adapters.market_data import StaticMarketData
from paulp.adapters.projector import catch_up_from_log
from paulp.api.cli import app
from paulp.domain.clock import FixedClock
from paulp.domain.execution_orders import MarketSnapshot
from paulp.domain.ports import MarketFacts
from tests.integration.helpers import facts, make_container, max_notification_id, signal

pytestmark = pytest.mark.integration
TICKERS = ("KXRST-A", "KXRST-B", "KXRST-C", "KXRST-D", "KXRST-E")
BLOCKED_SIZE = 5000  # 5,000 contracts at 42c = $2,100: above 5 % of bonding's $500 (I1), a critical invariant


def _facts_at(ticker: str, now: datetime) -> MarketFacts:
    """The helpers' market, its times moved to ``now`` (fresh price, settles in a week)."""
    base = facts(ticker)
    week = now + timedelta(days=7)
    snapshot: MarketSnapshot = replace(base.snapshot, settlement_time=week, close_time=week)
    return replace(base, snapshot=snapshot, settlement_date=week, last_price_update=now - timedelta(seconds=5))


@pytest.fixture
def cli_env(fresh_db: str, nats_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch):
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    container = make_container(fresh_db, nats_url, namespace, clock=clock)
    for name, value in (("PAULP_DATABASE_URL", fresh_db), ("PAULP_NATS_URL", nats_url),
                        ("PAULP_NAMESPACE", namespace), ("ENVIRONMENT", "test"), ("COLUMNS", "220")):
        monkeypatch.setenv(name, value)
    market = StaticMarketData({t: _facts_at(t, clock.now()) for t in TICKERS})
    yield container, container.pipeline(market)
    container.close()


def breaker(*args: str):
    return CliRunner().invoke(app, ["breaker", *args])


def _project(container) -> None:
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        catch_up_from_log(conn, container.projections["breaker_state"])


def _halt_by_three_blocks(container, pipeline) -> None:
    for i, ticker in enumerate(TICKERS[:3]):
        assert pipeline.process(signal(f"rst-big-{i}", ticker, size=BLOCKED_SIZE)).state == "RISK_REJECTED"
    state = container.breaker.get()
    assert (state.state.value, state.consecutive_failures) == ("HALT", 3)


def test_reset_when_halted_without_force_then_refused_and_nothing_recorded(cli_env):
    # Arrange
    container, pipeline = cli_env
    _halt_by_three_blocks(container, pipeline)
    head = max_notification_id(container.database_url)
    # Act
    out = breaker("reset", "--reason", "drill over", "--actor", "ops-dana")
    # Assert: exit 1 with trading §2.2's message; the log is as it was
    assert out.exit_code == 1, out.output
    assert "Cannot reset from HALT without force flag" in out.output
    assert max_notification_id(container.database_url) == head
    assert container.breaker.get().state.value == "HALT"


def test_reset_when_forced_from_halt_then_normal_counter_zero_and_next_block_does_not_halt(cli_env):
    # Arrange
    container, pipeline = cli_env
    _halt_by_three_blocks(container, pipeline)
    # Act
    out = breaker("reset", "--reason", "root cause patched", "--actor", "ops-dana", "--force")
    # Assert: NORMAL, counter 0; one more blocked order counts 1 and leaves it NORMAL
    assert out.exit_code == 0, out.output
    assert "HALT -> NORMAL by ops-dana" in out.output
    after = container.breaker.get()
    assert (after.state.value, after.consecutive_failures, after.halt_started_at) == ("NORMAL", 0, None)
    assert pipeline.process(signal("rst-big-3", TICKERS[3], size=BLOCKED_SIZE)).state == "RISK_REJECTED"
    after = container.breaker.get()
    assert (after.state.value, after.consecutive_failures) == ("NORMAL", 1)
    # ... and the reset is in the breaker's history: the view and `paulp breaker status`
    _project(container)
    status = breaker("status", "--json")
    assert status.exit_code == 0, status.output
    found = json.loads(status.output)
    assert (found["state"], found["consecutiveFailures"]) == ("NORMAL", 1)
    latest, halted = found["history"]["transitions"][:2]
    assert {k: latest[k] for k in ("from", "to", "trigger", "actor", "reason")} == {
        "from": "HALT", "to": "NORMAL", "trigger": "reset", "actor": "ops-dana", "reason": "root cause patched"}
    assert (halted["from"], halted["to"], halted["trigger"]) == ("NORMAL", "HALT", "risk_checks")
    with psycopg.connect(container.database_url) as conn:
        row = conn.execute("SELECT state, consecutive_failures FROM views.breaker_state WHERE scope = 'global'"
                           ).fetchone()
    assert row == ("NORMAL", 1)


def test_reset_when_already_normal_then_recorded_as_normal_to_normal(cli_env):
    # Arrange: one blocked check counted, state NORMAL
    container, pipeline = cli_env
    assert pipeline.process(signal("rst-one", TICKERS[0], size=BLOCKED_SIZE)).state == "RISK_REJECTED"
    assert container.breaker.get().consecutive_failures == 1
    head = max_notification_id(container.database_url)
    # Act
    out = breaker("reset", "--reason", "clear the count", "--actor", "ops-lee")
    # Assert: a transition NORMAL -> NORMAL is in the log, the counter is 0
    assert out.exit_code == 0, out.output
    assert max_notification_id(container.database_url) > head
    assert container.breaker.get().consecutive_failures == 0
    _project(container)
    with psycopg.connect(container.database_url) as conn:
        rows = conn.execute("SELECT from_state, to_state, trigger, actor FROM views.breaker_transitions").fetchall()
    assert rows == [("NORMAL", "NORMAL", "reset", "ops-lee")]


def test_transition_when_table_allows_then_moved_and_counter_kept_else_refused(cli_env):
    # Arrange
    container, pipeline = cli_env
    _halt_by_three_blocks(container, pipeline)
    head = max_notification_id(container.database_url)
    # Act / Assert: HALT -> NORMAL is not in the table: exit 1, nothing recorded
    refused = breaker("transition", "--to", "NORMAL", "--reason", "skip", "--actor", "ops-dana")
    assert refused.exit_code == 1 and "Invalid transition from HALT to NORMAL" in refused.output
    assert max_notification_id(container.database_url) == head
    # HALT -> RECOVERY is: moved, the counter stays (§2.2: manual transitions do not reset it)
    moved = breaker("transition", "--to", "recovery", "--reason", "watching", "--actor", "ops-dana")
    assert moved.exit_code == 0, moved.output
    after = container.breaker.get()
    assert (after.state.value, after.consecutive_failures) == ("RECOVERY", 3)


@pytest.mark.parametrize("args,message", [
    (["reset", "--reason", "  ", "--actor", "ops"], "--reason must not be blank"),
    (["reset", "--reason", "r", "--actor", ""], "--actor must not be blank"),
    (["reset", "--reason", "a\x00b", "--actor", "ops"], "NUL"),
    (["transition", "--to", "PANIC", "--reason", "r", "--actor", "ops"], "Invalid target state"),
    (["transition", "--to", "HALT", "--reason", "", "--actor", "ops"], "--reason must not be blank"),
])
def test_operator_commands_when_input_is_bad_then_exit_2_and_nothing_recorded(cli_env, args, message):
    container, _ = cli_env
    head = max_notification_id(container.database_url)
    out = breaker(*args)
    assert out.exit_code == 2 and message in out.output, out.output
    assert max_notification_id(container.database_url) == head
