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
