"""trading.json::risk_invariants: the 18 invariants, the governor's decision, correlation and tail checks.

Sub-sections are split into one test per case. ``base_request`` and the ``*_note`` keys are the
context the cases are built from (not cases); ``default_limits`` and ``severity`` are checked as
cases. Any other sub-section fails until someone teaches this checker what it means.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from paulp.domain import tail
from paulp.domain.breaker import CircuitBreaker
from paulp.domain.risk import CORRELATION_LOOKUP_ID, evaluate
from paulp.domain.risk_correlation import (
    MAX_RULE_MATCHES,
    CachedPair,
    CatalogueMarket,
    CorrelationRule,
    GraphEdge,
    GraphNode,
    correlated_markets,
    edge_score,
)
from paulp.domain.risk_input import CorrelatedMarket, PortfolioSnapshot, Position, RiskRequest
from paulp.domain.risk_limits import DEFAULT_LIMITS, RiskLimits
from paulp.domain.risk_results import SEVERITY, InvariantId, Severity
from tests.conformance.checkers import _conventions as conventions
from tests.conformance.checkers._sides import trading_expected
from tests.conformance.registry import Context, checker

GROUP = "risk_invariants"
CONTEXT_KEYS = frozenset({"base_request"})
LIST_SECTIONS = ("single_invariant_cases", "aggregate_cases", "event_graph_correlation_scores", "tail_concentration")
TOL = 1e-6

REQUEST_KEYS = frozenset(
    {
        "marketId", "venue", "side", "size", "price", "strategy", "marketPrice", "spread", "volume24h",
        "vpinScore", "ambiguityScore", "equivalenceGrade", "settlement_hours_from_now", "settlementDate",
        "category", "price_age_seconds", "lastPriceUpdate", "portfolioValue", "dailyPnL", "weeklyPnL",
        "maxDrawdown", "existingPositions", "correlatedMarkets", "circuitBreakerState", "systemHealthy",
        "recentSlippageRatio",
    }
)  # fmt: skip


def split(data: Any) -> Iterator[tuple[str, Any]]:
    if not isinstance(data, dict):
        yield "unsupported-shape", ("unknown", type(data).__name__)
        return
    for key, value in data.items():
        if key in CONTEXT_KEYS or key.endswith("_note"):
            continue
        if key in LIST_SECTIONS and isinstance(value, list):
            for i, item in enumerate(value):
                label = (
                    item.get("name") or item.get("invariant") or item.get("source") if isinstance(item, dict) else None
                )
                if isinstance(item, dict) and item.get("invariant") and item.get("name"):
                    label = f"{item['invariant']}-{item['name']}"
                yield f"{key}/{i:03d}" + (f"-{label}" if label else ""), (key, item)
        else:
            yield key, (key, value)


def _base_limits(ctx: Context) -> RiskLimits:
    return DEFAULT_LIMITS.merged(ctx.document[GROUP].get("default_limits", {}))


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def build_inputs(fields: Mapping[str, Any], now: datetime) -> tuple[RiskRequest, PortfolioSnapshot, str]:
    """Request, snapshot and breaker state from a vector's flat §3.1 request (offsets relative to now)."""
    unknown = set(fields) - REQUEST_KEYS
    assert not unknown, f"request fields this checker cannot interpret: {sorted(unknown)}"
    settlement = fields.get("settlementDate")
    settlement_at = _parse_time(settlement) if isinstance(settlement, str) else None
    if "settlement_hours_from_now" in fields and fields["settlement_hours_from_now"] is not None:
        settlement_at = now + timedelta(hours=fields["settlement_hours_from_now"])
    updated = fields.get("lastPriceUpdate")
    updated_at = _parse_time(updated) if isinstance(updated, str) else None
    if "price_age_seconds" in fields and fields["price_age_seconds"] is not None:
        updated_at = now - timedelta(seconds=fields["price_age_seconds"])
    request = RiskRequest(
        market_id=fields.get("marketId", "unknown"),
        size=float(fields.get("size", 0)),
        category=fields.get("category", "unknown"),
        venue=fields.get("venue", "kalshi"),
        side=fields.get("side", "YES"),
        price=float(fields.get("price", 0)),
        strategy=fields.get("strategy", "unknown"),
        market_price=float(fields.get("marketPrice", 0)),
        spread=float(fields.get("spread", 0)),
        volume_24h=float(fields.get("volume24h", 0)),
        vpin_score=fields.get("vpinScore"),
        ambiguity_score=fields.get("ambiguityScore"),
        equivalence_grade=fields.get("equivalenceGrade"),
        settlement_date=settlement_at,
        last_price_update=updated_at,
        recent_slippage_ratio=fields.get("recentSlippageRatio"),
    )
    positions = tuple(
        Position(p["marketId"], p.get("category", "unknown"), float(p["size"]), float(p.get("unrealizedPnL", 0)))
        for p in fields.get("existingPositions", [])
    )
    correlated = fields.get("correlatedMarkets", [])
    snapshot = PortfolioSnapshot(
        portfolio_value=float(fields.get("portfolioValue", 10000)),
        daily_pnl=float(fields.get("dailyPnL", 0)),
        weekly_pnl=float(fields.get("weeklyPnL", 0)),
        max_drawdown=float(fields.get("maxDrawdown", 0)),
        positions=positions,
        correlated_markets=None
        if correlated is None
        else tuple(
            CorrelatedMarket(c["marketId"], float(c["correlationScore"]), c.get("correlationType", "unknown"))
            for c in correlated
        ),
        system_healthy=bool(fields.get("systemHealthy", True)),
    )
    return request, snapshot, fields.get("circuitBreakerState", "NORMAL")


def _same(actual: Any, expected: Any, what: str) -> None:
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        assert actual == expected and type(actual) is type(expected), f"{what}: got {actual!r}, expected {expected!r}"
    elif isinstance(expected, int | float):
        assert isinstance(actual, int | float) and not isinstance(actual, bool), f"{what}: got {actual!r}"
        assert math.isclose(actual, expected, rel_tol=TOL, abs_tol=TOL), f"{what}: got {actual!r}, expected {expected}"
    else:
        raise AssertionError(f"{what}: cannot interpret expected value {expected!r}")


# Keys a single/aggregate case may carry besides the request overrides (which build_inputs checks itself).
_CASE_KEYS = frozenset({"name", "note", "description", "overrides", "limits_override", "expected"})


def _decide(case: Mapping[str, Any], ctx: Context, own: frozenset[str] = frozenset()) -> Any:
    unknown = set(case) - _CASE_KEYS - own
    assert not unknown, f"case fields this checker cannot interpret: {sorted(unknown)}"
    now = conventions.now(ctx)
    fields = {**ctx.document[GROUP]["base_request"], **case.get("overrides", {})}
    limits = _base_limits(ctx).merged(case.get("limits_override") or {})
    request, snapshot, state = build_inputs(fields, now)
    return evaluate(request, snapshot, limits, state, now)


def _single(case: Mapping[str, Any], ctx: Context) -> None:
    decision = _decide(case, ctx, frozenset({"invariant"}))
    iid = InvariantId(case["invariant"])
    result = next(r for r in decision.results if r.invariant_id is iid)
    expected = case["expected"]
    known = {"passed", "severity", "actual_value", "threshold"}
    assert set(expected) <= known, f"unknown expectations {set(expected) - known}"
    for key, got in (
        ("passed", result.passed),
        ("severity", result.severity.value),
        ("actual_value", result.actual_value),
        ("threshold", result.threshold),
    ):
        if key in expected:
            _same(got, expected[key], f"{iid}.{key} ({result.message})")


def _aggregate(case: Mapping[str, Any], ctx: Context) -> None:
    decision = _decide(case, ctx)
    expected = trading_expected(case["expected"])
    known = {"count", "critical_failures", "warnings", "blocked"}
    assert set(expected) <= known, f"unknown expectations {set(expected) - known}"
    got = {
        "count": decision.checks_run,
        "critical_failures": [v.invariant_id for v in decision.violations],
        "warnings": [w.invariant_id for w in decision.warnings],
        "blocked": decision.blocked,
    }
    assert [r.invariant_id.value for r in decision.results] == [i.value for i in InvariantId], "results not I1..I18"
    for key, value in expected.items():
        assert got[key] == value, f"{key}: got {got[key]!r}, expected {value!r}"


# What an edge, cache or storage-error case may carry. A field outside these (an expiry on a cached pair, the kind
# of the other node) would be dropped and the case judged as a live pair between two markets.
_CORRELATION_KEYS = {
    "edge": frozenset({"source", "edge_type", "weight", "expected_score", "expected_type"}),
    "cache": frozenset({"source", "stored_score", "expected_score", "expected_type"}),
    "storage_error": frozenset({"source", "storage_error", "expected"}),
}
_CORRELATION_LABELS = frozenset({"name", "note", "description", "case"})


def _correlation(case: Mapping[str, Any], ctx: Context) -> None:
    now = conventions.now(ctx)
    source = case.get("source")
    kind = "storage_error" if case.get("storage_error") else source
    if kind in _CORRELATION_KEYS:
        unknown = set(case) - _CORRELATION_KEYS[str(kind)] - _CORRELATION_LABELS
        assert not unknown, f"correlation {kind} case fields this checker cannot interpret: {sorted(unknown)}"
    if case.get("storage_error"):
        fields = {**ctx.document[GROUP]["base_request"], "correlatedMarkets": None}
        request, snapshot, state = build_inputs(fields, now)
        breaker = CircuitBreaker("conformance")
        breaker.record_risk_check(True, now)
        before = breaker.consecutive_failures
        decision = evaluate(request, snapshot, _base_limits(ctx), state, now)
        breaker.record_risk_check(decision.blocked, now, counted=decision.counts_toward_breaker)
        text = str(case.get("expected", ""))
        wanted = re.search(r"violation (\w+)", text)
        assert wanted, f"cannot read the expected violation from {text!r}"
        assert not decision.approved, "lookup failure must block"
        assert [v.invariant_id for v in decision.violations] == [wanted.group(1)] == [CORRELATION_LOOKUP_ID]
        assert decision.violations[0].message == "Correlation data unavailable"
        if "counter unchanged" in text:
            assert breaker.consecutive_failures == before, "lookup failure touched the breaker counter"
        return
    target, other = GraphNode("target-market"), GraphNode("other-market")
    if source == "edge":
        assert edge_score(case["edge_type"], case.get("weight")) == case["expected_score"] or math.isclose(
            edge_score(case["edge_type"], case.get("weight")), case["expected_score"], abs_tol=TOL
        )
        found = correlated_markets(
            "target-market", now, edges=[GraphEdge(other, target, case["edge_type"], case.get("weight"))]
        )
        assert len(found) == 1 and found[0].market_id == "other-market", found
        _same(found[0].correlation_score, case["expected_score"], "edge score")
        if "expected_type" in case:
            assert found[0].correlation_type == case["expected_type"]
    elif source == "cache":
        stored = case["stored_score"]
        competing = GraphEdge(target, other, "correlated_with", 1.0 if stored != 1.0 else 0.5)
        pair = CachedPair("other-market", "target-market", stored, now + timedelta(hours=1))
        found = correlated_markets("target-market", now, cached=[pair], edges=[competing])
        assert [m.market_id for m in found] == ["other-market"], found
        _same(found[0].correlation_score, case["expected_score"], "cached score")
        assert found[0].correlation_type == case.get("expected_type", "cached")
    elif str(source).lower().replace("-", "_") in RULE_SOURCES:
        _correlation_rule(case, now)
    else:
        raise AssertionError(f"cannot interpret correlation case {case!r}")


# §3.4 item 3 (correlation rules). The sample has no rule case, so the field names of a held-out one are
# unknown: each fact is read under the spellings a vector author would plausibly use, and a key outside them
# fails the case by name rather than being ignored.
RULE_SOURCES = frozenset({"rule", "rules", "correlation_rule", "correlation_rules"})
_RULE_ALIASES: dict[str, tuple[str, ...]] = {
    "selector": ("selector", "rule_selector", "ruleSelector"),
    "weight": ("weight", "rule_weight", "ruleWeight"),
    "rule_type": ("rule_type", "ruleType", "type", "correlation_type"),
    "active": ("active", "is_active", "isActive", "rule_active"),
    "target_category": ("target_category", "targetCategory", "market_category", "category"),
    "target_series": ("target_series", "targetSeries", "market_series", "series"),
    "in_catalogue": ("target_in_catalogue", "in_catalogue", "target_in_catalog", "in_catalog", "market_in_catalogue"),
    "missing": ("target_missing", "target_not_in_catalogue", "target_missing_from_catalogue",
                "target_not_in_catalog", "not_in_catalogue"),
    "matches": ("matching_markets", "other_markets", "catalogue_matches", "same_category_markets",
                "same_series_markets", "other_market_count", "matching_market_count"),
    "expected_score": ("expected_score", "expectedScore", "expected_correlation", "expected_correlation_score"),
    "expected_type": ("expected_type", "expectedType", "expected_correlation_type"),
    "expected_count": ("expected_count", "expectedCount", "expected_matches", "expected_correlated_count"),
    "expected": ("expected", "expected_outcome", "outcome"),
}
_RULE_EXPECTED: dict[str, tuple[str, ...]] = {
    "expected_score": ("score", "correlation_score", "correlationScore"),
    "expected_type": ("type", "correlation_type", "correlationType"),
    "expected_count": ("count", "matches", "correlated_count", "correlatedCount"),
}
_RULE_IGNORED = frozenset({"source", "name", "note", "case", "description", "rule", "target"})
_NO_MATCH_WORDS = ("skip", "no correlat", "none", "not appl", "no rule", "no match", "ignored", "empty")


def _rule_facts(case: Mapping[str, Any]) -> dict[str, Any]:
    """Flatten the case (and an optional nested ``rule`` / ``target`` object) into canonical fact names."""
    flat: dict[str, Any] = {k: v for k, v in case.items() if k not in ("rule", "target")}
    for nested, prefix in (("rule", ""), ("target", "target_")):
        inner = case.get(nested)
        if isinstance(inner, Mapping):
            flat.update({prefix + k if prefix and k in ("category", "series") else k: v for k, v in inner.items()})
        elif inner is not None and nested == "target":
            flat["target_id"] = inner
        elif inner is not None:
            raise AssertionError(f"correlation rule: cannot interpret rule {inner!r}")
    facts: dict[str, Any] = {}
    known = set(_RULE_IGNORED) | {"target_id", "id", "market_id", "marketId"}
    for fact, spellings in _RULE_ALIASES.items():
        given = [s for s in spellings if s in flat]
        assert len(given) <= 1, f"correlation rule: {given} all say {fact}"
        if given:
            facts[fact] = flat[given[0]]
        known.update(spellings)
    unknown = set(flat) - known
    assert not unknown, f"correlation rule case: cannot interpret {sorted(unknown)} in {dict(case)!r}"
    if isinstance(facts.get("expected"), Mapping):  # {"expected": {"score": .., "type": .., "count": ..}}
        exp = dict(facts.pop("expected"))
        for fact, spellings in _RULE_EXPECTED.items():
            given = [s for s in spellings if s in exp]
            assert len(given) <= 1 and fact not in facts, f"correlation rule: {fact} given twice"
            if given:
                facts[fact] = exp.pop(given[0])
        assert not exp, f"correlation rule: cannot interpret expected {sorted(exp)}"
    return facts


def _correlation_rule(case: Mapping[str, Any], now: datetime) -> None:
    f = _rule_facts(case)
    assert "selector" in f, f"correlation rule case without a selector: {dict(case)!r}"
    assert "weight" in f, f"correlation rule case without a weight: {dict(case)!r}"
    raw = f["selector"]
    selector_text = raw if isinstance(raw, str) else json.dumps(raw)
    parsed = raw if isinstance(raw, Mapping) else None
    if parsed is None:
        try:
            loaded = json.loads(selector_text)
            parsed = loaded if isinstance(loaded, Mapping) else None
        except ValueError:
            parsed = None
    # The target's category/series: as given, else what the selector selects (the rule is meant to apply).
    category = f.get("target_category", (parsed or {}).get("category"))
    series = f.get("target_series", (parsed or {}).get("series"))
    in_catalogue = bool(f.get("in_catalogue", True)) and not bool(f.get("missing", False))
    matches = int(f.get("matches", 1))
    target = "target-market"
    peers = [CatalogueMarket(f"peer-{i:03d}", category, series) for i in range(matches)]
    decoy = CatalogueMarket("decoy-market", f"not-{category}", f"not-{series}")
    catalogue = ([CatalogueMarket(target, category, series)] if in_catalogue else []) + peers + [decoy]
    rule = CorrelationRule(selector_text, float(f["weight"]), str(f.get("rule_type", "rule")),
                           bool(f.get("active", True)))
    found = correlated_markets(target, now, rules=[rule], catalogue=catalogue)
    assert "decoy-market" not in {m.market_id for m in found}, f"a market of another category/series matched: {found}"
    expects_none = f.get("expected_score", "absent") is None or f.get("expected_count") == 0 or (
        isinstance(f.get("expected"), str) and any(w in f["expected"].lower() for w in _NO_MATCH_WORDS))
    if expects_none:
        assert found == (), f"rule should not apply, yet correlated {found}"
        return
    assert "expected_score" in f or "expected_count" in f, f"correlation rule case states no expectation: {f!r}"
    if "expected" in f:
        raise AssertionError(f"correlation rule: cannot interpret expected {f['expected']!r}")
    count = f.get("expected_count", min(matches, MAX_RULE_MATCHES))
    assert len(found) == count, f"{len(found)} correlated markets, expected {count}: {found}"
    assert {m.market_id for m in found} <= {p.market_id for p in peers}, found
    for m in found:
        if "expected_score" in f:
            _same(m.correlation_score, f["expected_score"], "rule score")
        if "expected_type" in f:
            _same(m.correlation_type, f["expected_type"], "rule type")


# A tail case and its positions: §3.6 reads size and price (currentPrice, or price); the rest is a portfolio
# position's other facts, which the rule ignores. Anything else fails rather than being read as absent.
_TAIL_KEYS = frozenset({"name", "note", "description", "positions", "threshold", "expected"})
_TAIL_POSITION_KEYS = frozenset({"marketId", "size", "currentPrice", "price", "category", "side", "entryPrice",
                                 "unrealizedPnL"})


def _tail(case: Mapping[str, Any], ctx: Context) -> None:
    unknown = set(case) - _TAIL_KEYS
    assert not unknown, f"tail case fields this checker cannot interpret: {sorted(unknown)}"
    positions = case["positions"]
    for p in positions:
        extra = set(p) - _TAIL_POSITION_KEYS
        assert not extra, f"tail position fields this checker cannot interpret: {sorted(extra)}"
    result = tail.tail_concentration(positions, threshold=case.get("threshold", tail.HHI_LIMIT))
    exp = case["expected"]
    checks = {
        "tail_market_ids": (list(result.market_ids), "tail ids"),  # the rule's own selection, not a re-derivation
        "herfindahl": (result.hhi, "hhi"),
        "max_position_pct": (result.max_pct, "max pct"),
        "total_tail_value": (result.total_tail_value, "total"),
        "is_compliant": (result.compliant, "compliant"),
    }
    assert set(exp) <= set(checks), f"unknown expectations {set(exp) - set(checks)}"
    for key, value in exp.items():
        got, what = checks[key]
        if isinstance(value, list):
            assert got == value, f"{what}: got {got}, expected {value}"
        else:
            _same(got, value, what)
    if "tail_market_ids" in exp:
        assert result.count == len(exp["tail_market_ids"])


def _default_limits(data: Mapping[str, Any], ctx: Context) -> None:
    ours = DEFAULT_LIMITS.to_json()
    for key, value in data.items():
        assert key in ours, f"unknown limit {key}"
        assert ours[key] == value, f"default {key}: ours {ours[key]!r}, spec {value!r}"


def _severity(data: Mapping[str, Any], ctx: Context) -> None:
    listed = set()
    for sev, ids in data.items():
        for iid in ids:
            assert SEVERITY[InvariantId(iid)] is Severity(sev), f"{iid} severity is {SEVERITY[InvariantId(iid)]}"
            listed.add(iid)
    assert listed == {i.value for i in InvariantId}, f"ids not covered: {set(InvariantId) - listed}"


SECTIONS = {
    "single_invariant_cases": _single,
    "aggregate_cases": _aggregate,
    "event_graph_correlation_scores": _correlation,
    "tail_concentration": _tail,
    "default_limits": _default_limits,
    "severity": _severity,
}


@checker("trading.json", GROUP, split=split)
def check(case: Any, ctx: Context) -> None:
    section, data = case
    fn = SECTIONS.get(section)
    assert fn is not None, f"risk_invariants sub-section {section!r} has no interpretation in this checker"
    fn(data, ctx)
