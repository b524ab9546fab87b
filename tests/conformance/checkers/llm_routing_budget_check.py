"""llm-routing §5.5-§5.7: budget state, the pre-call check, block-never-skip, usage recording."""

import re
from dataclasses import replace
from typing import Any

from paulp.domain.budgets import ALERT_THRESHOLD_PCT, BudgetState, BudgetUsage, PeriodType, check_budget
from paulp.domain.routing import CHAINS, RUN_TYPE_TABLE, BudgetCategory, RouteClass, RunType, model_spec
from tests.conformance.checkers._llm_support import (
    FILE,
    FIXED_NOW,
    ROUTED_INPUT_KEYS,
    assert_matches,
    book_from,
    budget_book,
    env_of,
    expected_of,
    number,
    routed_view,
    run_routed,
    tolerances,
)
from tests.conformance.registry import Context, checker

_SCENARIO = re.compile(r"^(\w+) chain reaches (\w+) which succeeds with costUsd ([0-9.]+)$")


def _state_view(s: BudgetState) -> dict[str, Any]:
    return {"limitUsd": s.limit_usd, "consumedUsd": s.consumed_usd, "remainingUsd": s.remaining_usd,
            "percentUsed": s.percent_used, "isBlocked": s.is_blocked, "periodStart": s.period_start,
            "periodType": s.period_type, "category": s.category}


def _routed_with_consumption(case: Any) -> None:
    inp = case["input"]
    unknown = set(inp) - ROUTED_INPUT_KEYS
    assert not unknown, f"budget_check call fields this checker cannot interpret: {sorted(unknown)}"
    r = run_routed(inp["call"], env_of(inp.get("env")), inp.get("attemptOutcomes"), inp.get("usage"), book_from(inp))
    view = routed_view(r)
    view.update(decisionResolvedModelId=r.record.resolved_model_id,
                decisionProjectedCostUsd=r.record.projected_cost_usd)
    exp = expected_of(case)
    prefix = exp.pop("decisionFailureReasonPrefix", None)
    if prefix is not None:
        assert (r.record.failure_reason or "").startswith(prefix), r.record.failure_reason
    assert_matches(view, exp, tolerances(case))


def _scenario(case: Any) -> None:
    m = _SCENARIO.match(case["input"]["scenario"])
    assert m, f"cannot interpret scenario {case['input']['scenario']!r}"
    rc = next(c for c in RouteClass if c.value.startswith(m.group(1)))
    run_type = next(rt for rt in RunType if RUN_TYPE_TABLE[rt][0] is rc)
    chain = list(CHAINS[rc])
    stop = next(i for i, m_id in enumerate(chain) if model_spec(m_id).provider == m.group(2))
    outcomes = ["error"] * stop + ["ok"]
    r = run_routed({"runType": run_type, "estimatedInputTokens": 1000, "estimatedOutputTokens": 200},
                   outcomes=outcomes, usage={"costUsd": float(m.group(3))})
    assert r.execution.success and r.execution.usage is not None and r.record.budget_category is not None
    entries = [BudgetUsage.recorded(r.record.id, r.record.budget_category, r.execution.usage.cost_usd, FIXED_NOW)]
    assert_matches({"usageEntries": len(entries), "costUsd": entries[0].cost_usd}, expected_of(case),
                   tolerances(case))


_PERIOD_KEYS = {"periodType", "category", "limitUsd", "consumedUsd", "projectedCostUsd", "alertThresholdPct"}
_BOOK_KEYS = {"category", "consumedDailyUsd", "consumedMonthlyUsd", "projectedCostUsd", "dailyLimitUsd",
              "monthlyLimitUsd"}


def _direct(case: Any) -> None:
    """A check (or, without ``projectedCostUsd``, the state at projected 0) of one period's state, or of a
    category's default envelopes with the case's consumption (limits may be overridden)."""
    inp = case["input"]
    exp = expected_of(case)
    view: dict[str, Any] = {}
    if "periodType" in inp:
        assert not set(inp) - _PERIOD_KEYS, f"cannot interpret budget_check input {sorted(set(inp) - _PERIOD_KEYS)}"
        period = PeriodType(inp["periodType"])
        cat = BudgetCategory(inp.get("category", BudgetCategory.RESEARCH_SCORING))
        state = BudgetState(cat, period, "", number(inp, "limitUsd"), number(inp, "consumedUsd"))
        other = BudgetState(cat, PeriodType.MONTHLY if period is PeriodType.DAILY else PeriodType.DAILY, "",
                            float("inf"), 0.0)
        daily, monthly = (state, other) if period is PeriodType.DAILY else (other, state)
        threshold = number(inp, "alertThresholdPct", ALERT_THRESHOLD_PCT[cat])
        verdict = check_budget(daily, monthly, number(inp, "projectedCostUsd", 0), threshold)
        view.update(_state_view(state))  # the one state the case describes, also at the top level
    else:
        assert not set(inp) - _BOOK_KEYS, f"cannot interpret budget_check input {sorted(set(inp) - _BOOK_KEYS)}"
        cat = BudgetCategory(inp["category"])
        book = budget_book({cat: number(inp, "consumedDailyUsd", 0)}, {cat: number(inp, "consumedMonthlyUsd", 0)})
        if "dailyLimitUsd" in inp or "monthlyLimitUsd" in inp:
            env = book.envelopes[cat]
            env = replace(env, daily_limit_usd=number(inp, "dailyLimitUsd", env.daily_limit_usd),
                          monthly_limit_usd=number(inp, "monthlyLimitUsd", env.monthly_limit_usd))
            book = replace(book, envelopes={**book.envelopes, cat: env})
        verdict = book.check(cat, number(inp, "projectedCostUsd", 0))
    view.update({"allowed": verdict.allowed, "reason": verdict.reason, "shouldAlert": verdict.should_alert,
                 "dailyState": _state_view(verdict.daily), "monthlyState": _state_view(verdict.monthly),
                 "dailyPercentUsed": verdict.daily.percent_used, "monthlyPercentUsed": verdict.monthly.percent_used})
    assert_matches(view, exp, tolerances(case))


@checker(FILE, "budget_check")
def check(case: Any, ctx: Context) -> None:
    inp = case["input"]
    if "call" in inp:
        _routed_with_consumption(case)
    elif "scenario" in inp:
        _scenario(case)
    elif {"projectedCostUsd", "consumedUsd", "consumedDailyUsd", "consumedMonthlyUsd"} & set(inp):
        _direct(case)
    else:
        raise AssertionError(f"cannot interpret budget_check input {sorted(inp)}")
