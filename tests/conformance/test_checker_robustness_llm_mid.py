"""Stricter llm-routing checkers of the mid-sized groups (ADR 0483): a field a checker cannot honour, or a value
of the wrong JSON type, fails the case instead of being ignored, truncated or coerced (``bool("false")`` is
True, ``str(None)`` is ``"None"``, ``int(10.5)`` is 10). Each rejection below passed on the old checkers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.registry import CHECKERS, Context, load_checkers

load_checkers()
LLM = "llm-routing.json"
OPUS = "anthropic:claude-opus-4-6"
GEMINI = "google:gemini-3-flash-preview"
NOW = "2026-03-10T12:00:00.000Z"


def case(group: str, inp: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    return {"group": group, "case": "synthetic", "origin": "spec", "input": inp, "expected": expected}


def run(c: dict[str, Any]) -> None:
    CHECKERS[(LLM, c["group"])].run(c, Context(LLM, c["group"], {c["group"]: [c]}))


def rejects(c: dict[str, Any], match: str | None = None) -> None:
    with pytest.raises(AssertionError, match=match):
        run(c)


# ---------------------------------------------------------------- adversarial_validator (§8.7)

def test_adversarial_validator_when_input_well_typed_then_still_compared() -> None:
    run(case("adversarial_validator", {"score": 0.1, "reasoning": "admin", "confidence": 0},
             {"passed": False, "issueCount": 1}))
    rejects(case("adversarial_validator", {"score": 0.1, "reasoning": "admin", "confidence": 0},
                 {"passed": True, "issueCount": 0}))


@pytest.mark.parametrize(("inp", "match"), [
    ({"score": 0.1, "reasoning": "ok", "confidence": 0.1, "category": "prompt_injection"}, "exactly"),
    ({"score": 0.1, "reasoning": None, "confidence": 0.1}, "reasoning"),
    ({"score": 0.1, "reasoning": ["admin"], "confidence": 0.1}, "reasoning"),
    ({"score": "0.1", "reasoning": "ok", "confidence": 0.1}, "score"),
    ({"score": 0.1, "reasoning": "ok", "confidence": False}, "confidence"),
])
def test_adversarial_validator_when_field_unknown_or_mistyped_then_fails(inp: dict[str, Any], match: str) -> None:
    rejects(case("adversarial_validator", inp, {"passed": True, "issueCount": 0}), match)


# ---------------------------------------------------------------- persistence (§9.1, §9.6)

def test_persistence_decision_when_a_call_field_is_given_then_fails_instead_of_being_ignored() -> None:
    inp = {"outcome": "success", "resolvedModelId": GEMINI, "runType": "general_enrichment"}
    run(case("persistence", inp, {"success": True, "strategyId": None}))
    rejects(case("persistence", {**inp, "strategyId": "smart-money-core"}, {"success": True}), "strategyId")


def test_persistence_hash_when_an_extra_field_is_given_then_fails() -> None:
    inp = {"runType": "ambiguity_score", "routeClass": "premium_cognition", "resolvedModelId": OPUS,
           "resolutionSource": "safety_critical", "overrideUsed": True}
    rejects(case("persistence", inp, {}), "overrideUsed")


def _stats(decisions: list[dict[str, Any]]) -> dict[str, Any]:
    return {"periodStart": "2026-03-01T00:00:00.000Z", "periodEnd": "2026-03-02T00:00:00.000Z",
            "decisions": decisions}


def test_routing_stats_when_a_decision_has_a_timestamp_then_fails_instead_of_counting_it() -> None:
    inside = {"routeClass": "cheap_enrichment", "success": True, "latencyMs": 10, "actualCostUsd": 0.1}
    outside = {**inside, "timestamp": "2026-03-02T00:00:00.000Z"}  # periodEnd is exclusive
    run(case("persistence", _stats([inside]), {"totalDecisions": 1}))
    rejects(case("persistence", _stats([inside, outside]), {"totalDecisions": 2}), "timestamp")


def test_routing_stats_when_success_is_a_string_then_fails() -> None:
    d = {"routeClass": "cheap_enrichment", "success": "false", "latencyMs": None, "actualCostUsd": None}
    rejects(case("persistence", _stats([d]), {"successCount": 1}), "success")


# ---------------------------------------------------------------- drift_block (§7.2, §7.3)

def _window(sweeps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"now": NOW, "lookbackDays": 7, "sweeps": sweeps, **extra}


def test_drift_block_when_flags_are_strings_then_fails() -> None:
    sweep = {"runAt": "2026-03-09T03:00:00.000Z", "blockedDeployment": "false"}
    rejects(case("drift_block", _window([sweep]), {"recentBlock": True}), "blockedDeployment")
    rejects(case("drift_block", {"sweep": {"passed": "false"}}, {"blockedDeployment": False}), "passed")


def test_drift_block_when_listed_sweep_contradicts_itself_or_has_unknown_fields_then_fails() -> None:
    good = {"runAt": "2026-03-09T03:00:00.000Z", "blockedDeployment": True, "passed": False}
    run(case("drift_block", _window([good]), {"recentBlock": True, "latestDeployAllowed": False}))
    rejects(case("drift_block", _window([{**good, "passed": True}]), {"recentBlock": True}), "NOT passed")
    rejects(case("drift_block", _window([{**good, "blocked": True}]), {"recentBlock": True}), "listed sweep")


def test_drift_block_when_top_level_has_fields_beside_the_window_or_the_sweep_then_fails() -> None:
    sweep = {"runAt": "2026-03-09T03:00:00.000Z", "blockedDeployment": True}
    rejects(case("drift_block", _window([sweep], latestOnly=True), {"recentBlock": True}), "latestOnly")
    rejects(case("drift_block", {"sweep": {"passed": False}, "now": NOW}, {"blockedDeployment": True}), "now")


# ---------------------------------------------------------------- scripted usage (§6.5)

def test_executor_usage_when_a_field_is_unknown_or_fractional_then_fails() -> None:
    base = {"runType": "ambiguity_score", "forceModel": OPUS, "attemptOutcomes": ["ok"]}
    run(case("executor", {**base, "usage": {"inputTokens": 1000, "outputTokens": 500, "cachedTokens": 400}},
             {"usage": {"costUsd": 0.0471}, "relTolerance": 1e-9}))
    # §2.4's own spelling is not the usage field: read silently it would price every token as uncached
    rejects(case("executor", {**base, "usage": {"inputTokens": 1000, "outputTokens": 500,
                                                "cachedInputTokens": 400}}, {"success": True}), "cachedInputTokens")
    rejects(case("executor", {**base, "usage": {"inputTokens": 10.5, "outputTokens": 5}}, {"success": True}),
            "inputTokens")
    rejects(case("executor", {**base, "usage": {"inputTokens": 10, "outputTokens": 5, "costUsd": "0.2"}},
                 {"success": True}), "costUsd")
