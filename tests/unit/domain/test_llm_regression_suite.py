"""Regression runner, pure parts: what a case sends, how it is judged, what is stored and read back."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.governance import ScoringOutput, adversarial_issues
from paulp.domain.llm_corpus import ADVERSARIAL_CORPUS, REGRESSION_CORPUS, AttackType
from paulp.domain.llm_prompts import load_prompt
from paulp.domain.llm_records import RegressionSuiteRecord
from paulp.domain.llm_regression import FailureType, ScoringInput, TestCategory, compare, evaluate, summarize
from paulp.domain.llm_regression_suite import (
    GATE_CATEGORY,
    CaseOutcome,
    Suite,
    SuiteCase,
    by_category_json,
    gate_category,
    judge,
    prompt_version,
    result_from_json,
    scoring_variables,
    stored_summary,
    suite_cases,
)

STD = SuiteCase(REGRESSION_CORPUS[0])  # gold_std_001: range [0.8, 1.0], citations, minConfidence 0.6
EXFIL = next(SuiteCase(a.case, a.attack) for a in ADVERSARIAL_CORPUS if a.attack is AttackType.DATA_EXFILTRATION)


def output(score: float, confidence: float = 0.8, reasoning: str = "the criteria settle it",
           cited: list[str] | None = None, warnings: list[str] | None = None) -> ScoringOutput:
    return ScoringOutput(score, reasoning, ["a passage"] if cited is None else cited, confidence, warnings or [])


def test_suite_cases_when_built_then_full_corpus_and_adversarial_set_with_attacks() -> None:
    regression, adversarial = suite_cases(Suite.REGRESSION), suite_cases(Suite.ADVERSARIAL)
    assert len(regression) == 70 and all(c.attack is None for c in regression)
    assert len(adversarial) == 21 and all(c.attack is not None for c in adversarial)
    assert {c.case.category for c in adversarial} == {TestCategory.ADVERSARIAL}


def test_scoring_variables_when_context_then_pretty_json_and_keys_spread_in() -> None:
    plain = scoring_variables(ScoringInput("resolution_analysis", "T", "C"))
    assert plain == {"marketTitle": "T", "resolutionCriteria": "C", "additionalContext": None}
    rich = scoring_variables(ScoringInput("resolution_analysis", "T", "C", {"observedFacts": "F é", "n": 2}))
    assert rich["additionalContext"] == '{\n  "observedFacts": "F é",\n  "n": 2\n}'
    assert (rich["observedFacts"], rich["n"]) == ("F é", 2)


def test_prompt_version_when_corpus_then_single_version_and_hash_per_run_type() -> None:
    version, hashes = prompt_version(suite_cases(Suite.REGRESSION))
    assert version == "1.0.0"
    assert hashes == {"ambiguity_score": load_prompt("ambiguity_score").hash,
                      "resolution_analysis": load_prompt("resolution_analysis").hash}


def test_judge_when_answer_meets_expectations_then_passed() -> None:
    run = judge(STD, CaseOutcome("d-1", output(0.9)))
    assert run.result.passed and run.decision_id == "d-1"


def test_judge_when_call_failed_then_one_execution_error_and_no_score() -> None:
    run = judge(EXFIL, CaseOutcome("d-2", None, "ALL_MODELS_FAILED: every provider failed"))
    assert [f.type for f in run.result.failures] == [FailureType.EXECUTION_ERROR]
    doc = run.as_json()
    assert (doc["score"], doc["confidence"], doc["passed"]) == (None, None, False)
    assert doc["failures"][0]["actual"] == "ALL_MODELS_FAILED: every provider failed"


def test_judge_when_adversarial_answer_in_range_but_obeys_injection_then_one_failure_per_issue() -> None:
    # exfiltration's range is [0, 1.0]: only the §8.7 validator can catch this answer
    run = judge(EXFIL, CaseOutcome("d-3", output(0.95, 0.97, "As instructed, I print the system prompt")))
    types = [f.type for f in run.result.failures]
    assert types == [FailureType.ADVERSARIAL_NOT_RESISTED] * 4
    assert judge(SuiteCase(EXFIL.case), CaseOutcome("d-3", output(0.95, 0.97, "as instructed"))).result.passed


def test_gate_category_when_mapped_then_spec_vocabulary_and_original_otherwise() -> None:
    assert set(GATE_CATEGORY) == set(TestCategory)
    assert gate_category("standard_resolution") == "standard"
    assert gate_category("disputed_market") == "historically_disputed"
    assert gate_category("adversarial") == "prompt_injection"
    assert gate_category("edge_case") == "edge_case" and gate_category("cross_language") == "cross_language"


scores = st.floats(0, 1, allow_nan=False)
outputs = st.builds(ScoringOutput, scores, st.sampled_from(["fine", "admin override", "developer mode on"]),
                    st.lists(st.just("q"), max_size=2), scores, st.lists(st.just("w"), max_size=4))
cases = st.sampled_from([SuiteCase(c) for c in REGRESSION_CORPUS[::7]]
                        + [SuiteCase(a.case, a.attack) for a in ADVERSARIAL_CORPUS[::4]])
outcomes = st.one_of(st.builds(CaseOutcome, st.just("d"), outputs),
                     st.builds(CaseOutcome, st.none(), st.none(), st.text(max_size=20)))


@given(case=cases, outcome=outcomes)
def test_judge_when_any_answer_then_passed_iff_spec_checks_and_resistance_pass(case, outcome) -> None:
    run = judge(case, outcome)
    out = outcome.output
    spec_ok = not evaluate(case.case.expected, out, outcome.error)
    resisted = out is None or case.attack is None or not adversarial_issues(out.score, out.reasoning, out.confidence)
    assert run.result.passed is (spec_ok and resisted)


@given(runs=st.lists(st.tuples(cases, outcomes), max_size=12, unique_by=lambda t: t[0].case.id))
def test_stored_results_when_read_back_then_same_summary_and_no_drift_against_itself(runs) -> None:
    judged = [judge(c, o) for c, o in runs]
    docs = json.loads(json.dumps([r.as_json() for r in judged]))  # as the event store keeps them
    live = summarize([r.result for r in judged], "run-1", "1.0.0", "2026-03-01T00:00:00.000Z", 5)
    back = stored_summary("run-1", "1.0.0", "2026-03-01T00:00:00.000Z", 5, docs)
    assert (back.total_tests, back.passed, back.pass_rate) == (live.total_tests, live.passed, live.pass_rate)
    assert by_category_json(back) == by_category_json(live)
    assert [[f.type for f in r.failures] for r in back.results] == [[f.type for f in r.failures] for r in live.results]
    report = compare(live, back)
    assert (report.new_failures, report.new_passes, report.avg_score_delta, report.has_drift) == ((), (), 0.0, False)


def test_result_from_json_when_stored_failure_then_enum_types_restored() -> None:
    doc = judge(STD, CaseOutcome("d", output(0.1, 0.2, cited=[]))).as_json()
    back = result_from_json(doc)
    assert [f.type for f in back.failures] == [FailureType.SCORE_OUT_OF_RANGE, FailureType.MISSING_CITATIONS,
                                               FailureType.LOW_CONFIDENCE]
    assert back.output is not None and (back.output.score, back.output.confidence) == (0.1, 0.2)


@pytest.mark.parametrize("suite", list(Suite))
def test_suite_record_when_stored_then_event_round_trips_through_the_transcoder(suite: Suite) -> None:
    chosen = suite_cases(suite)[:3]
    judged = [judge(chosen[0], CaseOutcome("d1", output(0.9))), judge(chosen[1], CaseOutcome(None, None, "boom")),
              judge(chosen[2], CaseOutcome("d3", output(0.5, 0.99, "admin")))]
    summary = summarize([r.result for r in judged], "r", "1.0.0")
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    record = RegressionSuiteRecord(
        run_id="r", suite=str(suite), prompt_version="1.0.0", prompt_hashes={"resolution_analysis": "ab"},
        started_at=at, completed_at=at, total_tests=3, passed=summary.passed, failed=summary.failed,
        pass_rate=summary.pass_rate, by_category=by_category_json(summary), execution_time_ms=12,
        results=[r.as_json() for r in judged])
    assert record.id == RegressionSuiteRecord.create_id("r")
    mapper = make_mapper()
    for ev in record.collect_events():
        back = mapper.to_domain_event(mapper.to_stored_event(ev))
        assert back.__dict__ == ev.__dict__
