"""llm-routing §2.4/§6.5/§1.3: single-call cost, actual cost from usage, static decision preview."""

from typing import Any

from paulp.domain.routing import actual_cost_usd, cost_usd, decision_preview
from tests.conformance.checkers._llm_support import FILE, assert_matches, expected_of, tolerances
from tests.conformance.registry import Context, checker


@checker(FILE, "cost_estimate")
def check(case: Any, ctx: Context) -> None:
    inp, exp = case["input"], expected_of(case)
    tol = tolerances(case)
    if "usage" in inp:
        u = inp["usage"]
        actual = actual_cost_usd(inp["modelId"], u.get("inputTokens", 0), u.get("outputTokens", 0),
                                 u.get("cachedTokens", 0), u.get("costUsd", 0.0))
        assert_matches({"actualCostUsd": actual}, exp, tol)
    elif "modelId" in inp:
        cost = cost_usd(inp["modelId"], inp["inputTokens"], inp["outputTokens"], inp.get("cachedInputTokens", 0))
        assert_matches({"costUsd": cost}, exp, tol)
    elif "runType" in inp:
        p = decision_preview(inp["runType"], inp["estimatedInputTokens"], inp["estimatedOutputTokens"])
        assert_matches({"routeClass": p.route_class, "selectedModelId": p.selected_model_id,
                        "projectedCostUsd": p.projected_cost_usd, "budgetCategory": p.budget_category,
                        "decisionHash": p.decision_hash}, exp, tol)
    else:
        raise AssertionError(f"cannot interpret cost_estimate input {sorted(inp)}")
