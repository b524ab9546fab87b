"""llm-routing §5.4/§5.8: UTC period keys and the run-rate projection."""

from typing import Any

from paulp.domain.budgets import daily_period_key, derive_budget, monthly_period_key, run_rate
from paulp.domain.routing import BudgetCategory
from tests.conformance.checkers._llm_support import FILE, assert_matches, expected_of, parse_time, tolerances
from tests.conformance.registry import Context, checker


@checker(FILE, "budget_period")
def check(case: Any, ctx: Context) -> None:
    inp, exp = case["input"], expected_of(case)
    if "timestamp" in inp:
        at = parse_time(inp["timestamp"])
        assert_matches({"dailyPeriodKey": daily_period_key(at), "monthlyPeriodKey": monthly_period_key(at)},
                       exp, tolerances(case))
        return
    assert {"now", "category"} <= set(inp), f"cannot interpret budget_period input {sorted(inp)}"
    envelope = derive_budget().envelopes[BudgetCategory(inp["category"])]
    rr = run_rate(parse_time(inp["now"]), float(inp.get("consumedDailyUsd", 0)),
                  float(inp.get("consumedMonthlyUsd", 0)), envelope)
    assert_matches({"dailyProjection": rr.daily_projection, "monthlyProjection": rr.monthly_projection,
                    "willExceedDaily": rr.will_exceed_daily, "willExceedMonthly": rr.will_exceed_monthly},
                   exp, tolerances(case))
