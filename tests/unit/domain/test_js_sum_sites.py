"""§5.3 mix sum, §5.8 totals and §9.6 routing stats add floats left to right, as the source's JavaScript does.

Each test's inputs add to a different double under compensated summation (``math.fsum``, and Python 3.12's
builtin ``sum``) than one addition at a time, so the builtin ``sum`` would give the wrong figure on 3.12. Our venv
is 3.11, whose ``sum`` is not compensated: the tests also put 3.12's ``sum`` into the module under test, which
is how they fail on the code that still used the builtin (ADR 0478).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pytest

from paulp.domain import budgets, routing_stats
from paulp.domain.budgets import (
    BudgetAssumptions,
    BudgetProjection,
    Envelope,
    InvalidBudgetAssumptions,
    derive_budget,
    total_spending,
)
from paulp.domain.routing import BudgetCategory, RouteClass
from paulp.domain.routing_stats import DecisionFact
from tests.unit.domain.test_js_text import compensated_sum

CONFIDENCES = [0.37, 0.7, 0.61, 0.72]  # ADR 0472's values: 2.3999999999999995 left to right, 2.4 compensated
TENTHS = [0.1] * 10  # 0.9999999999999999 left to right, 1.0 compensated
# Route mixes (hard control first, at 0) whose decimal sums are 0.9999. REFUSED is 0.9998999999999999 added left
# to right, more than 1e-4 from 1, and 0.9999 compensated; ACCEPTED is the reverse.
REFUSED_MIX = [0.0, 0.2653, 0.1236, 0.3235, 0.2875]
ACCEPTED_MIX = [0.0, 0.0733, 0.2287, 0.0472, 0.6507]


def left_to_right(values: Iterable[float]) -> float:
    total = 0.0
    for value in values:
        total = total + value
    return total


@pytest.mark.parametrize("values", [CONFIDENCES, TENTHS, REFUSED_MIX, ACCEPTED_MIX])
def test_inputs_when_added_compensated_then_differ_from_left_to_right(values: list[float]) -> None:
    assert left_to_right(values) != math.fsum(values)
    assert compensated_sum(values) == math.fsum(values)


def mix(values: list[float]) -> dict[RouteClass, float]:
    return dict(zip(RouteClass, values, strict=True))


def test_route_mix_when_left_to_right_sum_exceeds_tolerance_then_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Arrange: §5.3 validates |sum(routeMix) - 1| <= 1e-4 on the source's running total.
    monkeypatch.setattr(budgets, "sum", compensated_sum, raising=False)
    assert abs(math.fsum(REFUSED_MIX) - 1) <= budgets.MIX_TOLERANCE < abs(left_to_right(REFUSED_MIX) - 1)
    # Act / Assert
    with pytest.raises(InvalidBudgetAssumptions, match=r"routeMix must sum to 1 \(got 0\.9999\)"):
        derive_budget(BudgetAssumptions(route_mix=mix(REFUSED_MIX)))


def test_route_mix_when_left_to_right_sum_within_tolerance_then_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budgets, "sum", compensated_sum, raising=False)
    assert abs(left_to_right(ACCEPTED_MIX) - 1) <= budgets.MIX_TOLERANCE < abs(math.fsum(ACCEPTED_MIX) - 1)
    assert derive_budget(BudgetAssumptions(route_mix=mix(ACCEPTED_MIX))).projected_daily_cost_usd > 0


def projection(daily: list[float]) -> BudgetProjection:
    envelopes = {cat: Envelope(d, d * 10, 80.0) for cat, d in zip(BudgetCategory, daily, strict=True)}
    return BudgetProjection((), 0.0, 0.0, envelopes)


def test_total_limits_when_summed_then_left_to_right(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budgets, "sum", compensated_sum, raising=False)
    p = projection(CONFIDENCES)
    assert p.daily_total == left_to_right(CONFIDENCES) == 2.3999999999999995
    assert p.daily_total != math.fsum(CONFIDENCES)
    monthly = [d * 10 for d in CONFIDENCES]  # 23.999999999999996 left to right, 24.0 compensated
    assert p.monthly_total == left_to_right(monthly) and p.monthly_total != math.fsum(monthly)


def test_total_spending_when_summed_then_left_to_right(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budgets, "sum", compensated_sum, raising=False)
    by_category = {str(c): v for c, v in zip(BudgetCategory, CONFIDENCES, strict=True)}
    spending = total_spending(by_category)
    assert spending["total"] == left_to_right(CONFIDENCES) and spending["total"] != math.fsum(CONFIDENCES)
    assert spending["byCategory"] == by_category


def fact(rc: RouteClass, latency: float | None, cost: float | None) -> DecisionFact:
    return DecisionFact(str(rc), True, latency, cost)


def test_routing_stats_total_cost_when_summed_then_left_to_right(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routing_stats, "sum", compensated_sum, raising=False)
    s = routing_stats.routing_stats([fact(RouteClass.CHEAP_ENRICHMENT, 10, c) for c in TENTHS])
    assert s.total_cost_usd == left_to_right(TENTHS) == 0.9999999999999999
    assert s.total_cost_usd != math.fsum(TENTHS)


def test_routing_stats_class_latency_when_averaged_then_left_to_right(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routing_stats, "sum", compensated_sum, raising=False)
    s = routing_stats.routing_stats([fact(RouteClass.SCANNER_FASTPATH, t, 0.0) for t in TENTHS])
    mean = s.by_route_class[RouteClass.SCANNER_FASTPATH].avg_latency_ms
    assert mean == left_to_right(TENTHS) / 10 == 0.09999999999999999
    assert mean != math.fsum(TENTHS) / 10


def test_routing_stats_weighted_latency_when_summed_then_left_to_right(monkeypatch: pytest.MonkeyPatch) -> None:
    # One decision in each LLM class: the per-class means are the latencies, weighted by a count of 1, added in
    # the classes' order (hard control's 0 first).
    monkeypatch.setattr(routing_stats, "sum", compensated_sum, raising=False)
    classes = [rc for rc in RouteClass if rc is not RouteClass.DETERMINISTIC_HARD_CONTROL]
    s = routing_stats.routing_stats([fact(rc, t, 0.0) for rc, t in zip(classes, CONFIDENCES, strict=True)])
    assert s.avg_latency_ms == left_to_right([0.0, *CONFIDENCES]) / 4 == 0.5999999999999999
    assert s.avg_latency_ms != math.fsum(CONFIDENCES) / 4
