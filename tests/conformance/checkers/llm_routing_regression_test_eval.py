"""llm-routing §8.6: per-test regression checks."""

from typing import Any

from paulp.domain.governance import ScoringOutput
from paulp.domain.llm_regression import Expectation, evaluate
from tests.conformance.checkers._llm_support import FILE, assert_matches, expected_of, tolerances
from tests.conformance.registry import Context, checker


@checker(FILE, "regression_test_eval")
def check(case: Any, ctx: Context) -> None:
    inp = case["input"]
    lo, hi = inp["scoreRange"]
    expected = Expectation((float(lo), float(hi)), bool(inp["mustCitePassages"]), float(inp["minConfidence"]),
                           inp.get("maxWarnings"))
    if "raises" in inp:
        failures = evaluate(expected, None, str(inp["raises"]))
    else:
        o = inp["output"]
        output = ScoringOutput(float(o["score"]), str(o.get("reasoning", "")), list(o.get("citedPassages", [])),
                               float(o["confidence"]), list(o.get("warnings", [])))
        failures = evaluate(expected, output)
    view = {"passed": not failures, "failureTypes": [f.type for f in failures]}
    assert_matches(view, expected_of(case), tolerances(case))
