"""Checkers of the thin llm-routing groups refuse what they cannot read (ADR 0478).

Each case here was accepted by the old checker with the expectation a misreading gives: a string ``"false"`` read
as true, an unknown field ignored, a missing flag read as clean. Each must now fail the case.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.registry import CHECKERS, Context, load_checkers

load_checkers()
LLM = "llm-routing.json"
AT = "2026-03-01T00:00:00.000Z"
KEYS = {"ANTHROPIC_API_KEY": "a", "MINIMAX_API_KEY": "m", "MOONSHOT_API_KEY": "k", "GOOGLE_AI_API_KEY": "g"}
ALL_KEYS = {"anthropic": "a", "minimax": "m", "moonshot": "k", "google": "g"}


def case(group: str, inp: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    return {"group": group, "case": "robustness", "origin": "derived", "input": inp, "expected": expected}


def run(c: dict[str, Any]) -> None:
    CHECKERS[(LLM, c["group"])].run(c, Context(LLM, c["group"], {c["group"]: [c]}))


def rejects(c: dict[str, Any]) -> None:
    with pytest.raises(AssertionError):
        run(c)


def test_regression_suite_when_well_formed_then_checked() -> None:
    run(case("regression_suite", {"results": [{"testId": "t", "category": "edge_case", "passed": False}]},
             {"passed": 0, "failed": 1}))


@pytest.mark.parametrize(("inp", "expected"), [
    ({"results": [{"category": "edge_case", "passed": "false"}]}, {"passed": 1, "failed": 0}),
    ({"results": [{"category": "edge_case", "passed": 0}]}, {"passed": 0, "failed": 1}),
    ({"results": [{"category": "edge_case", "passed": True, "score": 0.2}]}, {"passed": 1}),
    ({"results": [], "promptVersion": "1.0.0"}, {"totalTests": 0}),
])
def test_regression_suite_when_unreadable_then_case_fails(inp: dict[str, Any], expected: dict[str, Any]) -> None:
    rejects(case("regression_suite", inp, expected))


def test_execution_gate_when_well_formed_then_checked() -> None:
    run(case("execution_gate", {"marketRuns": [{"createdAt": AT, "flagged": True, "humanOverrideScore": None}]},
             {"canExecute": False, "reason": "Awaiting human review"}))


AWAITING = {"canExecute": False, "reason": "Awaiting human review"}


@pytest.mark.parametrize(("runs", "expected", "extra"), [
    ([{"createdAt": AT, "flagged": "false"}], AWAITING, {}),
    ([{"createdAt": AT}], {"canExecute": True}, {}),
    ([{"createdAt": AT, "flagged": False, "flaggedForHumanReview": True}], {"canExecute": True}, {}),
    ([{"createdAt": AT, "flagged": True, "humanOverrideScore": True}], {"canExecute": True}, {}),
    ([{"createdAt": AT, "flagged": False, "score": 0.9}], {"canExecute": True}, {}),
    ([{"createdAt": AT, "flagged": False}], {"canExecute": True}, {"marketId": "M-1"}),
])
def test_execution_gate_when_unreadable_then_case_fails(runs: list[dict[str, Any]], expected: dict[str, Any],
                                                        extra: dict[str, Any]) -> None:
    rejects(case("execution_gate", {"marketRuns": runs, **extra}, expected))


@pytest.mark.parametrize(("inp", "expected"), [
    ({"env": KEYS, "runType": "ambiguity_score"}, {"ok": True, "keys": ALL_KEYS}),
    ({"env": {**KEYS, "GOOGLE_AI_API_KEY": None}}, {"ok": False, "missingKeys": "GOOGLE_AI_API_KEY"}),
    ({"env": {**KEYS, "MINIMAX_API_KEY": 7}}, {"ok": True}),
])
def test_executor_keys_when_unreadable_then_case_fails(inp: dict[str, Any], expected: dict[str, Any]) -> None:
    run(case("executor_keys", {"env": KEYS}, {"ok": True, "keys": ALL_KEYS}))
    rejects(case("executor_keys", inp, expected))


@pytest.mark.parametrize(("inp", "expected"), [
    ({"confidence": "0.9", "warnings": [], "citedPassages": ["q"]}, {"flaggedForHumanReview": False}),
    ({"confidence": True, "warnings": [], "citedPassages": ["q"]}, {"flaggedForHumanReview": False}),
    ({"confidence": 0.9, "warnings": [], "citedPassages": ["q"], "score": 0.1}, {"flaggedForHumanReview": False}),
    ({"confidence": 0.9, "warnings": "", "citedPassages": ["q"]}, {"flaggedForHumanReview": False}),
    ({"executionFailed": "no", "errorCode": "ALL_MODELS_FAILED", "errorMessage": "m"}, {"modelId": "routing:none"}),
])
def test_human_review_when_unreadable_then_case_fails(inp: dict[str, Any], expected: dict[str, Any]) -> None:
    run(case("human_review", {"confidence": 0.9, "warnings": [], "citedPassages": ["q"]},
             {"flaggedForHumanReview": False}))
    rejects(case("human_review", inp, expected))


def test_hard_control_run_types_when_other_fields_then_case_fails() -> None:
    run(case("hard_control", {"runTypes": ["signal_scanning"]}, {"anyMapsToHardControl": False}))
    rejects(case("hard_control", {"runTypes": ["signal_scanning"],
                                  "env": {"LLM_ROUTING_FORCE_ROUTE_CLASS": "deterministic_hard_control"}},
                 {"anyMapsToHardControl": False}))


@pytest.mark.parametrize("call", [
    {"runType": "general_enrichment", "isHighestStakes": "false", "estimatedInputTokens": 100,
     "estimatedOutputTokens": 50},
    {"runType": "general_enrichment", "isHighestStakes": True, "estimatedInputTokens": 100.5,
     "estimatedOutputTokens": 50},
    {"runType": "general_enrichment", "isHighestStakes": True, "estimatedInputTokens": "100",
     "estimatedOutputTokens": 50},
])
def test_routed_call_when_flags_or_tokens_are_not_their_type_then_case_fails(call: dict[str, Any]) -> None:
    good = {**call, "isHighestStakes": True, "estimatedInputTokens": 100}
    run(case("hard_control", {"call": good, "attemptOutcomes": ["ok"]}, {"routeClass": "premium_cognition"}))
    rejects(case("hard_control", {"call": call, "attemptOutcomes": ["ok"]}, {"routeClass": "premium_cognition"}))


def test_meta_when_input_or_expected_carry_fields_then_case_fails() -> None:
    note = CONVENTIONS_NOTE
    run({"group": "meta", "case": "_conventions", "origin": "spec", "input": {}, "expected": {}, "note": note})
    rejects({"group": "meta", "case": "_conventions", "origin": "spec", "input": {"strict": False}, "expected": {},
             "note": note})
    rejects({"group": "meta", "case": "_conventions", "origin": "spec", "input": {}, "expected": {"ok": True},
             "note": note})


CONVENTIONS_NOTE = (
    "attemptOutcomes = ordered outcomes of the simulated per-attempt provider call: 'ok' succeeds (default usage: "
    "tokens as estimated, costUsd 0 unless given), 'error' or 'error:<message>' raises with that message, "
    "'PROVIDER_TIMEOUT' raises a timeout; 'attempted' = resolved model ids called, in order. relTolerance/"
    "absTolerance apply to all floats in that case. origin 'test'; assumptions 'DEFAULT' = spec 5.2. Fields "
    "prefixed reference*/recommended* mark places. Messages are only checked where listed in messageContains."
)
