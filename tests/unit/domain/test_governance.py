"""Governance rules: scoring parse, review flag, gate, drift sweep/blocks, prompts, regression, corpus."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from paulp.domain.governance import (
    ScoringRunView,
    SweepSample,
    SweepView,
    adversarial_issues,
    execution_gate,
    latest_deploy_allowed,
    nightly_stability_sweep,
    parse_scoring_output,
    recent_block,
)
from paulp.domain.llm_corpus import REGRESSION_CORPUS, corpus_violations
from paulp.domain.llm_prompts import PROMPTS, render
from paulp.domain.llm_regression import drift_severity

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


def test_parse_when_think_block_and_fence_then_strict_falls_back_and_lenient_parses() -> None:
    content = '<think>hmm</think>\n```json\n{"score":0.2,"reasoning":"r","citedPassages":["a"],"confidence":0.8}\n```'
    assert parse_scoring_output(content)[1]
    output, fallback = parse_scoring_output(content, lenient=True)
    assert not fallback and output.score == 0.2


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_parse_when_non_json_literal_then_fallback(literal: str) -> None:
    content = f'{{"score":0.3,"reasoning":"r","citedPassages":["a"],"confidence":{literal}}}'
    output, fallback = parse_scoring_output(content)
    assert fallback and output.score == 0.5 and output.confidence == 0.0
    assert output.warnings == ["LLM response parsing failed", content]
    assert parse_scoring_output(content.replace(literal, "0.9"))[1] is False


def test_parse_when_score_boolean_then_fallback() -> None:
    assert parse_scoring_output('{"score":true,"reasoning":"r"}')[1]


BEYOND_DOUBLE = "1" + "0" * 400  # a JSON integer no double holds (JSON.parse reads it as Infinity)


@pytest.mark.parametrize("score", [BEYOND_DOUBLE, "-" + BEYOND_DOUBLE])
def test_parse_when_score_is_an_integer_beyond_a_double_then_fallback_not_overflow(score: str) -> None:
    content = f'{{"score":{score},"reasoning":"r","citedPassages":["a"],"confidence":0.9}}'
    output, fallback = parse_scoring_output(content)  # raised OverflowError (ADR 0482)
    assert fallback and output.score == 0.5 and output.warnings == ["LLM response parsing failed", content[:500]]


def test_parse_when_confidence_is_an_integer_beyond_a_double_then_parsed_as_not_a_number() -> None:
    content = f'{{"score":0.4,"reasoning":"r","citedPassages":[],"confidence":{BEYOND_DOUBLE}}}'
    output, fallback = parse_scoring_output(content)  # raised OverflowError (ADR 0482)
    assert not fallback and output.score == 0.4
    assert output.confidence == parse_scoring_output(content.replace(BEYOND_DOUBLE, "1e400"))[0].confidence == 0.5


def test_gate_when_latest_flagged_without_override_then_awaiting_review() -> None:
    runs = [ScoringRunView(NOW - timedelta(days=1), False), ScoringRunView(NOW, True)]
    assert execution_gate(runs).reason == "Awaiting human review"


def test_sweep_when_null_confidence_then_counts_as_zero_and_low() -> None:
    report = nightly_stability_sweep([SweepSample(None, None), SweepSample(1.0, ["w"])], "1.0.0", NOW)
    assert report.avg_confidence == 0.5 and report.low_confidence_count == 1 and report.flagged_count == 1
    assert report.sweep.blocked_deployment


@pytest.mark.parametrize(("confidences", "reasons"), [
    ([0.5, 0.625], ["Average confidence 0.563 below 0.600"]),  # mean 0.5625 exactly: a tie, rounded up
    ([0.4] * 5 + [0.9] * 11, ["Low-confidence rate 31.3% exceeds 30.0%"]),  # 5/16 = 31.25 % exactly
])
def test_sweep_when_figure_ends_on_a_half_then_reason_rounds_half_up(confidences: list[float],
                                                                    reasons: list[str]) -> None:
    # §7.1 step 4 formats like the source's toFixed: ties of the exact value go up, not to even.
    report = nightly_stability_sweep([SweepSample(c, []) for c in confidences], "1.0.0", NOW)
    assert list(report.sweep.failure_reasons) == reasons


def test_blocks_when_block_older_than_lookback_then_not_recent() -> None:
    sweeps = [SweepView(NOW - timedelta(days=8), True)]
    assert not recent_block(sweeps, NOW) and latest_deploy_allowed(sweeps) is False
    assert latest_deploy_allowed([]) is None


def test_adversarial_when_reasoning_mentions_admin_and_system_prompt_then_two_issues() -> None:
    assert len(adversarial_issues(0.1, "The ADMIN asked; see the system  prompt", 0.2)) == 2


@pytest.mark.parametrize(("reasoning", "issues"), [
    ("as\ufeffinstructed", 1),  # U+FEFF is JavaScript whitespace, not Python's
    ("developer\x85mode", 0), ("system\x1fprompt", 0),  # Python whitespace, not JavaScript's
    ("\u017fystem prompt", 0), ("adm\u0131n", 0), ("ADM\u0130N", 0),  # no /i folding onto ASCII without /u
    ("developer\u3000mode", 1), ("OVERRIDE", 1),
])
def test_adversarial_when_text_is_unicode_then_matched_as_javascript_regex(reasoning: str, issues: int) -> None:
    # §8.7: the source's patterns are JavaScript /pattern/i regular expressions.
    assert len(adversarial_issues(0.1, reasoning, 0.1)) == issues


def test_render_when_value_has_dollar_patterns_then_substituted_literally() -> None:
    assert render("{{a}}", {"a": "$& $1"}) == "$& $1"


@pytest.mark.parametrize(("value", "text", "kept"), [
    (True, "true", True), (False, "false", False), (1.0, "1", True), (0, "0", False), (2.5, "2.5", True),
    ([], "", True), (["a", None, 3], "a,,3", True), (None, "", False), ("", "", False),
    (0.00001, "0.00001", True), (1e-7, "1e-7", True), (1e16, "10000000000000000", True), (1e21, "1e+21", True),
    (-0.0, "0", False), ({"k": 1}, "[object Object]", True), ([0.5, {}], "0.5,[object Object]", True),
])
def test_render_when_value_is_not_a_string_then_text_and_truthiness_as_the_source(value: object, text: str,
                                                                                  kept: bool) -> None:
    # §8.2 "values converted to text when substituted": the source's String(v) and JavaScript truthiness.
    assert render("v={{v}}{{#if v}}!{{/if}}", {"v": value}) == "v=" + text + ("!" if kept else "")


def test_prompts_when_hashed_then_distinct_and_versioned() -> None:
    hashes = {p.hash for p in PROMPTS.values()}
    assert len(hashes) == 4 and all(p.version == "1.0.0" for p in PROMPTS.values())


def test_severity_when_large_improvement_then_severe() -> None:
    assert drift_severity(0.2, 0) == "severe"


def test_corpus_when_checked_then_no_violations() -> None:
    assert corpus_violations(REGRESSION_CORPUS) == []
