"""trading.json::kelly: raw Kelly, coefficient of variation, single sizing and batch sizing (§4.1)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from paulp.domain.sizing import (
    DEFAULT_CV,
    Opportunity,
    coefficient_of_variation,
    kelly_batch,
    kelly_size,
    raw_kelly,
)
from tests.conformance.registry import Context, checker, split_sections

TOL = 1e-6
SIZING_FIELDS = {
    "kellyFraction": "kelly_fraction",
    "adjustedFraction": "adjusted_fraction",
    "positionSize": "position_size",
    "expectedEdge": "expected_edge",
    "hasEdge": "has_edge",
    "confidenceAdjustment": "confidence_adjustment",
}
# "20 identical opportunities opp0..opp19 with fairProbability 0.7, marketPrice 0.5, side YES"
IDENTICAL = re.compile(
    r"^\s*(\d+) identical opportunities ([A-Za-z_-]*?)(\d+)\.\.\2(\d+) with fairProbability ([\d.]+), "
    r"marketPrice ([\d.]+), side (YES|NO)\s*$"
)


def split(data: Any) -> Iterator[tuple[str, Any]]:
    return split_sections(data)


def _close(got: Any, expected: Any, what: str) -> None:
    if isinstance(expected, bool):
        assert got is expected, f"{what}: got {got!r}, expected {expected!r}"
    else:
        assert math.isclose(got, expected, rel_tol=TOL, abs_tol=TOL), f"{what}: got {got!r}, expected {expected!r}"


def _raw(case: Mapping[str, Any]) -> None:
    got = raw_kelly(case["fairProbability"], case["marketPrice"], case["side"])
    _close(got, case["expected_raw_kelly"], "raw kelly")


def _cv(case: Mapping[str, Any]) -> None:
    _close(coefficient_of_variation(case["returns"]), case["expected_cv"], f"cv of {case['returns']}")


def _sizing(case: Mapping[str, Any]) -> None:
    inp, mc = case["input"], case.get("monte_carlo", {})
    unknown_mc = set(mc) - {"simulations", "assumedCV", "returns", "historicalReturns"}
    assert not unknown_mc, f"monte_carlo keys this checker cannot interpret: {unknown_mc}"
    returns = mc.get("returns", mc.get("historicalReturns", inp.get("historicalReturns")))
    result = kelly_size(
        inp["fairProbability"],
        inp["marketPrice"],
        inp["side"],
        inp["bankroll"],
        inp.get("maxPositionPct", 5),
        returns=returns,
        assumed_cv=mc.get("assumedCV", DEFAULT_CV),
    )
    unknown = set(case["expected"]) - set(SIZING_FIELDS)
    assert not unknown, f"expected fields this checker cannot interpret: {unknown}"
    for key, value in case["expected"].items():
        _close(getattr(result, SIZING_FIELDS[key]), value, key)


def _opportunities(spec: Any) -> list[Opportunity]:
    if isinstance(spec, list):
        return [Opportunity(o["id"], o["fairProbability"], o["marketPrice"], o["side"]) for o in spec]
    match = IDENTICAL.match(str(spec))
    assert match, f"cannot interpret opportunities description {spec!r}"
    count, prefix, first, last, fair, price, side = match.groups()
    ids = [f"{prefix}{i}" for i in range(int(first), int(last) + 1)]
    assert len(ids) == int(count), f"{spec!r}: id range does not match the count"
    return [Opportunity(i, float(fair), float(price), side) for i in ids]


def _batch(case: Mapping[str, Any]) -> None:
    config = case.get("config") or {}
    unknown = set(config) - {"maxTotalAllocation", "maxSinglePosition", "assumedCV"}
    assert not unknown, f"config keys this checker cannot interpret: {unknown}"
    result = kelly_batch(
        _opportunities(case["opportunities"]),
        case["bankroll"],
        max_single_position_pct=config.get("maxSinglePosition", 5),
        max_total_allocation_pct=config.get("maxTotalAllocation", 50),
        assumed_cv=config.get("assumedCV", DEFAULT_CV),
    )
    expected = case["expected"]
    assert [r.opportunity_id for r in result] == [e["id"] for e in expected], "sized opportunities differ"
    for got, exp in zip(result, expected, strict=True):
        for key, value in exp.items():
            if key != "id":
                _close(getattr(got.sizing, SIZING_FIELDS[key]), value, f"{exp['id']}.{key}")


SECTIONS = {"raw_kelly": _raw, "coefficient_of_variation": _cv, "sizing": _sizing, "batch": _batch}


@checker("trading.json", "kelly", split=split)
def check(case: Any, ctx: Context) -> None:
    section, data = case
    fn = SECTIONS.get(section)
    assert fn is not None, f"kelly sub-section {section!r} has no interpretation in this checker"
    fn(data)
