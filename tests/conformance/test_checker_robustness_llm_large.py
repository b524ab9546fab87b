"""Scripted attempt outcomes of the routed llm-routing checkers (ADR 0485).

A scripted outcome the port could not read used to raise inside the provider call, where the chain walk took it
for a provider failure and moved on: ``["banana", "ok"]`` passed as "one failure, then success". Every outcome is
now read before the first call; §6.2's attempt failures are spelled by code, HTTP status or event word, and
anything else fails the case.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.registry import CHECKERS, Context, load_checkers

load_checkers()
LLM = "llm-routing.json"
MINIMAX = "minimax:MiniMax-M2.5-highspeed"
GEMINI = "google:gemini-3-flash-preview"
SCANNER = {"runType": "signal_scanning", "estimatedInputTokens": 10, "estimatedOutputTokens": 5}


def case(group: str, inp: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    return {"group": group, "case": "robustness", "origin": "derived", "input": inp, "expected": expected}


def run(c: dict[str, Any]) -> None:
    CHECKERS[(LLM, c["group"])].run(c, Context(LLM, c["group"], {c["group"]: [c]}))


def rejects(c: dict[str, Any], match: str | None = None) -> None:
    with pytest.raises(AssertionError, match=match):
        run(c)


MOVED_ON = {"success": True, "attempted": [MINIMAX, GEMINI], "resolvedModelId": GEMINI}


@pytest.mark.parametrize("outcome", [
    "banana", "OK", "Ok", "error_", "timeout:slow", "PROVIDER_TIMEOUT ", "provider_rate_limited", "http:200",
    "HTTP 204", "http:600", "http:99", "429x", "ALL_MODELS_FAILED", "BUDGET_EXCEEDED", "PROVIDER_KEY_MISSING",
    "INVALID_FORCED_MODEL", "DETERMINISTIC_HARD_CONTROL_FORBIDDEN", "UNKNOWN_RUN_TYPE", "PROMPT_LOAD_ERROR",
    "", None, True, 429.0, {"error": "x"}, ["error"],
])
def test_failover_when_an_outcome_is_uninterpretable_then_the_case_fails(outcome: Any) -> None:
    rejects(case("failover", {**SCANNER, "attemptOutcomes": [outcome, "ok"]}, MOVED_ON), "attempt outcome")


@pytest.mark.parametrize("outcome", ["banana", "http:201", "BUDGET_EXCEEDED"])
def test_executor_when_an_outcome_is_uninterpretable_then_the_case_fails(outcome: str) -> None:
    rejects(case("executor", {"runType": "ambiguity_score", "attemptOutcomes": [outcome, "ok"]},
                 {"success": True}), "attempt outcome")


def test_when_an_unreadable_outcome_is_past_the_success_then_the_case_still_fails() -> None:
    # Never reached, still unreadable: the script as a whole must be one the checker understands.
    rejects(case("failover", {**SCANNER, "attemptOutcomes": ["ok", "banana"]}, {"success": True}),
            "attempt outcome")


@pytest.mark.parametrize(("outcome", "code"), [
    ("error", "PROVIDER_NETWORK_ERROR"),
    ("error:boom", "PROVIDER_NETWORK_ERROR"),
    ("PROVIDER_TIMEOUT", "PROVIDER_TIMEOUT"),
    ("timeout", "PROVIDER_TIMEOUT"),
    ("PROVIDER_AUTH_FAILED", "PROVIDER_AUTH_FAILED"),
    ("PROVIDER_RATE_LIMITED", "PROVIDER_RATE_LIMITED"),
    ("PROVIDER_SERVER_ERROR", "PROVIDER_SERVER_ERROR"),
    ("PROVIDER_PARSE_ERROR", "PROVIDER_PARSE_ERROR"),
    ("PROVIDER_NETWORK_ERROR", "PROVIDER_NETWORK_ERROR"),
    ("PROVIDER_RATE_LIMITED:slow down", "PROVIDER_RATE_LIMITED"),
    ("http:401", "PROVIDER_AUTH_FAILED"),
    ("HTTP 403", "PROVIDER_AUTH_FAILED"),
    ("429", "PROVIDER_RATE_LIMITED"),
    (429, "PROVIDER_RATE_LIMITED"),
    ("http_500", "PROVIDER_SERVER_ERROR"),
    ("http:400:bad request", "PROVIDER_SERVER_ERROR"),
    ("http:302", "PROVIDER_SERVER_ERROR"),
    ("malformed_json", "PROVIDER_PARSE_ERROR"),
    ("network", "PROVIDER_NETWORK_ERROR"),
])
def test_failover_when_an_attempt_fails_in_any_named_way_then_the_chain_moves_on(outcome: Any, code: str) -> None:
    c = case("failover", {**SCANNER, "attemptOutcomes": [outcome, "ok"]},
             {**MOVED_ON, "attemptErrorCodes": [code, None]})
    run(c)
    rejects({**c, "expected": {**MOVED_ON, "attemptErrorCodes": ["PROVIDER_SOMETHING", None]}})


def test_failover_when_every_attempt_fails_then_all_models_failed_keeps_the_last_message() -> None:
    inp = {**SCANNER, "attemptOutcomes": ["http:429", "PROVIDER_TIMEOUT", "malformed_json", "http:503:down"]}
    run(case("failover", inp, {"success": False, "errorCode": "ALL_MODELS_FAILED", "retryable": True,
                               "attemptErrorCodes": ["PROVIDER_RATE_LIMITED", "PROVIDER_TIMEOUT",
                                                     "PROVIDER_PARSE_ERROR", "PROVIDER_SERVER_ERROR"],
                               "messageContains": ["cloudflare", "503", "down"]}))
    rejects(case("failover", inp, {"messageContains": ["429"]}))


def test_executor_when_message_contains_is_given_then_it_is_checked() -> None:
    inp = {"runType": "ambiguity_score", "forceModel": GEMINI, "attemptOutcomes": ["error:quota gone"]}
    run(case("executor", inp, {"errorCode": "ALL_MODELS_FAILED", "messageContains": "quota gone",
                                "attemptErrorCodes": ["PROVIDER_NETWORK_ERROR"]}))
    rejects(case("executor", inp, {"messageContains": "something else"}), "something else")


# ---------------------------------------------------------------- budget_check (§5.5, §5.6): money is a JSON number

@pytest.mark.parametrize("inp", [
    {"periodType": "daily", "limitUsd": "0.3", "consumedUsd": 0.2, "projectedCostUsd": 0.1},
    {"periodType": "daily", "limitUsd": 0.3, "consumedUsd": True, "projectedCostUsd": 0.1},
    {"periodType": "monthly", "limitUsd": 0.3, "consumedUsd": 0.2, "projectedCostUsd": "0.1"},
    {"periodType": "daily", "limitUsd": 0.3, "consumedUsd": 0.2, "projectedCostUsd": 0.1, "alertThresholdPct": "80"},
    {"category": "research_scoring", "consumedDailyUsd": "1e9", "projectedCostUsd": 0},
    {"category": "research_scoring", "consumedDailyUsd": 0, "consumedMonthlyUsd": None, "projectedCostUsd": 0},
    {"category": "research_scoring", "consumedDailyUsd": 0, "projectedCostUsd": 0, "dailyLimitUsd": "5"},
])
def test_budget_check_when_an_amount_is_not_a_number_then_fails(inp: dict[str, Any]) -> None:
    rejects(case("budget_check", inp, {}), "number")


def test_budget_check_routed_consumption_when_a_string_then_fails() -> None:
    call = {**SCANNER, "forceModel": GEMINI}
    inp = {"call": call, "consumedDailyUsd": "1000000", "attemptOutcomes": ["ok"]}
    rejects(case("budget_check", inp, {"errorCode": "BUDGET_EXCEEDED"}), "number")


# ---------------------------------------------------------------- provider_error (§6.2): a status is a failing integer

@pytest.mark.parametrize(("status", "expected"), [
    ("429", {"errorCode": "PROVIDER_RATE_LIMITED"}),
    (429.5, {"errorCode": "PROVIDER_RATE_LIMITED"}),
    (True, {"errorCode": "PROVIDER_SERVER_ERROR"}),
    (200, {"errorCode": "PROVIDER_SERVER_ERROR"}),
    (204, {"errorCode": "PROVIDER_SERVER_ERROR"}),
    (600, {"errorCode": "PROVIDER_SERVER_ERROR"}),
])
def test_provider_error_when_status_is_not_a_failing_http_status_then_fails(status: Any,
                                                                            expected: dict[str, Any]) -> None:
    rejects(case("provider_error", {"httpStatus": status, "provider": "anthropic"}, expected), "httpStatus")


def test_provider_error_when_status_is_written_as_an_integral_float_then_that_status() -> None:
    # 429.0 is the JSON number 429 (ADR 0486 revises ADR 0485 here); 429.5 and "429" are still refused above
    run(case("provider_error", {"httpStatus": 429.0, "provider": "anthropic"}, {"errorCode": "PROVIDER_RATE_LIMITED"}))


def test_provider_error_when_body_is_neither_text_nor_json_object_then_fails() -> None:
    run(case("provider_error", {"httpStatus": 500, "provider": "google", "body": {"e": 1}},
             {"errorCode": "PROVIDER_SERVER_ERROR"}))
    rejects(case("provider_error", {"httpStatus": 500, "provider": "google", "body": 5},
                 {"errorCode": "PROVIDER_SERVER_ERROR"}), "body")


# ---------------------------------------------------------------- route_resolution (§1.3) and every routed call

def test_route_resolution_when_fields_sit_beside_the_call_then_fails() -> None:
    call = {"runType": "general_enrichment", "estimatedInputTokens": 1, "estimatedOutputTokens": 1}
    run(case("route_resolution", {"call": call}, {"routeClass": "cheap_enrichment"}))
    rejects(case("route_resolution", {"call": call, "strategyId": "smart-money"},
                 {"routeClass": "cheap_enrichment"}), "strategyId")
    rejects(case("route_resolution", {"call": call, "env": {"LLM_ROUTING_FORCE_MODEL": 5}},
                 {"routeClass": "cheap_enrichment"}), "env")


@pytest.mark.parametrize(("field", "value"), [
    ("strategyId", 5), ("forceModel", 5), ("forceRouteClass", ["cheap_enrichment"]), ("overrideReason", False),
    ("metadata", []), ("runType", None),
])
def test_routed_call_when_a_text_field_has_another_json_type_then_fails(field: str, value: Any) -> None:
    call = {"runType": "general_enrichment", "estimatedInputTokens": 1, "estimatedOutputTokens": 1, field: value}
    rejects(case("route_resolution", call, {}), field)


# ---------------------------------------------------------------- cost_estimate (§2.4): tokens are integers

@pytest.mark.parametrize("inp", [
    {"modelId": "anthropic:claude-opus-4-6", "inputTokens": 1000.5, "outputTokens": 0},
    {"modelId": "anthropic:claude-opus-4-6", "inputTokens": True, "outputTokens": 0},
    {"modelId": "anthropic:claude-opus-4-6", "inputTokens": 10, "outputTokens": 0, "cachedInputTokens": 2.5},
    {"modelId": "anthropic:claude-opus-4-6", "usage": {"inputTokens": 10.5, "outputTokens": 0}},
    {"runType": "ambiguity_score", "estimatedInputTokens": 1000.5, "estimatedOutputTokens": 200},
])
def test_cost_estimate_when_a_token_count_is_not_an_integer_then_fails(inp: dict[str, Any]) -> None:
    rejects(case("cost_estimate", inp, {}), "Tokens")


# ---------------------------------------------------------------- override (§2.3) and executor (§6.1) fields

@pytest.mark.parametrize("value", [5, None, ["google:gemini-3-flash-preview"], True])
def test_validate_forced_model_when_not_text_then_fails(value: Any) -> None:
    rejects(case("override", {"forcedModel": value}, {"valid": False}), "forcedModel")


@pytest.mark.parametrize(("field", "value"), [
    ("forceModel", 5), ("strategyId", False), ("metadata", "k=v"), ("variables", ["marketTitle"]), ("runType", 7),
])
def test_executor_when_a_field_has_another_json_type_then_fails(field: str, value: Any) -> None:
    inp = {"runType": "ambiguity_score", "attemptOutcomes": [], field: value}
    rejects(case("executor", inp, {"success": False}), field)
