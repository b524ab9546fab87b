"""llm-routing §8.6: suite aggregation over per-test results."""

from typing import Any

from paulp.domain.llm_regression import FailureType, TestCategory, TestFailure, TestResult, summarize
from tests.conformance.checkers._llm_support import FILE, assert_matches, expected_of, tolerances
from tests.conformance.registry import Context, checker

_FAIL = (TestFailure(FailureType.SCORE_OUT_OF_RANGE, None, None, "failed"),)
_RESULT_KEYS = {"testId", "category", "passed"}


def _result(i: int, r: Any) -> TestResult:
    """One per-test result: a category and a boolean ``passed`` (a string "false" is not read as a pass)."""
    assert isinstance(r, dict) and not set(r) - _RESULT_KEYS, f"cannot interpret regression_suite result {r!r}"
    assert isinstance(r["passed"], bool), f"passed must be a boolean: {r['passed']!r}"
    return TestResult(r.get("testId", f"t{i}"), TestCategory(r["category"]), () if r["passed"] else _FAIL)


@checker(FILE, "regression_suite")
def check(case: Any, ctx: Context) -> None:
    inp = case["input"]
    assert set(inp) == {"results"} and isinstance(inp["results"], list), \
        f"cannot interpret regression_suite input {sorted(inp)}"
    results = [_result(i, r) for i, r in enumerate(inp["results"])]
    s = summarize(results)
    view = {"totalTests": s.total_tests, "passed": s.passed, "failed": s.failed, "passRate": s.pass_rate,
            "byCategory": {str(c): {"total": t.total, "passed": t.passed, "failed": t.failed, "passRate": t.pass_rate}
                           for c, t in s.by_category.items()}}
    assert_matches(view, expected_of(case), tolerances(case))
