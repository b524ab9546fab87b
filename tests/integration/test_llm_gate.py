"""LLM scoring on the trade path (llm-routing §8.3, §8.4; trading §3.3 I12, I13; ADR 0425), on real PostgreSQL and
NATS with the loopback LLM providers: governed scoring calls record runs, the projector puts them in the read model,
and the order pipeline's gate and risk check read them from there."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool
from typer.testing import CliRunner

from paulp.adapters.market_data import StaticMarketData
from paulp.adapters.scoring_runs import ViewScoring
from paulp.api.app import create_app
from paulp.api.cli import app as cli_app
from paulp.domain.clock import FixedClock
from paulp.domain.governance import AWAITING_REVIEW_REASON, NO_RUN_REASON
from paulp.domain.llm_records import ScoringRun
from paulp.domain.reviews import PairTerms
from paulp.domain.routing import Provider
from paulp.domain.services.pipeline import SCORING_UNREAD_REASON, OrderPipeline
from paulp.domain.strategy_registry import StrategyStatus
from tests.integration.helpers import NOW, deep_book, facts, make_container, signal
from tests.integration.routing_support import catch_up, fake_env, use_routing

pytestmark = pytest.mark.integration

AUTH = {"Authorization": "Bearer test-admin-token-0123456789abcdef"}
TICKERS = ("KXTEST-A", "KXTEST-B", "KXTEST-C", "KXTEST-D", "KXTEST-E")


def _market() -> StaticMarketData:
    """The helpers' book moved to 39/40, so 25 contracts at 40c are $10: xv_signal's whole 5 % of $200 (§5.7) and
    I15's minimum order."""
    out = {}
    for t in TICKERS:
        f = facts(t)
        out[t] = replace(f, snapshot=replace(f.snapshot, yes_bid=39, yes_ask=40, no_bid=60, no_ask=61),
                         book=deep_book(39, 40))
    return StaticMarketData(out)


@pytest.fixture
def system(fresh_db, nats_url, namespace, fakes, monkeypatch):
    for name, value in (("PAULP_DATABASE_URL", fresh_db), ("PAULP_NATS_URL", nats_url),
                        ("PAULP_NAMESPACE", namespace), ("COLUMNS", "200"), ("ENVIRONMENT", "test")):
        monkeypatch.setenv(name, value)  # the CLI, run in-process, resolves the same services
    clock = FixedClock(NOW)
    container = make_container(fresh_db, nats_url, namespace, clock=clock)
    use_routing(container, fake_env(fakes))
    container.strategies.set_status("xv_signal", StrategyStatus.PAPER, "ops", "LLM gate test")  # seed: DISABLED
    yield container, clock, fakes
    container.close()


def _xv(sid: str, ticker: str):
    return replace(signal(sid, ticker, size=25, price=40), strategy="xv_signal")


def _score(system, run_type: str, target: tuple[str, str], score: float, confidence: float = 0.9) -> str:
    """One governed scoring call whose provider answers ``score``; the run's id once projected."""
    container, clock, fakes = system
    clock.set(clock.now() + timedelta(seconds=2))
    fakes[Provider.ANTHROPIC].content = json.dumps({
        "score": score, "reasoning": "read the criteria", "citedPassages": ["Resolves YES if ..."],
        "confidence": confidence, "warnings": []})
    out = container.routing.govern(run_type, {"marketTitle": "T", "resolutionCriteria": "C"},
                                   metadata={"targetEntityType": target[0], "targetEntityId": target[1]})
    assert out.success, out.error
    catch_up(container, "llm_routing", "market_pairs")
    return str(ScoringRun.create_id(out.decision_id))


def _process(system, sid: str, ticker: str, pipeline: OrderPipeline | None = None, strategy: str = "xv_signal"):
    container, clock, _ = system
    clock.set(clock.now() + timedelta(seconds=2))  # paper orders of one strategy at least 1 s apart
    market = _market()
    pipe = pipeline or container.pipeline(market)
    sig = _xv(sid, ticker) if strategy == "xv_signal" else replace(signal(sid, ticker, size=25, price=40),
                                                                   strategy=strategy)
    out = pipe.process(replace(sig, signal_id=sid))
    history = container.orders.history(out.order_id)
    return out, history


def _events(history: list[Any], name: str) -> list[Any]:
    return [e for e in history if type(e).__name__ == name]


def _evaluation(history: list[Any]) -> dict[str, Any]:
    return dict(_events(history, "RiskChecked")[-1].evaluation)


def test_gate_when_no_run_then_refused_before_risk_and_after_review_the_order_proceeds(system) -> None:
    container, _, _ = system
    # no scoring run on the market: refused at the gate, with the spec's reason, in the order's history
    out, history = _process(system, "xv-none", "KXTEST-A")
    assert (out.state, out.last_error) == ("PRE_TRADE_FAILED", NO_RUN_REASON)
    (checked,) = _events(history, "PreTradeChecked")
    assert checked.result["llmGate"] == {"canExecute": False, "reason": NO_RUN_REASON, "runId": None}
    assert _events(history, "RiskChecked") == []  # never reached the governor (nor the breaker's count)

    # a low-confidence answer is flagged for review: refused, naming the run
    flagged = _score(system, "ambiguity_score", ("market", "KXTEST-B"), 0.2, confidence=0.5)
    out, history = _process(system, "xv-flagged", "KXTEST-B")
    assert (out.state, out.last_error) == ("PRE_TRADE_FAILED", AWAITING_REVIEW_REASON)
    assert _events(history, "PreTradeChecked")[0].result["llmGate"]["runId"] == flagged

    closed = CliRunner().invoke(cli_app, ["llm", "gate", "KXTEST-B", "--strategy", "xv_signal", "--json"])
    assert closed.exit_code == 1, closed.output
    assert json.loads(closed.output)["gate"] == {"canExecute": False, "reason": AWAITING_REVIEW_REASON,
                                                 "runId": flagged}

    # a human override (paulp llm override) clears the flag: the next signal passes the gate and risk, and fills;
    # the evaluation shows the override's score and the run it came from
    who = ["--reason", "criteria are clear on re-reading", "--actor", "ops-dana"]
    bad = CliRunner().invoke(cli_app, ["llm", "override", flagged, "--score", "1.5", *who])
    unknown = CliRunner().invoke(cli_app, ["llm", "override", "not-a-run", "--score", "0.3", *who])
    assert (bad.exit_code, unknown.exit_code) == (2, 2), (bad.output, unknown.output)
    assert "from 0 to 1" in bad.output and "no scoring run" in unknown.output
    done = CliRunner().invoke(cli_app, ["llm", "override", flagged, "--score", "0.3", *who])
    assert done.exit_code == 0, done.output
    catch_up(container, "llm_routing")
    opened = CliRunner().invoke(cli_app, ["llm", "gate", "KXTEST-B", "--json"])
    assert opened.exit_code == 0, opened.output
    shown = json.loads(opened.output)
    assert (shown["gate"]["canExecute"], shown["ambiguityScore"], shown["ambiguityScoreSource"]) == (
        True, 0.3, "human_override")
    out, history = _process(system, "xv-reviewed", "KXTEST-B")
    assert out.state == "FILLED", (out, _evaluation(history)["criticalIds"] if _events(history, "RiskChecked")
                                   else history)
    assert _events(history, "PreTradeChecked")[0].result["llmGate"] == {"canExecute": True, "reason": None,
                                                                         "runId": flagged}
    evaluation = _evaluation(history)
    document = evaluation["input"]["request"]
    assert document["ambiguityScore"] == 0.3 and "I13_MAX_AMBIGUITY_SCORE" not in evaluation["warningIds"]
    assert document["llmScoring"]["ambiguityRunId"] == flagged
    assert document["llmScoring"]["ambiguityScoreSource"] == "human_override"


def test_risk_when_ambiguity_0_6_then_i13_warns_and_when_equivalence_0_5_then_i12_blocks(system) -> None:
    container, _, _ = system
    # ambiguity 0.6 from a confident run: the gate opens, I13 warns (it does not block), the order fills
    ambiguous = _score(system, "ambiguity_score", ("market", "KXTEST-C"), 0.6)
    out, history = _process(system, "xv-ambiguous", "KXTEST-C")
    evaluation = _evaluation(history)
    assert out.state == "FILLED", evaluation["criticalIds"]
    assert "I13_MAX_AMBIGUITY_SCORE" in evaluation["warningIds"]  # beside the book's I10 spread warning
    i13 = next(r for r in evaluation["results"] if r["id"] == "I13_MAX_AMBIGUITY_SCORE")
    assert (i13["passed"], i13["actual"], i13["threshold"]) == (False, 0.6, 0.4)
    assert evaluation["input"]["request"]["llmScoring"]["ambiguityRunId"] == ambiguous

    # equivalence 0.5 (similar_but_divergent, §8.4) of a pair holding the market: I12 blocks the cross-venue order
    pair = container.reviews.propose_pair(PairTerms("kalshi", "KXTEST-D", "polymarket", "PM-D"), "ops").pair_id
    _score(system, "ambiguity_score", ("market", "KXTEST-D"), 0.1)  # opens the gate
    equivalence = _score(system, "equivalence_assessment", ("market_pair", pair), 0.5)
    out, history = _process(system, "xv-divergent", "KXTEST-D")
    evaluation = _evaluation(history)
    assert out.state == "RISK_REJECTED"
    assert evaluation["criticalIds"] == ["I12_MARKET_EQUIVALENCE_GRADE"]
    assert evaluation["input"]["request"]["equivalenceGrade"] == "similar_but_divergent"
    assert evaluation["input"]["request"]["llmScoring"]["equivalenceRunId"] == equivalence
    assert evaluation["input"]["request"]["llmScoring"]["equivalenceScore"] == 0.5

    # over HTTP: what the trade path reads, then a reviewer's override of the equivalence run wins (ADR 0425)
    client = TestClient(create_app(container))
    shown = client.get("/admin/routing/scoring-runs/gate?marketId=KXTEST-D&strategy=xv_signal", headers=AUTH)
    assert shown.status_code == 200, shown.text
    assert (shown.json()["equivalenceGrade"], shown.json()["equivalenceRunId"]) == ("similar_but_divergent",
                                                                                    equivalence)
    path = f"/admin/routing/scoring-runs/{equivalence}/override"
    bad = client.post(path, json={"score": "0.95", "reason": "same event"}, headers=AUTH)
    unknown = client.post("/admin/routing/scoring-runs/nope/override", json={"score": 0.9, "reason": "x"},
                          headers=AUTH)
    assert (bad.status_code, bad.json()["code"], unknown.status_code) == (400, "INVALID_OVERRIDE", 404)
    done = client.post(path, json={"score": 0.95, "reason": "both settle on the BLS print"}, headers=AUTH)
    assert done.status_code == 200, done.text
    assert done.json()["humanOverrideScore"] == 0.95
    catch_up(container, "llm_routing")
    out, history = _process(system, "xv-reviewed-pair", "KXTEST-D")
    document = _evaluation(history)["input"]["request"]
    assert out.state == "FILLED", _evaluation(history)["criticalIds"]
    assert (document["equivalenceGrade"], document["llmScoring"]["equivalenceScoreSource"]) == (
        "identical", "human_override")


def test_scoring_read_model_unreadable_then_gated_order_refused_and_ungated_order_fails_i13(system) -> None:
    container, _, _ = system
    closed: ConnectionPool[Any] = ConnectionPool(container.database_url, min_size=1, max_size=1, open=True)
    closed.close()  # the real adapter over a pool that can no longer connect
    pipeline = OrderPipeline(container.orders, container.breaker, container.execution, _market(),
                             container.portfolio(), None, limits=container.limit_settings,
                             policies=container.execution_policies, modes=container.execution_modes(),
                             scoring=ViewScoring(closed))
    out, _ = _process(system, "xv-unread", "KXTEST-E", pipeline)
    assert (out.state, out.last_error) == ("PRE_TRADE_FAILED", SCORING_UNREAD_REASON)
    # bonding asks no LLM: not gated; I13 fails as a warning (never read as "no run") and the order still fills
    out, history = _process(system, "bond-unread", "KXTEST-E", pipeline, strategy="bonding")
    evaluation = _evaluation(history)
    assert out.state == "FILLED", evaluation["criticalIds"]
    assert "I13_MAX_AMBIGUITY_SCORE" in evaluation["warningIds"]
    assert evaluation["input"]["request"]["ambiguityUnavailable"] is True
    assert "equivalenceUnavailable" not in evaluation["input"]["request"]  # bonding does not trade across venues


def test_scoring_run_when_projected_then_gate_shows_the_specs_input_text_and_its_hash(system) -> None:
    """§8.2 (ADR 0469): the run keeps JSON.stringify({marketTitle, resolutionCriteria, additionalContext}) and
    hashes it; the context keys spread into the prompt variables are not part of it."""
    import hashlib

    from paulp.domain.llm_regression import ScoringInput
    from paulp.domain.llm_regression_suite import scoring_variables

    container, clock, fakes = system
    fakes[Provider.ANTHROPIC].content = json.dumps({
        "score": 0.1, "reasoning": "clear", "citedPassages": ["Resolves YES if ..."], "confidence": 0.9})
    inp = ScoringInput("ambiguity_score", "Fed cut?", "Resolves YES if ...", {"floor": 1e-05, "cap": 2.0})
    expected = ('{"marketTitle":"Fed cut?","resolutionCriteria":"Resolves YES if ...",'
                '"additionalContext":{"floor":0.00001,"cap":2}}')
    targets = {"KXTEST-A": {"scoring_input": inp}, "KXTEST-B": {}}  # given, and read back from the variables
    for ticker, extra in targets.items():
        clock.set(clock.now() + timedelta(seconds=2))
        out = container.routing.govern("ambiguity_score", scoring_variables(inp),
                                       metadata={"targetEntityType": "market", "targetEntityId": ticker}, **extra)
        assert out.success, out.error
    catch_up(container, "llm_routing")
    client = TestClient(create_app(container))
    for ticker in targets:
        shown = client.get(f"/admin/routing/scoring-runs/gate?marketId={ticker}", headers=AUTH)
        assert shown.status_code == 200, shown.text
        [run] = shown.json()["runs"]
        assert run["inputText"] == expected
        assert run["inputHash"] == hashlib.sha256(expected.encode("utf-8")).hexdigest()
