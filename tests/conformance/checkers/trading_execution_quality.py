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


_LABELS = frozenset({"name", "note"})
# What each case may carry. ``source_behaviour`` records the source's (buggy) figure beside the normative one and is
# documentation, never asserted. Anything else is refused: an unread input would leave the case judged on defaults.
_CASE_KEYS = {
    "grades": _LABELS | {"slippageRatio", "expected_grade"},
    "expected_slippage": _LABELS | {"marketSpread", "orderNotional", "orderSize", "limitPrice", "vpin", "marketDepth",
                                    "expected"},
    "reports": _LABELS | {"input", "expected", "source_behaviour"},
    "metrics": _LABELS | {"reports", "expected", "expected_summary"},
}
_INPUT_KEYS = frozenset({"orderId", "ticker", "side", "limitPrice", "fillPrice", "orderSize", "edgePercent",
                         "marketSpread", "vpin", "marketDepth"})
_ROW_KEYS = frozenset({"grade", "executionGrade", "slippageVsEdgeRatio", "realizedSlippage", "slippageRatio"})


def _known(raw: Any, allowed: frozenset[str], what: str) -> None:
    assert isinstance(raw, dict), f"{what} must be an object, got {type(raw).__name__}"
    unknown = set(raw) - allowed
    assert not unknown, f"{what}: fields this checker cannot interpret: {sorted(unknown)}"


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
    notional = case.get("orderNotional")
    if notional is None:  # §5.5: notional = size x limit
        notional = case["orderSize"] * case["limitPrice"]
    elif "orderSize" in case and "limitPrice" in case:  # both given: the vector must agree with itself
        assert math.isclose(notional, case["orderSize"] * case["limitPrice"], abs_tol=TOL), \
            f"orderNotional {notional} is not orderSize x limitPrice"
    got = expected_slippage(case["marketSpread"], notional, case.get("vpin", 0), case.get("marketDepth"))
    _close(got, case["expected"], "expectedSlippage")


def _report(case: dict[str, Any]) -> None:
    raw = case["input"]
    _known(raw, _INPUT_KEYS, "report input")
    report = quality_report(FillObservation(
        order_id=str(raw.get("orderId", "order")), ticker=str(raw.get("ticker", "T")), side=str(raw.get("side", "yes")),
        limit_price=raw["limitPrice"], fill_price=raw["fillPrice"], order_size=raw["orderSize"],
        edge_percent=raw.get("edgePercent", 0), market_spread=raw["marketSpread"], vpin=raw.get("vpin", 0),
        market_depth=raw.get("marketDepth"),
    ))
    expected = trading_expected(case["expected"])
    assert isinstance(expected, dict) and expected, "report case without expected facts would pass vacuously"
    for key, value in expected.items():
        assert key in _REPORT_FIELDS, f"unknown expected field {key!r}"
        actual = getattr(report, _REPORT_FIELDS[key])
        _close(str(actual) if isinstance(value, str) else actual, value, key)


def _graded(r: dict[str, Any]) -> GradedExecution:
    """A metrics row: its grade (``grade`` or ``executionGrade``) and the figures given; an absent figure is 0."""
    _known(r, _ROW_KEYS, "metrics report row")
    grade = r.get("grade", r.get("executionGrade"))
    assert grade is not None, f"metrics report without a grade: {r!r}"
    return GradedExecution(ExecutionGrade(str(grade).upper()), r.get("slippageVsEdgeRatio", 0.0),
                           r.get("realizedSlippage", 0.0), r.get("slippageRatio", 0.0))


def _metrics(case: dict[str, Any]) -> None:
    reports = [_graded(r) for r in case["reports"]]
    metrics = execution_metrics(reports)
    assert case.get("expected") or "expected_summary" in case, "metrics case without expectation"
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
    _known(case["case"], _CASE_KEYS[section], f"{section} case")
    _SECTIONS[section](case["case"])
