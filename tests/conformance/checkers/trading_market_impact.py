"""trading.json::market_impact: depth estimate, impact models, order assessment, lookup cache (§5.4)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from paulp.domain.market_impact import (
    ImpactLookupCache,
    MarketBook,
    apply_adjustment,
    assess_impact,
    concave_impact,
    estimate_depth,
    linear_impact,
)
from tests.conformance.checkers import _conventions as conventions
from tests.conformance.checkers._sides import trading_expected
from tests.conformance.registry import Context, checker

TOL = 1e-6
CONTEXT_KEYS = frozenset({"market_defaults"})
BOOK_KEYS = frozenset({"yes_bid", "yes_ask", "no_bid", "no_ask", "volume_24h"})
_LABELS = frozenset({"name", "note"})
# What each sub-section's case may carry; anything else (a measured "depth" on an assessment, a "vpin" on a linear
# case) would otherwise be dropped and the case judged on inputs it did not give.
CASE_KEYS = {
    "depth": _LABELS | {"market", "expected"},
    "linear_impact": _LABELS | {"orderSize", "depth", "spread", "expected"},
    "concave_impact": _LABELS | {"orderSize", "depth", "spread", "vpin", "expected"},
    "assessment": _LABELS | {"requestedSize", "limitPrice", "edgeCents", "side", "market_overrides", "expected"},
    "lookup_cache": _LABELS | {"calls"},
}


def split(data: Any) -> Iterator[tuple[str, Any]]:
    if not isinstance(data, dict):
        yield "unsupported-shape", ("unknown", data)
        return
    for section, cases in data.items():
        if section in CONTEXT_KEYS or section.endswith("_note"):
            continue
        if isinstance(cases, list):
            for i, case in enumerate(cases):
                label = case.get("name") if isinstance(case, dict) else None
                yield f"{section}/{i:03d}" + (f"-{label}" if label else ""), (section, case)
        else:
            yield section, (section, cases)


def _book(ctx: Context, overrides: Mapping[str, Any]) -> MarketBook:
    fields = {**ctx.document["market_impact"].get("market_defaults", {}), **overrides}
    unknown = set(fields) - BOOK_KEYS
    assert not unknown, f"market fields this checker cannot interpret: {unknown}"
    return MarketBook(**fields)


def _close(got: Any, expected: Any, what: str) -> None:
    if isinstance(expected, bool):
        assert got is expected, f"{what}: got {got!r}, expected {expected!r}"
    else:
        assert math.isclose(got, expected, rel_tol=TOL, abs_tol=TOL), f"{what}: got {got!r}, expected {expected!r}"


def _expected_facts(case: Mapping[str, Any]) -> dict[str, Any]:
    facts = trading_expected(case["expected"])
    assert isinstance(facts, dict) and facts, "case without expected facts would pass vacuously"
    return facts


def _depth(case: Mapping[str, Any], ctx: Context) -> None:
    est = estimate_depth(_book(ctx, case.get("market", {})))
    for key, value in _expected_facts(case).items():
        assert hasattr(est, key), f"depth field {key} unknown"
        _close(getattr(est, key), value, key)


def _linear(case: Mapping[str, Any], ctx: Context) -> None:
    _close(linear_impact(case["orderSize"], case["depth"], case["spread"]), case["expected"], "linear impact")


def _concave(case: Mapping[str, Any], ctx: Context) -> None:
    got = concave_impact(case["orderSize"], case["depth"], case["spread"], case["vpin"])
    _close(got, case["expected"], "concave impact")


ASSESSMENT_FIELDS = {
    "wasSized": "was_sized",
    "adjustedSize": "adjusted_size",
    "maxSafeSize": "max_safe_size",
    "depthAtSubmission": "depth_at_submission",
    "estimatedImpactCents": "estimated_impact_cents",
    "ratioToEdge": "ratio_to_edge",
}


def _assessment(case: Mapping[str, Any], ctx: Context) -> None:
    book = _book(ctx, case.get("market_overrides", {}))
    result = assess_impact(case["requestedSize"], case["edgeCents"], case["side"], book)
    for key, value in _expected_facts(case).items():
        if key == "applyAdjustment_adjustedSize":
            _close(apply_adjustment(case["requestedSize"], result), value, key)
        else:
            assert key in ASSESSMENT_FIELDS, f"assessment field {key} unknown"
            _close(getattr(result, ASSESSMENT_FIELDS[key]), value, key)
    assert result.adjusted_size <= case["requestedSize"], "impact sizing must never increase the order"


def _lookup(case: Mapping[str, Any], ctx: Context) -> None:
    cache = ImpactLookupCache()
    now = conventions.now(ctx)  # offset_seconds count from it: sequential calls within one TTL window
    assert case["calls"], "lookup case without calls would pass vacuously"
    for n, call in enumerate(case["calls"]):
        unknown = set(call) - {"ticker", "market_overrides", "edge", "expected_max_safe", "offset_seconds"}
        assert not unknown, f"call {n}: fields this checker cannot interpret: {unknown}"
        book = _book(ctx, call.get("market_overrides", {}))
        at = now + timedelta(seconds=call.get("offset_seconds", 0))
        got = cache.max_safe(call["ticker"], book, call["edge"], at)
        _close(got, call["expected_max_safe"], f"call {n} ({call['ticker']})")


SECTIONS = {
    "depth": _depth,
    "linear_impact": _linear,
    "concave_impact": _concave,
    "assessment": _assessment,
    "lookup_cache": _lookup,
}


@checker("trading.json", "market_impact", split=split)
def check(case: Any, ctx: Context) -> None:
    section, data = case
    fn = SECTIONS.get(section)
    assert fn is not None, f"market_impact sub-section {section!r} has no interpretation in this checker"
    assert isinstance(data, dict), f"{section}: a case must be an object, got {type(data).__name__}"
    unknown = set(data) - CASE_KEYS[section]
    assert not unknown, f"{section}: case fields this checker cannot interpret: {sorted(unknown)}"
    fn(data, ctx)
