"""A market's scoring runs mapped to the §8.3 gate and to I12/I13's inputs (llm-routing §8.3, §8.4; ADR 0425)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paulp.domain.governance import AWAITING_REVIEW_REASON, NO_RUN_REASON, execution_gate
from paulp.domain.risk_input import RiskRequest
from paulp.domain.risk_invariants import i12_market_equivalence_grade, i13_max_ambiguity_score
from paulp.domain.risk_limits import DEFAULT_LIMITS
from paulp.domain.risk_results import Conditions
from paulp.domain.scoring_inputs import MarketScoring, MarketScoringRun, market_gate, scoring_inputs
from paulp.domain.strategy_registry import CATALOGUE, find_strategy
from tests.support.hypothesis_scale import examples

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
MARKET = "KXFED-26MAR-T4.25"


def run(rid: str, minutes: int = 0, run_type: str = "ambiguity_score", score: float | None = 0.2,
        flagged: bool = False, override: float | None = None, target: tuple[str, str] = ("market", MARKET),
        ) -> MarketScoringRun:
    return MarketScoringRun(rid, run_type, target[0], target[1], T0 + timedelta(minutes=minutes), score, flagged,
                            override)


def scoring(*runs: MarketScoringRun, pairs: tuple[str, ...] = ()) -> MarketScoring:
    return MarketScoring(MARKET, runs, frozenset(pairs))


# ------------------------------------------------------------------ §8.3 gate


def test_gate_when_no_run_on_the_market_then_closed_with_the_spec_reason() -> None:
    other = run("r-other", target=("market", "KXOTHER"))
    pair = run("r-pair", run_type="equivalence_assessment", target=("market_pair", "p1"))
    decision = market_gate(scoring(other, pair, pairs=("p1",)))  # runs on other targets do not count
    assert (decision.can_execute, decision.reason, decision.run_id) == (False, NO_RUN_REASON, None)


def test_gate_when_latest_run_flagged_without_override_then_awaiting_review_even_if_an_older_one_passed() -> None:
    decision = market_gate(scoring(run("old-ok", 0), run("new-flagged", 5, flagged=True)))
    assert (decision.can_execute, decision.reason, decision.run_id) == (False, AWAITING_REVIEW_REASON, "new-flagged")


def test_gate_when_latest_flagged_run_has_a_human_override_then_open() -> None:
    decision = market_gate(scoring(run("flagged", 3, flagged=True, override=0.1)))
    assert decision.to_json() == {"canExecute": True, "reason": None, "runId": "flagged"}


def test_gate_when_latest_by_created_at_passes_then_open_whatever_the_order_given() -> None:
    # the newest run decides by createdAt, not by its place in the list
    decision = market_gate(scoring(run("newest", 10), run("older-flagged", 1, flagged=True)))
    assert (decision.can_execute, decision.run_id) == (True, "newest")


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.booleans(), st.one_of(st.none(), st.just(0.3)),
                          st.sampled_from(["ambiguity_score", "resolution_analysis"])), max_size=6))
def test_gate_when_any_runs_then_same_verdict_as_the_spec_function(specs: list[tuple[int, bool, float | None, str]]
                                                                   ) -> None:
    runs = [run(f"r{n}", m, rt, flagged=f, override=o) for n, (m, f, o, rt) in enumerate(specs)]
    decision = market_gate(scoring(*runs))
    verdict = execution_gate(r.gate_view() for r in runs)
    assert (decision.can_execute, decision.reason) == (verdict.can_execute, verdict.reason)
    if runs:  # the run it names is a latest one
        assert decision.run_id in {r.run_id for r in runs if r.created_at == max(x.created_at for x in runs)}


# ------------------------------------------------------------------ I13 ambiguity


def test_inputs_when_several_ambiguity_runs_then_the_latest_score_and_its_id() -> None:
    inputs = scoring_inputs(scoring(run("a1", 0, score=0.1), run("a3", 9, score=0.6), run("a2", 4, score=0.2)),
                            needs_equivalence=False)
    assert (inputs.ambiguity_score, inputs.ambiguity_run and inputs.ambiguity_run.run_id) == (0.6, "a3")
    assert inputs.provenance() == {"ambiguityRunId": "a3", "ambiguityScoreSource": "model", "equivalenceRunId": None,
                                   "equivalenceScore": None, "equivalenceScoreSource": None}


def test_inputs_when_the_latest_ambiguity_run_has_an_override_then_the_human_score_wins() -> None:
    inputs = scoring_inputs(scoring(run("a1", 0, score=0.1), run("a2", 5, score=0.9, flagged=False, override=0.3)),
                            needs_equivalence=False)
    assert inputs.ambiguity_score == 0.3
    assert inputs.provenance()["ambiguityScoreSource"] == "human_override"


def test_inputs_when_an_older_run_was_overridden_but_a_newer_model_run_exists_then_the_newer_score() -> None:
    inputs = scoring_inputs(scoring(run("a1", 0, score=0.9, override=0.1), run("a2", 5, score=0.5)), False)
    assert (inputs.ambiguity_score, inputs.provenance()["ambiguityRunId"]) == (0.5, "a2")


def test_inputs_when_latest_run_on_the_market_is_of_another_type_then_the_latest_ambiguity_run_still_counts() -> None:
    runs = (run("a1", 0, score=0.45), run("res", 9, run_type="resolution_analysis", score=0.99),
            run("elsewhere", 10, score=0.0, target=("market", "KXOTHER")))
    inputs = scoring_inputs(scoring(*runs), needs_equivalence=False)
    assert (inputs.ambiguity_score, inputs.provenance()["ambiguityRunId"]) == (0.45, "a1")


def test_inputs_when_no_ambiguity_run_then_none_and_i13_reads_the_spec_default_0() -> None:
    inputs = scoring_inputs(scoring(), needs_equivalence=True)
    assert (inputs.ambiguity_score, inputs.equivalence_grade) == (None, None)
    req = RiskRequest(MARKET, 10.0, "economics", ambiguity_score=inputs.ambiguity_score,
                      equivalence_grade=inputs.equivalence_grade)
    conditions = Conditions(T0, "NORMAL")
    assert i13_max_ambiguity_score(req, None, DEFAULT_LIMITS, conditions).passed  # type: ignore[arg-type]
    i12 = i12_market_equivalence_grade(req, None, DEFAULT_LIMITS, conditions)  # type: ignore[arg-type]
    assert (i12.passed, i12.actual_value) == (True, "not_evaluated")


# ------------------------------------------------------------------ I12 equivalence (§8.4)


@pytest.mark.parametrize(("score", "grade"), [(1.0, "identical"), (0.9, "identical"), (0.75, "near_equivalent"),
                                              (0.7, "near_equivalent"), (0.5, "similar_but_divergent"),
                                              (0.4, "similar_but_divergent"), (0.39, "not_equivalent")])
def test_inputs_when_equivalence_needed_then_grade_from_the_latest_pair_run(score: float, grade: str) -> None:
    runs = (run("e-old", 0, "equivalence_assessment", 1.0, target=("market_pair", "p1")),
            run("e-new", 7, "equivalence_assessment", score, target=("market_pair", "p1")),
            run("e-unrelated", 9, "equivalence_assessment", 1.0, target=("market_pair", "p-not-holding-it")))
    inputs = scoring_inputs(scoring(*runs, pairs=("p1",)), needs_equivalence=True)
    assert inputs.equivalence_grade == grade
    assert (inputs.provenance()["equivalenceRunId"], inputs.provenance()["equivalenceScore"]) == ("e-new", score)


def test_inputs_when_equivalence_run_on_the_market_itself_and_overridden_then_the_human_grade() -> None:
    runs = (run("e1", 0, "equivalence_assessment", 0.5, target=("market_pair", "p1")),
            run("e2", 3, "equivalence_assessment", 0.5, flagged=False, override=0.95))
    inputs = scoring_inputs(scoring(*runs, pairs=("p1",)), needs_equivalence=True)
    assert (inputs.equivalence_grade, inputs.provenance()["equivalenceScoreSource"]) == ("identical", "human_override")


def test_inputs_when_the_strategy_does_not_trade_across_venues_then_no_grade_whatever_the_runs() -> None:
    runs = (run("e1", 0, "equivalence_assessment", 0.1, target=("market_pair", "p1")),)
    inputs = scoring_inputs(scoring(*runs, pairs=("p1",)), needs_equivalence=False)
    assert (inputs.equivalence_grade, inputs.equivalence_run) == (None, None)


def test_i12_i13_when_the_runs_could_not_be_read_then_both_fail_never_read_as_no_run() -> None:
    req = RiskRequest(MARKET, 10.0, "economics", ambiguity_unavailable=True, equivalence_unavailable=True)
    conditions = Conditions(T0, "NORMAL")
    i12 = i12_market_equivalence_grade(req, None, DEFAULT_LIMITS, conditions)  # type: ignore[arg-type]
    i13 = i13_max_ambiguity_score(req, None, DEFAULT_LIMITS, conditions)  # type: ignore[arg-type]
    assert (i12.passed, i12.actual_value, i13.passed, i13.actual_value) == (False, "unavailable", False, None)
    shown = replace(req, llm_scoring={"error": "OperationalError: down"}).to_json()
    assert (shown["ambiguityUnavailable"], shown["equivalenceUnavailable"], shown["llmScoring"]) == (
        True, True, {"error": "OperationalError: down"})
    assert not {"ambiguityUnavailable", "equivalenceUnavailable", "llmScoring"} & set(
        RiskRequest(MARKET, 10.0, "economics").to_json())  # earlier documents keep their shape (and hash)


# ------------------------------------------------------------------ which strategies (ADR 0425)


def test_registry_when_read_then_only_the_llm_dependent_strategies_are_gated() -> None:
    assert {i.id for i in CATALOGUE if i.llm_gated} == {"xv_signal", "resolution"}
    assert {i.id for i in CATALOGUE if i.needs_equivalence} == {"xv_signal"}
    gated = find_strategy("resolution_mispricing")
    assert gated is not None and gated.llm_gated  # a signal naming the type is gated as its strategy
