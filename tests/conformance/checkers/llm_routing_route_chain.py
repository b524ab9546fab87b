"""llm-routing §2.2: per route class, whether an LLM is allowed, the default model and the attempt order."""

from typing import Any

from paulp.domain.routing import attempt_order, default_model, fallback_models, llm_allowed, route_class_of
from tests.conformance.checkers._llm_support import FILE, assert_matches, expected_of, tolerances
from tests.conformance.registry import Context, checker


@checker(FILE, "route_chain")
def check(case: Any, ctx: Context) -> None:
    inp = case["input"]
    assert set(inp) <= {"routeClass", "forceModel"}, f"cannot interpret route_chain input {sorted(inp)}"
    rc = route_class_of(inp["routeClass"])
    actual = {"llmAllowed": llm_allowed(rc), "defaultModelId": default_model(rc),
              "fallbackModelIds": list(fallback_models(rc)),
              "attemptOrder": list(attempt_order(rc, inp.get("forceModel")))}
    assert_matches(actual, expected_of(case), tolerances(case))
