"""llm-routing §8.2-§8.3: human-review flag and the stored output of a failed execution."""

from typing import Any

from paulp.domain.governance import execution_failure_output, needs_human_review
from tests.conformance.checkers._llm_support import FILE, assert_matches, expected_of, tolerances
from tests.conformance.registry import Context, checker

NO_MODEL = "routing:none"


@checker(FILE, "human_review")
def check(case: Any, ctx: Context) -> None:
    inp = case["input"]
    if inp.get("executionFailed"):
        out = execution_failure_output(inp["errorCode"], inp["errorMessage"])
        view = {"outputJson": out.as_json(), "warnings": out.warnings, "modelId": inp.get("selectedModel") or NO_MODEL,
                "flaggedForHumanReview": True, "reasoning": out.reasoning}
    else:
        assert "confidence" in inp, f"cannot interpret human_review input {sorted(inp)}"
        flagged = needs_human_review(float(inp["confidence"]), inp.get("warnings", []), inp.get("citedPassages", []))
        view = {"flaggedForHumanReview": flagged}
    assert_matches(view, expected_of(case), tolerances(case))
