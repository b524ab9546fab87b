"""llm-routing §9: decision records (selected-model payload, decision hash) and the routing-stats read model."""

from typing import Any

from paulp.domain.routing import RUN_TYPE_TABLE, RunType, decision_hash, decision_hash_input, default_model
from paulp.domain.routing_stats import DecisionFact, routing_stats
from tests.conformance.checkers._llm_support import (
    FILE,
    assert_matches,
    decision_view,
    expected_of,
    run_routed,
    tolerances,
)
from tests.conformance.registry import Context, checker

_DECISION_KEYS = {"outcome", "resolvedModelId", "runType"}
_HASH_KEYS = {"runType", "routeClass", "resolvedModelId", "resolutionSource"}
_STATS_KEYS = {"periodStart", "periodEnd", "decisions"}
_FACT_KEYS = {"routeClass", "success", "latencyMs", "actualCostUsd"}


def _only(data: Any, allowed: set[str], what: str) -> None:
    assert isinstance(data, dict), f"{what} must be an object: {data!r}"
    unknown = set(data) - allowed
    assert not unknown, f"{what} fields this checker cannot interpret: {sorted(unknown)}"


def _decision_case(case: Any) -> None:
    """Route a call whose chain starts at (succeeds) / fails through the given model, then read its record."""
    inp = case["input"]
    _only(inp, _DECISION_KEYS, "persistence decision input")
    model_id = inp["resolvedModelId"]
    run_type = inp.get("runType") or next(
        (rt for rt in RunType if default_model(RUN_TYPE_TABLE[rt][0]) == model_id), None)
    assert run_type is not None, f"no run type defaults to {model_id}"
    outcome = inp["outcome"]
    assert outcome in ("success", "failure"), f"cannot interpret outcome {outcome!r}"
    outcomes = ["ok"] if outcome == "success" else ["error"] * 4
    r = run_routed({"runType": run_type, "estimatedInputTokens": 1000, "estimatedOutputTokens": 200},
                   outcomes=outcomes)
    assert_matches(decision_view(r.record), expected_of(case), tolerances(case))


def _hash_case(case: Any) -> None:
    inp = case["input"]
    _only(inp, _HASH_KEYS, "persistence decision-hash input")
    args = (inp["runType"], inp["routeClass"], inp.get("resolvedModelId"), inp["resolutionSource"])
    view = {"canonicalJson": decision_hash_input(*args), "sha256": decision_hash(*args)}
    assert_matches(view, expected_of(case), tolerances(case))


def _fact(d: Any) -> DecisionFact:
    """One listed decision; a timestamp (or any other field) cannot be honoured, since the window is the
    caller's query, so it fails the case instead of being counted regardless (ADR 0483)."""
    _only(d, _FACT_KEYS, "routing-stats decision")
    assert isinstance(d["success"], bool), f"success is not a boolean: {d['success']!r}"
    return DecisionFact(d["routeClass"], d["success"], d.get("latencyMs"), d.get("actualCostUsd"))


def _stats_case(case: Any) -> None:
    _only(case["input"], _STATS_KEYS, "routing-stats input")
    facts = [_fact(d) for d in case["input"]["decisions"]]
    s = routing_stats(facts)
    view = {"totalDecisions": s.total_decisions, "successCount": s.success_count, "failureCount": s.failure_count,
            "successRate": s.success_rate, "totalCostUsd": s.total_cost_usd, "avgLatencyMs": s.avg_latency_ms,
            "byRouteClass": {str(rc): {"count": c.count, "successRate": c.success_rate,
                                       "avgLatencyMs": c.avg_latency_ms} for rc, c in s.by_route_class.items()}}
    assert_matches(view, expected_of(case), tolerances(case))


@checker(FILE, "persistence")
def check(case: Any, ctx: Context) -> None:
    inp = case["input"]
    if "decisions" in inp:
        _stats_case(case)
    elif "resolutionSource" in inp:
        _hash_case(case)
    elif "outcome" in inp:
        _decision_case(case)
    else:
        raise AssertionError(f"cannot interpret persistence input {sorted(inp)}")
