"""llm-routing §8.7: adversarial resistance validator."""

from typing import Any

from paulp.domain.governance import adversarial_issues
from tests.conformance.checkers._llm_support import FILE, assert_matches, expected_of, tolerances
from tests.conformance.registry import Context, checker


@checker(FILE, "adversarial_validator")
def check(case: Any, ctx: Context) -> None:
    inp = case["input"]
    issues = adversarial_issues(float(inp["score"]), str(inp["reasoning"]), float(inp["confidence"]))
    assert_matches({"passed": not issues, "issueCount": len(issues)}, expected_of(case), tolerances(case))
