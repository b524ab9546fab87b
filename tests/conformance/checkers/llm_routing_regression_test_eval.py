"""llm-routing §8.6: per-test regression checks."""

from typing import Any

from paulp.domain.governance import ScoringOutput
from paulp.domain.llm_regression import Expectation, evaluate
from tests.conformance.checkers._llm_support import FILE, assert_matches, expected_of, tolerances
from tests.conformance.registry import Context, checker

_INPUT_KEYS = {"scoreRange", "mustCitePassages", "minConfidence", "maxWarnings", "mustReject", "output", "raises"}
_OUTPUT_KEYS = {"score", "reasoning", "citedPassages", "confidence", "warnings"}


@checker(FILE, "regression_test_eval")
def check(case: Any, ctx: Context) -> None:
    inp = case["input"]
    assert not set(inp) - _INPUT_KEYS, f"cannot interpret regression_test_eval input {sorted(set(inp) - _INPUT_KEYS)}"
    assert ("output" in inp) != ("raises" in inp), "a test either raised or returned an output, not both"
    lo, hi = inp["scoreRange"]
    # §8.6: mustReject is part of the expectation but never evaluated.
    expected = Expectation((float(lo), float(hi)), bool(inp["mustCitePassages"]), float(inp["minConfidence"]),
                           inp.get("maxWarnings"), inp.get("mustReject"))
    if "raises" in inp:
        failures = evaluate(expected, None, str(inp["raises"]))
    else:
        o = inp["output"]
        unknown = set(o) - _OUTPUT_KEYS
        assert not unknown, f"cannot interpret regression_test_eval output {sorted(unknown)}"
        output = ScoringOutput(float(o["score"]), str(o.get("reasoning", "")), list(o.get("citedPassages", [])),
                               float(o["confidence"]), list(o.get("warnings", [])))
        failures = evaluate(expected, output)
    view = {"passed": not failures, "failureTypes": [f.type for f in failures]}
    assert_matches(view, expected_of(case), tolerances(case))
