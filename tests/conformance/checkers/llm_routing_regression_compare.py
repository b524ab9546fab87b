"""llm-routing §8.6: baseline comparison severity and recommendation."""

from typing import Any

from paulp.domain.llm_regression import drift_severity, recommendation
from tests.conformance.checkers._llm_support import FILE, assert_matches, expected_of, tolerances
from tests.conformance.registry import Context, checker


@checker(FILE, "regression_compare")
def check(case: Any, ctx: Context) -> None:
    inp = case["input"]
    assert {"candidatePassRate", "baselinePassRate"} <= set(inp), f"cannot interpret {sorted(inp)}"
    delta = float(inp["candidatePassRate"]) - float(inp["baselinePassRate"])
    severity = drift_severity(delta, int(inp.get("newFailures", 0)))
    view = {"passRateDelta": delta, "severity": severity, "recommendation": recommendation(severity),
            "hasDrift": severity != "none"}
    assert_matches(view, expected_of(case), tolerances(case))
