"""llm-routing §5.4/§5.8: UTC period keys and the run-rate projection."""

from dataclasses import replace
from typing import Any

from paulp.domain.budgets import daily_period_key, derive_budget, monthly_period_key, run_rate
from paulp.domain.routing import BudgetCategory
from tests.conformance.checkers._llm_support import FILE, assert_matches, expected_of, parse_time, tolerances
from tests.conformance.registry import Context, checker

_RUN_RATE_KEYS = {"now", "category", "consumedDailyUsd", "consumedMonthlyUsd", "dailyLimitUsd", "monthlyLimitUsd"}


@checker(FILE, "budget_period")
def check(case: Any, ctx: Context) -> None:
    inp, exp = case["input"], expected_of(case)
    if "timestamp" in inp:
        assert set(inp) == {"timestamp"}, f"cannot interpret budget_period input {sorted(inp)}"
        at = parse_time(inp["timestamp"])
        assert_matches({"dailyPeriodKey": daily_period_key(at), "monthlyPeriodKey": monthly_period_key(at)},
                       exp, tolerances(case))
        return
    assert {"now"} <= set(inp) <= _RUN_RATE_KEYS, f"cannot interpret budget_period input {sorted(inp)}"
    envelope = derive_budget().envelopes[BudgetCategory(inp.get("category", BudgetCategory.RESEARCH_SCORING))]
    envelope = replace(envelope, daily_limit_usd=float(inp.get("dailyLimitUsd", envelope.daily_limit_usd)),
                       monthly_limit_usd=float(inp.get("monthlyLimitUsd", envelope.monthly_limit_usd)))
    now = parse_time(inp["now"])
    rr = run_rate(now, float(inp.get("consumedDailyUsd", 0)), float(inp.get("consumedMonthlyUsd", 0)), envelope)
    assert_matches({"dailyProjection": rr.daily_projection, "monthlyProjection": rr.monthly_projection,
                    "willExceedDaily": rr.will_exceed_daily, "willExceedMonthly": rr.will_exceed_monthly,
                    "dailyPeriodKey": daily_period_key(now), "monthlyPeriodKey": monthly_period_key(now)},
                   exp, tolerances(case))
