"""llm-routing §8.6: suite aggregation over per-test results."""

from typing import Any

from paulp.domain.llm_regression import FailureType, TestCategory, TestFailure, TestResult, summarize
from tests.conformance.checkers._llm_support import FILE, assert_matches, expected_of, tolerances
from tests.conformance.registry import Context, checker

_FAIL = (TestFailure(FailureType.SCORE_OUT_OF_RANGE, None, None, "failed"),)


@checker(FILE, "regression_suite")
def check(case: Any, ctx: Context) -> None:
    results = [TestResult(r.get("testId", f"t{i}"), TestCategory(r["category"]), () if r["passed"] else _FAIL)
               for i, r in enumerate(case["input"]["results"])]
    s = summarize(results)
    view = {"totalTests": s.total_tests, "passed": s.passed, "failed": s.failed, "passRate": s.pass_rate,
            "byCategory": {str(c): {"total": t.total, "passed": t.passed, "failed": t.failed, "passRate": t.pass_rate}
                           for c, t in s.by_category.items()}}
    assert_matches(view, expected_of(case), tolerances(case))
