"""trading.json::clv — CLV convention, statistics, points, class inference and robust closing lines."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from paulp.domain.clv import (
    MarketClass,
    Observation,
    clv_consistency_points,
    clv_statistics,
    compute_clv,
    estimate_closing_line,
    infer_market_class,
    lifecycle_clv,
)
from tests.conformance.checkers._json_numbers import json_int
from tests.conformance.checkers._sides import trading_expected
from tests.conformance.registry import Context, checker

TOL = 1e-6


def split(data: Any) -> Iterator[tuple[str, Any]]:
    assert isinstance(data, dict), "clv group must be a dict of sections"
    for section, items in data.items():
        if not isinstance(items, list):
            yield section, {"section": section, "case": items}
            continue
        for i, item in enumerate(items):
            label = item.get("name") if isinstance(item, dict) else None
            yield f"{section}/{i:03d}" + (f"-{label}" if label else ""), {"section": section, "case": item}


def _close(actual: Any, expected: Any, what: str) -> None:
    if isinstance(expected, bool | str):
        assert actual == expected, f"{what}: expected {expected!r}, got {actual!r}"
    else:
        assert math.isclose(actual, expected, abs_tol=TOL), f"{what}: expected {expected}, got {actual}"


def _compare(result: Any, expected: dict[str, Any], fields: dict[str, str]) -> None:
    for key, value in trading_expected(expected).items():
        assert key in fields, f"unknown expected field {key!r}"
        actual = getattr(result, fields[key])
        _close(str(actual) if isinstance(value, str) else actual, value, key)


def _quality(value: Any) -> float:
    if value is None or (isinstance(value, str) and value.startswith("default")):
        return 1.0
    return float(value)


def _market_class(case: dict[str, Any]) -> MarketClass:
    """The case's class, else inferred from its category/tags (§4.2), political when neither is given."""
    if case.get("marketClass") is not None:
        return MarketClass(str(case["marketClass"]).lower())
    return infer_market_class(case.get("category"), case.get("tags"))


# Each section's own case keys; anything else (a "quality" for qualityScore, a "valid" for isValid) fails by name
# instead of being read as absent, which would silently give the default (quality 1.0, valid).
_LABELS = frozenset({"name", "note", "description"})
_COMPUTE_KEYS = _LABELS | {"side", "entryPrice", "closingLinePrice", "marketClass", "category", "tags", "qualityScore",
                           "expected"}
_LIFECYCLE_KEYS = _LABELS | {"entryPrice", "closingLinePrice", "expected_clv"}
_STATISTICS_KEYS = _LABELS | {"results", "expected"}
_RESULT_KEYS = frozenset({"clv", "isValid"})
_POINTS_KEYS = _LABELS | {"meanCLVCents", "validCount", "expected_points"}
_INFERENCE_KEYS = _LABELS | {"category", "tags", "expected_class"}
_CLOSING_KEYS = _LABELS | {"marketClass", "category", "tags", "resolution_time_ms", "resolutionTime", "observations",
                           "expected"}
_OBSERVATION_KEYS = frozenset({"midPrice", "depthYes", "depthNo", "spread"})
_OBSERVATION_TIMES = ("offset_seconds", "offset_ms", "timestamp_ms", "timestamp")


def _known(case: dict[str, Any], keys: frozenset[str], what: str) -> None:
    unknown = set(case) - keys
    assert not unknown, f"{what} fields this checker cannot interpret: {sorted(unknown)}"


def _compute(case: dict[str, Any]) -> None:
    _known(case, _COMPUTE_KEYS, "clv compute case")
    result = compute_clv(case["entryPrice"], case["closingLinePrice"], str(case.get("side", "YES")).upper(),
                         _market_class(case), _quality(case.get("qualityScore")))
    _compare(result, case["expected"], {"clv": "clv", "clvCents": "clv_cents", "isValid": "is_valid",
                                        "closingLineMethod": "closing_line_method",
                                        "qualityScore": "quality_score",
                                        "closingLinePrice": "closing_line_price", "entryPrice": "entry_price"})


def _lifecycle(case: dict[str, Any]) -> None:
    _known(case, _LIFECYCLE_KEYS, "lifecycle clv case")
    _close(lifecycle_clv(case["entryPrice"], case["closingLinePrice"]), case["expected_clv"], "clv")


def _statistics(case: dict[str, Any]) -> None:
    _known(case, _STATISTICS_KEYS, "clv statistics case")
    for r in case["results"]:
        _known(r, _RESULT_KEYS, "clv result")
    stats = clv_statistics((r["clv"], r.get("isValid", True)) for r in case["results"])
    _compare(stats, case["expected"], {
        "meanCLV": "mean_clv", "meanCLVCents": "mean_clv_cents", "stdDevCLV": "std_dev_clv",
        "positiveCLVCount": "positive_clv_count", "negativeCLVCount": "negative_clv_count",
        "validCLVCount": "valid_clv_count", "invalidCLVCount": "invalid_clv_count",
        "clvConsistencyScore": "clv_consistency_score"})


def _points(case: dict[str, Any]) -> None:
    _known(case, _POINTS_KEYS, "consistency_points case")
    points = json_int(case["expected_points"])  # 25.0 is the JSON number 25 (ADR 0486); 25.5 is refused
    assert isinstance(points, int) and not isinstance(points, bool), f"expected_points must be an integer: {points!r}"
    got = clv_consistency_points(case["meanCLVCents"], case["validCount"])
    assert got == points, f"expected {points} points, got {got}"


def _inference(case: dict[str, Any]) -> None:
    _known(case, _INFERENCE_KEYS, "market_class_inference case")
    got = infer_market_class(case.get("category"), case.get("tags"))
    assert got == case["expected_class"], f"expected {case['expected_class']}, got {got}"


def _moment(obs: dict[str, Any], resolution: datetime) -> datetime:
    _known(obs, _OBSERVATION_KEYS | set(_OBSERVATION_TIMES), "closing-line observation")
    times = [k for k in _OBSERVATION_TIMES if k in obs]
    assert len(times) <= 1, f"observation with two times {times}: {obs!r}"
    if "offset_seconds" in obs:
        return resolution + timedelta(seconds=obs["offset_seconds"])
    if "offset_ms" in obs:
        return resolution + timedelta(milliseconds=obs["offset_ms"])
    if "timestamp_ms" in obs:
        return datetime.fromtimestamp(obs["timestamp_ms"] / 1000, UTC)
    if "timestamp" in obs:
        return datetime.fromisoformat(str(obs["timestamp"]).replace("Z", "+00:00"))
    raise AssertionError(f"observation without a time: {obs!r}")


def _closing_line(case: dict[str, Any]) -> None:
    _known(case, _CLOSING_KEYS, "closing_line_estimation case")
    assert ("resolution_time_ms" in case) != ("resolutionTime" in case), "one resolution time is needed"
    assert isinstance(case["expected"], dict) and case["expected"], "closing_line_estimation: nothing expected"
    if "resolution_time_ms" in case:
        resolution = datetime.fromtimestamp(case["resolution_time_ms"] / 1000, UTC)
    else:
        resolution = datetime.fromisoformat(str(case["resolutionTime"]).replace("Z", "+00:00"))
    observations = [
        Observation(_moment(o, resolution), o["midPrice"], o["depthYes"], o["depthNo"], o["spread"])
        for o in case["observations"]
    ]
    result = estimate_closing_line(observations, _market_class(case), resolution)
    _compare(result, case["expected"], {
        "closingLinePrice": "closing_line_price", "qualityScore": "quality_score", "isValid": "is_valid",
        "method": "method", "depthScore": "depth_score", "spreadScore": "spread_score",
        "sampleScore": "sample_score", "stabilityScore": "stability_score",
        "validObservationCount": "valid_observation_count", "observationCount": "observation_count"})


_SECTIONS = {
    "compute": _compute,
    "lifecycle_clv_difference": _lifecycle,
    "statistics": _statistics,
    "consistency_points": _points,
    "market_class_inference": _inference,
    "closing_line_estimation": _closing_line,
}


@checker("trading.json", "clv", split=split)
def check(case: Any, ctx: Context) -> None:
    section = case["section"]
    assert section in _SECTIONS, f"no interpreter for clv section {section!r}"
    _SECTIONS[section](case["case"])
