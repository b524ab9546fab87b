"""llm-routing §7.1-§7.2: the nightly stability sweep and its stored record."""

from typing import Any

from paulp.api.routing_jobs import SWEEP_MAX_RUNS
from paulp.domain.governance import SweepSample, nightly_stability_sweep
from tests.conformance.checkers._llm_support import FILE, FIXED_NOW, assert_matches, expected_of, tolerances
from tests.conformance.registry import Context, checker

_INPUT_KEYS = {"recentConfidences", "warningsCounts", "promptVersion"}


def _samples(inp: dict[str, Any]) -> list[SweepSample]:
    """The runs as the sweep job selects them (§7.1 step 1): the case lists them newest first; at most 100."""
    confidences = inp["recentConfidences"]
    warnings = inp.get("warningsCounts", [0] * len(confidences))
    assert len(warnings) == len(confidences), "warningsCounts must align with recentConfidences"
    return [SweepSample(c, None if w is None else ["w"] * int(w))
            for c, w in zip(confidences, warnings, strict=True)][:SWEEP_MAX_RUNS]


@checker(FILE, "drift_sweep")
def check(case: Any, ctx: Context) -> None:
    inp = case["input"]
    assert not set(inp) - _INPUT_KEYS, f"cannot interpret drift_sweep input {sorted(set(inp) - _INPUT_KEYS)}"
    r = nightly_stability_sweep(_samples(inp), inp.get("promptVersion", "1.0.0"), FIXED_NOW)
    s = r.sweep
    view = {"runsAnalyzed": r.runs_analyzed, "avgConfidence": r.avg_confidence,
            "lowConfidenceCount": r.low_confidence_count, "lowConfidenceRate": r.low_confidence_rate,
            "flaggedCount": r.flagged_count, "flaggedRate": r.flagged_rate, "triggered": True,
            "driftWarning": r.drift_warning, "passed": s.passed,
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
