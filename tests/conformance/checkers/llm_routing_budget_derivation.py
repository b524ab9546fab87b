"""llm-routing §5.3: envelopes derived from assumptions; mix validation; run type to category."""

from typing import Any

import pytest

from paulp.domain.budgets import DEFAULT_ASSUMPTIONS, InvalidBudgetAssumptions, derive_budget
from paulp.domain.prices import fixed
from paulp.domain.routing import BudgetCategory, budget_category, parse_run_type
from tests.conformance.checkers._llm_support import FILE, assert_matches, expected_of, tolerances
from tests.conformance.registry import Context, checker


def _view(p: Any) -> dict[str, Any]:
    rows = [{"routeClass": r.route_class, "resolvedModelId": r.resolved_model_id, "callsPerDay": r.calls_per_day,
             "projectedDailyCostUsd": r.projected_daily_cost_usd,
             "projectedMonthlyCostUsd": r.projected_monthly_cost_usd} for r in p.by_route_class]
    view: dict[str, Any] = {"byRouteClass": rows, "projectedDailyCostUsd": p.projected_daily_cost_usd,
                            "projectedMonthlyCostUsd": p.projected_monthly_cost_usd,
                            "limits": {"dailyTotal": p.daily_total, "monthlyTotal": p.monthly_total}}
    for cat, env in p.envelopes.items():
        view[str(cat)] = {"dailyLimitUsd": env.daily_limit_usd, "monthlyLimitUsd": env.monthly_limit_usd,
                          "alertThresholdPct": env.alert_threshold_pct, "hardCapPct": env.hard_cap_pct}
    view["envelopes"] = {str(cat): view[str(cat)] for cat in p.envelopes}
    view.update(view["limits"])  # dailyTotal / monthlyTotal also at the top level
    return view


@checker(FILE, "budget_derivation")
def check(case: Any, ctx: Context) -> None:
    inp, exp = case["input"], expected_of(case)
    tol = tolerances(case)
    if "assumptions" not in inp:
        assert set(exp) and not inp, f"cannot interpret budget_derivation input {sorted(inp)}"
        assert_matches({rt: budget_category(parse_run_type(rt)) for rt in exp}, exp, tol)
        return
    assert not set(inp) - {"assumptions", "override"}, f"cannot interpret budget_derivation input {sorted(inp)}"
    given = inp["assumptions"]
    # "DEFAULT" is §5.2; an object gives assumptions in §5.2's names (each replacing that default).
    assert given == "DEFAULT" or isinstance(given, dict), f"unknown assumptions {given!r}"
    base = DEFAULT_ASSUMPTIONS if given == "DEFAULT" else DEFAULT_ASSUMPTIONS.with_overrides(given)
    assumptions = base.with_overrides(inp.get("override", {}))
    # a case may leave out "error" (ADR 0486): what the error mentions says it is one
    if exp.pop("error") if "error" in exp else bool({"errorMentions", "sum"} & set(exp)):
        with pytest.raises(InvalidBudgetAssumptions) as err:
            derive_budget(assumptions)
        if "errorMentions" in exp:
            assert exp.pop("errorMentions") in err.value.message, err.value.message
        if "sum" in exp:
            # §5.3: the sum "to 4 decimals", written as the source's toFixed(4) writes it (ties up).
            assert fixed(float(exp.pop("sum")), 4) in err.value.message, err.value.message
        assert not exp, f"uninterpreted expectations {sorted(exp)}"
        return
    projection = derive_budget(assumptions)
    if "greaterThanDefault" in exp:
        base = derive_budget()
        bigger = all(projection.envelopes[c].daily_limit_usd > base.envelopes[c].daily_limit_usd
                     and projection.envelopes[c].monthly_limit_usd > base.envelopes[c].monthly_limit_usd
                     for c in BudgetCategory)
        assert bigger == exp.pop("greaterThanDefault"), "envelopes vs default"
    assert_matches(_view(projection), exp, tol)
