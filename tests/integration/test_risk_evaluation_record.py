"""The whole risk evaluation in an order's events, and the views built from it, on real PostgreSQL + NATS
(trading §3.3, §8, §9; ADR 0377).

A blocked order's history shows each invariant's actual value against its threshold (``paulp orders show``,
``views.invariant_violations``, ``views.risk_check_history``). The input document stored in the log re-hashes
to the recorded hash, read from the event's raw JSON rather than through our decoder. The execute step's re-check
of an approval is recorded too.
"""

from __future__ import annotations

import hashlib
import json

import psycopg
import pytest
from typer.testing import CliRunner

from paulp.adapters.market_data import StaticMarketData
from paulp.adapters.projector import catch_up_from_log
from paulp.api.cli import app
from paulp.domain.canonical import canonical_json
from paulp.domain.order_values import PreTradeCheck
from paulp.domain.orders import Order
from tests.integration.helpers import MARKET, NOW, assert_live_equals_replay, facts, signal

pytestmark = pytest.mark.integration
I1 = "I1_MAX_POSITION_SIZE"
I16 = "I16_CIRCUIT_BREAKER_STATE"


@pytest.fixture
def cli_env(clocked, nats_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch):
    container, clock = clocked
    for name, value in (("PAULP_DATABASE_URL", container.database_url), ("PAULP_NATS_URL", nats_url),
                        ("PAULP_NAMESPACE", namespace), ("ENVIRONMENT", "test"), ("COLUMNS", "250")):
        monkeypatch.setenv(name, value)
    return container, clock


def _project(container) -> None:
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        catch_up_from_log(conn, container.projections["violations"])


def _raw_risk_events(container, order_id: str) -> list[dict]:
    """The order's RiskChecked events as the log holds them: JSON text parsed with ``json.loads`` only."""
    with psycopg.connect(container.database_url) as conn:
        rows = conn.execute("SELECT state FROM paulp_events WHERE originator_id = %s AND topic LIKE %s"
                            " ORDER BY originator_version", (Order.create_id(order_id), "%.RiskChecked")).fetchall()
    return [json.loads(bytes(state)) for (state,) in rows]


def test_blocked_order_when_shown_then_violated_invariants_have_actual_and_threshold_and_input_rehashes(cli_env):
    # Arrange: 5,000 contracts at 42c = $2,100 against bonding's $500: I1 at 420 % of a 5 % limit
    container, _ = cli_env
    out = container.pipeline(MARKET).process(signal("rec-big", "KXTEST-A", size=5000))
    assert out.state == "RISK_REJECTED"
    # Act
    _project(container)
    shown = CliRunner().invoke(app, ["orders", "show", out.order_id])
    # Assert: the log holds the whole evaluation, and its input document re-hashes to the recorded hash
    [raw] = _raw_risk_events(container, out.order_id)
    evaluation = raw["evaluation"]
    assert raw["class_version"] == 2 and evaluation["inputHash"] == raw["result"]["inputHash"]
    assert hashlib.sha256(canonical_json(evaluation["input"]).encode()).hexdigest() == evaluation["inputHash"]
    assert evaluation["input"]["request"]["size"] == 2100.0 and evaluation["input"]["circuitBreakerState"] == "NORMAL"
    assert evaluation["passedCount"] + evaluation["failedCount"] == len(evaluation["results"]) == 18
    assert evaluation["criticalIds"] == raw["result"]["invariantIds"] and I1 in evaluation["criticalIds"]
    i1 = next(r for r in evaluation["results"] if r["id"] == I1)
    assert (i1["passed"], i1["actual"], i1["threshold"], i1["severity"]) == (False, 420.0, 5.0, "critical")
    # ... the views: the violation with actual and threshold, the evaluation's counts in the history
    with psycopg.connect(container.database_url) as conn:
        violation = conn.execute("SELECT actual_value, threshold_value, description FROM views.invariant_violations"
                                 " WHERE id = %s", (f"{out.order_id}:{I1}",)).fetchone()
        history = conn.execute(
            "SELECT market_id, strategy, size_usd, contracts, approved, recheck, breaker_state, invariants_passed,"
            " invariants_failed, critical_failures, warnings, input_hash FROM views.risk_check_history"
            " WHERE order_id = %s", (out.order_id,)).fetchall()
    assert violation == (420.0, 5.0, i1["message"])
    assert history == [("KXTEST-A", "bonding", 2100.0, 5000, False, False, "NORMAL", evaluation["passedCount"],
                        evaluation["failedCount"], evaluation["criticalIds"], evaluation["warningIds"],
                        evaluation["inputHash"])]
    # ... and `paulp orders show`: every invariant, actual against threshold, and that the input verifies
    assert shown.exit_code == 0, shown.output
    assert "blocked under NORMAL" in shown.output and "input verifies" in shown.output
    assert f"input hash {evaluation['inputHash']}" in shown.output
    line = next(row for row in shown.output.splitlines() if I1 in row)
    assert "NO" in line and "420.0" in line and "5.0" in line
    assert all(r["id"] in shown.output for r in evaluation["results"])
    assert_live_equals_replay(container, "violations")


def test_approval_rechecked_when_breaker_halted_then_both_evaluations_recorded_and_the_recheck_violation_shown(
        cli_env):
    # Arrange: an order the governor approved (the timers' path: asked in RISK_CHECK), not yet executed
    container, _ = cli_env
    pipeline = container.pipeline(StaticMarketData({"KXTEST-B": facts("KXTEST-B")}))
    order = Order.create(signal_id="rec-recheck", strategy="bonding", ticker="KXTEST-B", side="YES",
                         requested_size=50, max_price=42, now=NOW, signal_model_probability=0.6, signal_edge=0.18,
                         signal_confidence=0.8)
    order.pre_trade_check(PreTradeCheck(True, spread=0.01, depth=5000.0, vpin_score=0.1), NOW)
    order.validate(NOW)
    order.begin_risk_check(NOW)
    container.orders.save(order)
    assert pipeline.answer_risk_check(order.order_id).state == "RISK_APPROVED"
    assert container.breaker.trip("drill", "ops-dana")
    # Act: the execute step re-checks the approval under HALT
    out = pipeline.advance(order.order_id)
    # Assert: rejected; two evaluations in the log, the second a re-check blocked by I16
    assert out.state == "REJECTED"
    first, recheck = (e["evaluation"] for e in _raw_risk_events(container, order.order_id))
    assert (first["approved"], first.get("recheck", False), recheck["approved"], recheck["recheck"]) == (
        True, False, False, True)
    assert I16 in recheck["criticalIds"] and recheck["breakerState"] == "HALT"
    _project(container)
    with psycopg.connect(container.database_url) as conn:
        history = conn.execute("SELECT approved, recheck, breaker_state FROM views.risk_check_history"
                               " WHERE order_id = %s ORDER BY notification_id", (order.order_id,)).fetchall()
        violation = conn.execute("SELECT actual_value, threshold_value FROM views.invariant_violations"
                                 " WHERE id = %s", (f"{order.order_id}:{I16}",)).fetchone()
    assert history == [(True, False, "NORMAL"), (False, True, "HALT")]
    assert violation == ("HALT", "NOT HALT")
    assert_live_equals_replay(container, "violations")
