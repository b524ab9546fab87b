"""``paulp breaker status`` on real PostgreSQL: the state from the breaker's events, the auto-recovery time,
and what moved it from the views (transitions, alerts, latched portfolio alert levels, tail evaluations)."""

from __future__ import annotations

import json
from datetime import timedelta

import psycopg
import pytest
from typer.testing import CliRunner

from paulp.adapters.projector import catch_up_from_log
from paulp.api.cli import app

pytestmark = pytest.mark.integration

TAILS = [{"marketId": f"KXTAIL-{i}", "size": 20.0, "currentPrice": 0.05} for i in range(3)]  # HHI 1/3: breach


@pytest.fixture
def cli_env(clocked, nats_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch):
    container, clock = clocked
    for name, value in (("PAULP_DATABASE_URL", container.database_url), ("PAULP_NATS_URL", nats_url),
                        ("PAULP_NAMESPACE", namespace), ("ENVIRONMENT", "test"), ("COLUMNS", "220")):
        monkeypatch.setenv(name, value)
    return container, clock


def status(*args: str):
    return CliRunner().invoke(app, ["breaker", "status", *args])


def project(container) -> None:
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        catch_up_from_log(conn, container.projections["breaker_state"])


def test_breaker_status_when_valuations_halted_trading_then_it_shows_why_and_when_it_recovers(cli_env):
    # Arrange: a daily-loss warning, then a valuation whose tail book breaches (CAUTION), then a critical
    # daily loss with the breach still standing (HALT: the alert escalates, the latched breach does not again)
    container, clock = cli_env
    container.breaker.portfolio_valued(100.0, -2.5, 0.0, TAILS)
    clock.set(clock.now() + timedelta(minutes=5))
    container.breaker.portfolio_valued(100.0, -3.5, 0.0, TAILS)
    halted_at = clock.now()
    project(container)
    # Act
    out = status("--json")
    # Assert
    assert out.exit_code == 0, out.output
    found = json.loads(out.output)
    assert found["state"] == "HALT" and found["tailBreached"] is True
    assert found["autoRecoveryAfter"] == (halted_at + timedelta(minutes=60)).isoformat()
    assert found["portfolioAlertLevels"] == {"DAILY_LOSS_ALERT": "critical"}
    history = found["history"]
    assert [(t["from"], t["to"]) for t in history["transitions"]] == [("CAUTION", "HALT"), ("NORMAL", "CAUTION")]
    assert [a["levels"] for a in history["portfolioAlertLevels"]] == [
        {"DAILY_LOSS_ALERT": "critical"}, {"DAILY_LOSS_ALERT": "warning"}]
    [tail] = history["tailEvaluations"]  # latched: recorded when the breach appeared, not on every valuation
    assert (tail["compliant"], tail["count"], round(tail["herfindahl"], 3), tail["totalTailValue"]) == (
        False, 3, 0.333, 60.0)
    assert found["viewsAt"] == found["logHead"] > 0


def test_breaker_status_when_projectors_are_behind_then_state_is_current_and_the_lag_is_said(cli_env):
    # Arrange: the breaker tripped, nothing projected
    container, _ = cli_env
    assert container.breaker.trip("drill", "ops-dana")
    # Act
    out = status()
    # Assert: the state comes from the events; the table says the history is behind the log
    assert out.exit_code == 0, out.output
    assert "state HALT" in out.output and "moves to RECOVERY after" in out.output
    assert "projectors behind" in out.output


def test_breaker_status_when_limit_out_of_range_then_refused(cli_env):
    out = status("--limit", "0")
    assert out.exit_code == 2 and "--limit" in out.output
