"""Running the gold corpus and the adversarial set (llm-routing §8.6-§8.8): the pure parts of the runner.

What a case sends (the §8.2 scoring variables), how its governed call is judged (§8.6 checks, plus the
§8.7 resistance validator for the adversarial set), how a result is persisted and read back (a stored
baseline keeps its per-test results, so the whole §8.6 drift report applies), and the §8.8 category
mapping of the gate read model.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from paulp.domain.governance import ScoringOutput, adversarial_issues
from paulp.domain.llm_corpus import ADVERSARIAL_CORPUS, REGRESSION_CORPUS, AdversarialCase, AttackType
from paulp.domain.llm_prompts import load_prompt
from paulp.domain.llm_regression import (
    FailureType,
    GoldCase,
    ScoringInput,
    SuiteSummary,
    TestCategory,
    TestFailure,
    TestResult,
    evaluate,
    summarize,
)

TARGET_TYPE = "regression_test"  # targetEntityType of a regression call's scoring run (§8.2 metadata)
RESISTS = "no sign of following the injected instructions"


class Suite(StrEnum):
    REGRESSION = "regression"
    ADVERSARIAL = "adversarial"


# §8.8 recommended mapping into the gate read model's vocabulary; categories it has no word for keep theirs.
GATE_CATEGORY: Mapping[TestCategory, str] = {
    TestCategory.STANDARD_RESOLUTION: "standard",
    TestCategory.EDGE_CASE: "edge_case",
    TestCategory.DISPUTED_MARKET: "historically_disputed",
    TestCategory.AMBIGUOUS_PHRASING: "ambiguous_phrasing",
    TestCategory.ADVERSARIAL: "prompt_injection",
    TestCategory.EQUIVALENCE: "equivalence",
    TestCategory.INVARIANT_EXPLANATION: "invariant_explanation",
}
ADVERSARIAL_GATE_CATEGORIES = ("prompt_injection", "adversarial")  # P3_ADVERSARIAL_TESTS_PASS reads these


def gate_category(category: str) -> str:
    try:
        return GATE_CATEGORY[TestCategory(category)]
    except ValueError:
        return category


@dataclass(frozen=True)
class SuiteCase:
    """One case to run; ``attack`` is set for the adversarial set, whose answers also face §8.7."""

    case: GoldCase
    attack: AttackType | None = None


def suite_cases(suite: Suite, regression: Sequence[GoldCase] = REGRESSION_CORPUS,
                adversarial: Sequence[AdversarialCase] = ADVERSARIAL_CORPUS) -> tuple[SuiteCase, ...]:
    if suite is Suite.REGRESSION:
        return tuple(SuiteCase(c) for c in regression)
    return tuple(SuiteCase(a.case, a.attack) for a in adversarial)


def scoring_variables(inp: ScoringInput) -> dict[str, object]:
    """§8.2: title, criteria, additionalContext as 2-space JSON (or None), then every context key spread in."""
    ctx = dict(inp.additional_context) if inp.additional_context else None
    variables: dict[str, object] = {
        "marketTitle": inp.market_title, "resolutionCriteria": inp.resolution_criteria,
        "additionalContext": json.dumps(ctx, indent=2, ensure_ascii=False) if ctx is not None else None}
    variables.update(ctx or {})
    return variables


def prompt_version(cases: Iterable[SuiteCase]) -> tuple[str, dict[str, str]]:
    """The suite's prompt version (one version, or run_type@version pairs when they differ) and each hash."""
    templates = {c.case.input.run_type: load_prompt(c.case.input.run_type) for c in cases}
    versions = {t.version for t in templates.values()}
    label = versions.pop() if len(versions) == 1 else ",".join(f"{rt}@{t.version}" for rt, t in sorted(
        templates.items()))
    return label, {rt: t.hash for rt, t in sorted(templates.items())}


@dataclass(frozen=True)
class CaseOutcome:
    """What the governed call gave: the parsed output, or the error that stood in for it."""

    decision_id: str | None
    output: ScoringOutput | None
    error: str | None = None


@dataclass(frozen=True)
class CaseRun:
    case: SuiteCase
    result: TestResult
    decision_id: str | None

    def as_json(self) -> dict[str, Any]:
        """The persisted per-test result (§8.6 recommendation): spec fields plus what links it back."""
        out, lo_hi = self.result.output, self.case.case.expected.score_range
        return {
            "testId": self.result.test_id, "category": str(self.result.category), "passed": self.result.passed,
            "failures": [{"type": str(f.type), "expected": f.expected, "actual": f.actual, "message": f.message}
                         for f in self.result.failures],
            "score": out.score if out is not None else None,
            "confidence": out.confidence if out is not None else None,
            "runType": self.case.case.input.run_type, "attack": str(self.case.attack) if self.case.attack else None,
            "expectedScoreMin": lo_hi[0], "expectedScoreMax": lo_hi[1], "decisionId": self.decision_id,
        }


def judge(case: SuiteCase, outcome: CaseOutcome) -> CaseRun:
    """§8.6 checks; an adversarial answer also fails once per §8.7 issue (none without an output)."""
    failures = evaluate(case.case.expected, outcome.output, outcome.error)
    if case.attack is not None and outcome.output is not None:
        out = outcome.output
        failures += [TestFailure(FailureType.ADVERSARIAL_NOT_RESISTED, RESISTS, issue, issue)
                     for issue in adversarial_issues(out.score, out.reasoning, out.confidence)]
    result = TestResult(case.case.id, case.case.category, tuple(failures), outcome.output)
    return CaseRun(case, result, outcome.decision_id)


def by_category_json(summary: SuiteSummary) -> dict[str, dict[str, Any]]:
    return {str(c): {"total": t.total, "passed": t.passed, "failed": t.failed, "passRate": t.pass_rate}
            for c, t in summary.by_category.items()}


def result_from_json(doc: Mapping[str, Any]) -> TestResult:
    """A stored per-test result as the §8.6 comparison needs it (score and confidence, no reasoning)."""
    failures = tuple(TestFailure(FailureType(f["type"]), f.get("expected"), f.get("actual"), f.get("message", ""))
                     for f in doc.get("failures", []))
    score, confidence = doc.get("score"), doc.get("confidence")
    output = ScoringOutput(float(score), "", [], float(confidence or 0.0)) if score is not None else None
    return TestResult(str(doc["testId"]), TestCategory(doc["category"]), failures, output)


def stored_summary(run_id: str, version: str, timestamp: str, execution_time_ms: int,
                   results: Sequence[Mapping[str, Any]]) -> SuiteSummary:
    """A stored suite as a baseline: its per-test results are kept, so new failures and deltas count."""
    return summarize([result_from_json(r) for r in results], run_id, version, timestamp, execution_time_ms)
