"""Gold-corpus regression (llm-routing §8.5-§8.6): per-test evaluation, suite summary, baseline drift."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from paulp.domain.governance import ScoringOutput
from paulp.domain.js_text import js_sum


class TestCategory(StrEnum):
    __test__ = False  # not a pytest class

    STANDARD_RESOLUTION = "standard_resolution"
    EDGE_CASE = "edge_case"
    DISPUTED_MARKET = "disputed_market"
    AMBIGUOUS_PHRASING = "ambiguous_phrasing"
    ADVERSARIAL = "adversarial"
    EQUIVALENCE = "equivalence"
    INVARIANT_EXPLANATION = "invariant_explanation"


class FailureType(StrEnum):
    SCORE_OUT_OF_RANGE = "score_out_of_range"
    MISSING_CITATIONS = "missing_citations"
    LOW_CONFIDENCE = "low_confidence"
    TOO_MANY_WARNINGS = "too_many_warnings"
    EXECUTION_ERROR = "execution_error"
    ADVERSARIAL_NOT_RESISTED = "adversarial_not_resisted"  # a §8.7 resistance issue (adversarial set only)
    SHOULD_HAVE_REJECTED = "should_have_rejected"  # declared by the source, never evaluated


@dataclass(frozen=True)
class ScoringInput:
    run_type: str
    market_title: str
    resolution_criteria: str
    additional_context: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Expectation:
    score_range: tuple[float, float]
    must_cite_passages: bool
    min_confidence: float
    max_warnings: int | None = None
    must_reject: bool | None = None


@dataclass(frozen=True)
class GoldCase:
    id: str
    category: TestCategory
    name: str
    description: str
    input: ScoringInput
    expected: Expectation
    created_at: str = "2026-02-01T00:00:00.000Z"
    source: str | None = None


@dataclass(frozen=True)
class TestFailure:
    __test__ = False

    type: FailureType
    expected: Any
    actual: Any
    message: str


@dataclass(frozen=True)
class TestResult:
    __test__ = False

    test_id: str
    category: TestCategory
    failures: tuple[TestFailure, ...]
    output: ScoringOutput | None = None

    @property
    def passed(self) -> bool:
        return not self.failures


def evaluate(expected: Expectation, output: ScoringOutput | None, error: str | None = None) -> list[TestFailure]:
    """§8.6 per-test checks; a raised call is one execution_error and nothing else."""
    if output is None:
        return [TestFailure(FailureType.EXECUTION_ERROR, "no exception", error, f"execution failed: {error}")]
    failures: list[TestFailure] = []
    lo, hi = expected.score_range
    if output.score < lo or output.score > hi:
        failures.append(TestFailure(FailureType.SCORE_OUT_OF_RANGE, [lo, hi], output.score,
                                    f"score {output.score} outside [{lo}, {hi}]"))
    if expected.must_cite_passages and not output.cited_passages:
        failures.append(TestFailure(FailureType.MISSING_CITATIONS, ">= 1 citation", 0, "no cited passages"))
    if output.confidence < expected.min_confidence:
        failures.append(TestFailure(FailureType.LOW_CONFIDENCE, expected.min_confidence, output.confidence,
                                    f"confidence {output.confidence} below {expected.min_confidence}"))
    if expected.max_warnings is not None and len(output.warnings) > expected.max_warnings:
        failures.append(TestFailure(FailureType.TOO_MANY_WARNINGS, expected.max_warnings, len(output.warnings),
                                    f"{len(output.warnings)} warnings exceed {expected.max_warnings}"))
    return failures


@dataclass(frozen=True)
class CategoryTally:
    total: int
    passed: int
    failed: int
    pass_rate: float


def _tally(passes: Sequence[bool]) -> CategoryTally:
    ok = sum(passes)
    return CategoryTally(len(passes), ok, len(passes) - ok, ok / len(passes) if passes else 0.0)


@dataclass(frozen=True)
class SuiteSummary:
    run_id: str
    prompt_version: str
    timestamp: str
    total_tests: int
    passed: int
    failed: int
    pass_rate: float
    by_category: Mapping[TestCategory, CategoryTally]
    execution_time_ms: int
    results: tuple[TestResult, ...] = field(default_factory=tuple)


def summarize(results: Sequence[TestResult], run_id: str = "", prompt_version: str = "", timestamp: str = "",
              execution_time_ms: int = 0) -> SuiteSummary:
    """Totals and a tally for all 7 categories (zeros where a category had no tests)."""
    overall = _tally([r.passed for r in results])
    by_cat = {c: _tally([r.passed for r in results if r.category is c]) for c in TestCategory}
    return SuiteSummary(run_id, prompt_version, timestamp, overall.total, overall.passed, overall.failed,
                        overall.pass_rate, by_cat, execution_time_ms, tuple(results))


class DriftSeverity(StrEnum):
    NONE = "none"
    MINOR = "minor"
    MODERATE = "moderate"
    SEVERE = "severe"


class Recommendation(StrEnum):
    APPROVE = "approve"
    REVIEW = "review"
    REJECT = "reject"


def drift_severity(pass_rate_delta: float, new_failures: int) -> DriftSeverity:
    """|delta| is used, so a large improvement is also severe (source behaviour, flagged in reports)."""
    a = abs(pass_rate_delta)
    if a < 0.02 and new_failures == 0:
        return DriftSeverity.NONE
    if a < 0.05 and new_failures <= 2:
        return DriftSeverity.MINOR
    if a < 0.10 and new_failures <= 5:
        return DriftSeverity.MODERATE
    return DriftSeverity.SEVERE


def recommendation(severity: DriftSeverity) -> Recommendation:
    if severity in (DriftSeverity.NONE, DriftSeverity.MINOR):
        return Recommendation.APPROVE
    return Recommendation.REVIEW if severity is DriftSeverity.MODERATE else Recommendation.REJECT


@dataclass(frozen=True)
class DriftReport:
    pass_rate_delta: float
    avg_score_delta: float
    avg_confidence_delta: float
    new_failures: tuple[str, ...]
    new_passes: tuple[str, ...]
    category_drifts: Mapping[TestCategory, float]
    severity: DriftSeverity

    @property
    def recommendation(self) -> Recommendation:
        return recommendation(self.severity)

    @property
    def has_drift(self) -> bool:
        return self.severity is not DriftSeverity.NONE


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return js_sum(items) / len(items) if items else 0.0


def compare(candidate: SuiteSummary, baseline: SuiteSummary) -> DriftReport:
    """§8.6 baseline comparison; a stored baseline without results only contributes its pass rate."""
    delta = candidate.pass_rate - baseline.pass_rate
    base = {r.test_id: r for r in baseline.results}
    pairs = [(r, base[r.test_id]) for r in candidate.results if r.test_id in base]
    scored = [(c.output, b.output) for c, b in pairs if c.output is not None and b.output is not None]
    new_failures = tuple(c.test_id for c, b in pairs if not c.passed and b.passed)
    new_passes = tuple(c.test_id for c, b in pairs if c.passed and not b.passed)
    drifts = {cat: candidate.by_category[cat].pass_rate - baseline.by_category[cat].pass_rate
              for cat in TestCategory if cat in candidate.by_category and cat in baseline.by_category}
    return DriftReport(delta, _mean(c.score - b.score for c, b in scored),
                       _mean(c.confidence - b.confidence for c, b in scored), new_failures, new_passes, drifts,
                       drift_severity(delta, len(new_failures)))
