"""llm-routing §2.4/§6.5/§1.3: single-call cost, actual cost from usage, static decision preview."""

from typing import Any

from paulp.domain.routing import actual_cost_usd, cost_usd, decision_preview
from tests.conformance.checkers._llm_support import FILE, assert_matches, expected_of, tolerances, whole
from tests.conformance.registry import Context, checker

_COST_KEYS = {"modelId", "inputTokens", "outputTokens", "cachedInputTokens", "cachedTokens"}
_USAGE_KEYS = {"inputTokens", "outputTokens", "cachedTokens", "cachedInputTokens", "costUsd"}
_PREVIEW_KEYS = {"runType", "estimatedInputTokens", "estimatedOutputTokens"}
SPEC_COST_TOL = (1e-9, 0.0)


def _cached(data: dict[str, Any]) -> Any:
    """§2.4 calls it cachedInputTokens, §6.5's usage cachedTokens; either spelling, 0 when absent."""
    assert not {"cachedInputTokens", "cachedTokens"} <= set(data), f"two cached-token counts in {data}"
    return whole(data, "cachedInputTokens" if "cachedInputTokens" in data else "cachedTokens")


@checker(FILE, "cost_estimate")
def check(case: Any, ctx: Context) -> None:
    inp, exp = case["input"], expected_of(case)
    # §2.4: "vectors use a 1e-9 relative tolerance"; the harness default (1e-6 absolute) is wider than a cost of a
    # few tokens, so a case naming no tolerance gets the spec's.
    named = any(k in case.get("expected", {}) or k in case for k in ("relTolerance", "absTolerance"))
    tol = tolerances(case) if named else SPEC_COST_TOL
    if "usage" in inp:
        u = inp["usage"]
        assert not set(inp) - {"modelId", "usage"} and not set(u) - _USAGE_KEYS, f"cannot interpret {inp}"
        actual = actual_cost_usd(inp["modelId"], whole(u, "inputTokens"), whole(u, "outputTokens"), _cached(u),
                                 u.get("costUsd", 0.0))
        assert_matches({"actualCostUsd": actual, "costUsd": actual}, exp, tol)
    elif "modelId" in inp:
        assert not set(inp) - _COST_KEYS, f"cannot interpret cost_estimate input {sorted(set(inp) - _COST_KEYS)}"
        cost = cost_usd(inp["modelId"], whole(inp, "inputTokens"), whole(inp, "outputTokens"), _cached(inp))
        assert_matches({"costUsd": cost}, exp, tol)
    elif "runType" in inp:
        assert not set(inp) - _PREVIEW_KEYS, f"cannot interpret preview input {sorted(set(inp) - _PREVIEW_KEYS)}"
        # token counts as ints: 100.0 is the JSON number 100 and must hash as 100 does (ADR 0486)
        p = decision_preview(inp["runType"], whole(inp, "estimatedInputTokens"), whole(inp, "estimatedOutputTokens"))
        assert_matches({"routeClass": p.route_class, "selectedModelId": p.selected_model_id,
                        "projectedCostUsd": p.projected_cost_usd, "budgetCategory": p.budget_category,
                        "decisionHash": p.decision_hash, "runType": p.run_type}, exp, tol)
    else:
        raise AssertionError(f"cannot interpret cost_estimate input {sorted(inp)}")
