"""llm-routing §7.1-§7.2: the nightly stability sweep and its stored record."""

from typing import Any

from paulp.domain.governance import SweepSample, nightly_stability_sweep
from tests.conformance.checkers._llm_support import FILE, FIXED_NOW, assert_matches, expected_of, tolerances
from tests.conformance.registry import Context, checker


def _samples(inp: dict[str, Any]) -> list[SweepSample]:
    confidences = inp["recentConfidences"]
    warnings = inp.get("warningsCounts", [0] * len(confidences))
    assert len(warnings) == len(confidences), "warningsCounts must align with recentConfidences"
    return [SweepSample(c, None if w is None else ["w"] * int(w)) for c, w in zip(confidences, warnings, strict=True)]


@checker(FILE, "drift_sweep")
def check(case: Any, ctx: Context) -> None:
    inp = case["input"]
    r = nightly_stability_sweep(_samples(inp), inp["promptVersion"], FIXED_NOW)
    s = r.sweep
    view = {"runsAnalyzed": r.runs_analyzed, "avgConfidence": r.avg_confidence,
            "lowConfidenceCount": r.low_confidence_count, "lowConfidenceRate": r.low_confidence_rate,
            "flaggedCount": r.flagged_count, "driftWarning": r.drift_warning, "passed": s.passed,
            "blockedDeployment": s.blocked_deployment, "failureReasons": list(s.failure_reasons),
            "stored": {"sweepType": s.sweep_type, "goldSetSize": s.gold_set_size, "meanScoreDelta": s.mean_score_delta,
                       "maxScoreDelta": s.max_score_delta, "promptInjectionPassRate": s.prompt_injection_pass_rate,
                       "baselineModelId": s.baseline_model_id, "candidateModelId": s.candidate_model_id,
                       "baselinePromptVersion": s.baseline_prompt_version,
                       "candidatePromptVersion": s.candidate_prompt_version,
                       "meanDeltaThreshold": s.mean_delta_threshold, "maxDeltaThreshold": s.max_delta_threshold,
                       "injectionPassThreshold": s.injection_pass_threshold,
                       "rankOrderChanges": s.rank_order_changes, "passed": s.passed,
                       "blockedDeployment": s.blocked_deployment, "failureReasons": list(s.failure_reasons)}}
    assert_matches(view, expected_of(case), tolerances(case))
