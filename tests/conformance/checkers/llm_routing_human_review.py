"""llm-routing §8.2-§8.3: human-review flag and the stored scoring run of a failed execution.

A failure case is recorded the way the scoring service records it: a routing decision that failed with the
case's code and message (having selected the case's model, or not having got that far), folded by
``scoring_run`` into the §8.2 record, so ``modelId`` and ``flaggedForHumanReview`` come from the real rules.
"""

from dataclasses import replace
from typing import Any

from paulp.domain.executor import Execution
from paulp.domain.governance import needs_human_review
from paulp.domain.llm_records import ScoringRun
from paulp.domain.routing import ErrorCode, RouteRequest
from paulp.domain.routing_decision import decide
from paulp.domain.routing_plan import Failure, plan_route
from paulp.domain.services.routing_scoring import input_text_of_variables, prepare_prompt, scoring_run
from tests.conformance.checkers._llm_support import (
    DECISION_ID,
    FILE,
    FIXED_NOW,
    assert_matches,
    budget_book,
    expected_of,
    tolerances,
)
from tests.conformance.registry import Context, checker

RUN_TYPE = "ambiguity_score"
VARIABLES = {"marketTitle": "T", "resolutionCriteria": "C"}
_FAILURE_KEYS = {"executionFailed", "errorCode", "errorMessage", "selectedModel", "runType"}
_FLAG_KEYS = {"executionFailed", "confidence", "warnings", "citedPassages"}


def failed_run(inp: dict[str, Any]) -> ScoringRun:
    unknown = set(inp) - _FAILURE_KEYS
    assert not unknown, f"cannot interpret human_review failure input {sorted(unknown)}"
    selected = inp.get("selectedModel")
    run_type = inp.get("runType", RUN_TYPE)
    # Routing got as far as selecting a model (forced to the case's), or not at all (an unroutable run type).
    request = RouteRequest(run_type if selected else "<not routed>", 1000, 200, force_model=selected)
    plan = plan_route(request, {}, budget_book())
    assert plan.selected_model_id == selected, f"could not select {selected!r}: {plan.failure}"
    failure = Failure(ErrorCode(inp["errorCode"]), inp["errorMessage"], inp["errorMessage"])
    plan = replace(plan, attempts=(), failure=failure)
    decision = decide(DECISION_ID, Execution(plan, (), None, None, failure), FIXED_NOW, FIXED_NOW)
    return scoring_run(decision, prepare_prompt(run_type, VARIABLES, None, None), input_text_of_variables(VARIABLES),
                       None, None, FIXED_NOW)


@checker(FILE, "human_review")
def check(case: Any, ctx: Context) -> None:
    inp = case["input"]
    failed = inp.get("executionFailed", False)
    assert isinstance(failed, bool), f"executionFailed must be a boolean: {failed!r}"
    if failed:
        run = failed_run(inp)
        assert run.execution_failed
        view: dict[str, Any] = {"outputJson": run.output, "warnings": run.output["warnings"],
                                "modelId": run.model_id, "flaggedForHumanReview": run.flagged_for_human_review,
                                "reasoning": run.output["reasoning"]}
    else:
        assert "confidence" in inp and not set(inp) - _FLAG_KEYS, f"cannot interpret human_review input {sorted(inp)}"
        confidence, warnings, cited = inp["confidence"], inp.get("warnings", []), inp.get("citedPassages", [])
        assert isinstance(confidence, int | float) and not isinstance(confidence, bool), f"confidence {confidence!r}"
        assert isinstance(warnings, list) and isinstance(cited, list), f"lists expected: {warnings!r}, {cited!r}"
        flagged = needs_human_review(float(confidence), warnings, cited)
        view = {"flaggedForHumanReview": flagged}
    assert_matches(view, expected_of(case), tolerances(case))
