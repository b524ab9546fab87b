"""trading.json::execution_quality — grades, expected slippage, per-fill reports and aggregate metrics."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from paulp.domain.execution_quality import (
    ExecutionGrade,
    FillObservation,
    GradedExecution,
    execution_grade,
    execution_metrics,
    execution_summary,
    expected_slippage,
    quality_report,
)
from tests.conformance.checkers._sides import trading_expected
from tests.conformance.registry import Context, checker

TOL = 1e-6
_REPORT_FIELDS = {
    "realizedSlippage": "realized_slippage", "orderNotional": "order_notional",
    "expectedSlippage": "expected_slippage", "slippageRatio": "slippage_ratio",
    "slippageVsEdgeRatio": "slippage_vs_edge_ratio", "executionGrade": "grade",
    "kill_switch_counts": "counts_for_kill_switch",
}
_METRIC_FIELDS = {
    "totalOrders": "total_orders", "excellentCount": "excellent_count", "goodCount": "good_count",
    "acceptableCount": "acceptable_count", "poorCount": "poor_count", "averageSlippage": "average_slippage",
    "averageSlippageRatio": "average_slippage_ratio", "averageGradeScore": "average_grade_score",
    "killSwitchTriggered": "kill_switch_triggered", "killSwitchCount": "kill_switch_count",
}


def split(data: Any) -> Iterator[tuple[str, Any]]:
    for section, items in data.items():
        assert isinstance(items, list), f"section {section!r} is not a list of cases"
        for i, item in enumerate(items):
            yield f"{section}/{i:03d}", {"section": section, "case": item}


def _close(actual: Any, expected: Any, what: str) -> None:
    if isinstance(expected, bool | str):
        assert actual == expected, f"{what}: expected {expected!r}, got {actual!r}"
    else:
        assert math.isclose(actual, expected, abs_tol=TOL), f"{what}: expected {expected}, got {actual}"


def _grades(case: dict[str, Any]) -> None:
    _close(str(execution_grade(case["slippageRatio"])), case["expected_grade"], "grade")


def _expected(case: dict[str, Any]) -> None:
    got = expected_slippage(case["marketSpread"], case["orderNotional"], case["vpin"], case.get("marketDepth"))
    _close(got, case["expected"], "expectedSlippage")


def _report(case: dict[str, Any]) -> None:
    raw = case["input"]
    report = quality_report(FillObservation(
        order_id=raw["orderId"], ticker=raw["ticker"], side=raw["side"], limit_price=raw["limitPrice"],
        fill_price=raw["fillPrice"], order_size=raw["orderSize"], edge_percent=raw["edgePercent"],
        market_spread=raw["marketSpread"], vpin=raw["vpin"], market_depth=raw.get("marketDepth"),
    ))
    for key, value in trading_expected(case["expected"]).items():
        assert key in _REPORT_FIELDS, f"unknown expected field {key!r}"
        actual = getattr(report, _REPORT_FIELDS[key])
        _close(str(actual) if isinstance(value, str) else actual, value, key)


def _metrics(case: dict[str, Any]) -> None:
    reports = [GradedExecution(ExecutionGrade(r["grade"]), r["slippageVsEdgeRatio"], r["realizedSlippage"],
                               r["slippageRatio"]) for r in case["reports"]]
    metrics = execution_metrics(reports)
    assert "expected" in case or "expected_summary" in case, "metrics case without expectation"
    for key, value in trading_expected(case.get("expected", {})).items():
        assert key in _METRIC_FIELDS, f"unknown expected field {key!r}"
        _close(getattr(metrics, _METRIC_FIELDS[key]), value, key)
    if "expected_summary" in case:
        summary = execution_summary(metrics)
        assert summary == case["expected_summary"], f"summary: expected {case['expected_summary']!r}, got {summary!r}"


_SECTIONS = {"grades": _grades, "expected_slippage": _expected, "reports": _report, "metrics": _metrics}


@checker("trading.json", "execution_quality", split=split)
def check(case: Any, ctx: Context) -> None:
    section = case["section"]
    assert section in _SECTIONS, f"no interpreter for execution_quality section {section!r}"
    _SECTIONS[section](case["case"])
