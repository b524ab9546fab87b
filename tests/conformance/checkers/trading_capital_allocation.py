"""trading.json::capital_allocation: the strategy capital table, breakdown, sizing, validation (§5.7)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from paulp.domain.capital import (
    DEFAULT_ALLOCATIONS,
    allocation_for,
    can_enable,
    capital_breakdown,
    position_size,
    total_enabled_capital,
    validate_size,
)
from tests.conformance.registry import Context, checker, split_sections

TOL = 1e-6


def split(data: Any) -> Iterator[tuple[str, Any]]:
    return split_sections(data, "strategy")


def _table(data: Mapping[str, Any]) -> None:
    ours = {row.strategy: row for row in DEFAULT_ALLOCATIONS}
    assert list(ours) == list(data), f"strategies differ: {list(ours)} vs {list(data)}"
    for name, spec in data.items():
        row = ours[name]
        got = {
            "strategy": row.strategy,
            "capital": row.capital,
            "maxPositionPct": row.max_position_pct,
            "enabled": row.enabled,
            "enableAfterDays": row.enable_after_days,
        }
        unknown = set(spec) - set(got)
        assert not unknown, f"{name}: fields this checker cannot interpret: {unknown}"
        for key, value in spec.items():
            assert got[key] == value, f"{name}.{key}: ours {got[key]!r}, spec {value!r}"
        if "enableAfterDays" not in spec:
            assert row.enable_after_days is None, f"{name} should have no enable-after delay"


def _total(value: Any) -> None:
    assert math.isclose(total_enabled_capital(), value, abs_tol=TOL), f"total {total_enabled_capital()} vs {value}"


def _breakdown(data: Mapping[str, Any]) -> None:
    got = capital_breakdown()
    assert math.isclose(got.total, data["total"], abs_tol=TOL)
    assert dict(got.by_strategy) == data["byStrategy"], f"{dict(got.by_strategy)} vs {data['byStrategy']}"
    assert list(got.enabled_strategies) == data["enabledStrategies"]
    assert list(got.pending_strategies) == data["pendingStrategies"]
    unknown = set(data) - {"total", "byStrategy", "enabledStrategies", "pendingStrategies"}
    assert not unknown, f"breakdown fields this checker cannot interpret: {unknown}"


_PROSE = frozenset({"name", "note", "source_behaviour"})


def _refuse_unknown(case: Mapping[str, Any], known: set[str], what: str) -> None:
    stray = set(case) - known - _PROSE
    assert not stray, f"{what} fields this checker cannot interpret: {sorted(stray)}"


def _position_size(case: Mapping[str, Any]) -> None:
    _refuse_unknown(case, {"strategy", "kellyFraction", "currentCapital", "expected"}, "positionSize")
    got = position_size(allocation_for(case["strategy"]), case["kellyFraction"], case.get("currentCapital"))
    assert math.isclose(got, case["expected"], rel_tol=TOL, abs_tol=TOL), f"got {got}, expected {case['expected']}"


def _validate(case: Mapping[str, Any]) -> None:
    _refuse_unknown(case, {"strategy", "proposedSize", "currentCapital", "expected"}, "validate")
    got = validate_size(allocation_for(case["strategy"]), case["proposedSize"], case.get("currentCapital"))
    expected = case["expected"]
    if isinstance(expected, bool):
        expected = {"valid": expected}
    unknown = set(expected) - {"valid", "reason"}
    assert not unknown, f"no interpreter for expected validation fields {sorted(unknown)}"
    assert expected, "validate case expects nothing"
    if "valid" in expected:  # either fact may be stated alone (ADR 0486)
        assert got.valid is expected["valid"], f"valid {got.valid} ({got.reason})"
    if "reason" in expected:
        assert got.reason == expected["reason"], f"reason {got.reason!r} vs {expected['reason']!r}"


def _can_enable(case: Mapping[str, Any]) -> None:
    _refuse_unknown(case, {"strategy", "first_live_trade_days_ago", "successfulDays", "expected"}, "canEnable")
    got = can_enable(
        allocation_for(case["strategy"]), case.get("first_live_trade_days_ago"), case.get("successfulDays", 0)
    )
    assert got is case["expected"], f"can_enable {got} vs {case['expected']}"


SECTIONS = {
    "table": _table,
    "total_initial": _total,
    "breakdown": _breakdown,
    "positionSize": _position_size,
    "validate": _validate,
    "canEnable": _can_enable,
}


@checker("trading.json", "capital_allocation", split=split)
def check(case: Any, ctx: Context) -> None:
    section, data = case
    fn = SECTIONS.get(section)
    assert fn is not None, f"capital_allocation sub-section {section!r} has no interpretation in this checker"
    fn(data)
