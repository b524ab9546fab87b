"""llm-routing checkers widened by the derived-case audit (ADR 0344): each new form of a case is both
accepted with the right expectation and rejected with a wrong one, and an input field a checker cannot
interpret fails the case instead of being ignored."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.checkers._routing_http import subset
from tests.conformance.registry import CHECKERS, Context, load_checkers

load_checkers()
LLM = "llm-routing.json"
OPUS = "anthropic:claude-opus-4-6"
GEMINI = "google:gemini-3-flash-preview"


def case(group: str, inp: dict[str, Any], expected: dict[str, Any], name: str = "derived") -> dict[str, Any]:
    return {"group": group, "case": name, "origin": "derived", "input": inp, "expected": expected}


def run(c: dict[str, Any]) -> None:
    CHECKERS[(LLM, c["group"])].run(c, Context(LLM, c["group"], {c["group"]: [c]}))


def rejects(c: dict[str, Any], match: str | None = None) -> None:
    with pytest.raises(AssertionError, match=match):
        run(c)


MODELS = ("anthropic:claude-opus-4-6", "minimax:MiniMax-M2.5-highspeed", "moonshot:kimi-k2.5", GEMINI,
          "cloudflare:@cf/meta/llama-3.1-70b-instruct")


@pytest.mark.parametrize(("name", "values"), [
    ("manifest cached input price per model", (1.5, None, None, None, None)),
    ("manifest cached-input $/1M per model", (1.5, None, None, None, None)),
    ("manifest cache strategy per model", ("anthropic_prompt_cache", "minimax_prompt_cache", "moonshot_prompt_cache",
                                           "gemini_context_cache", "none")),
    ("manifest max output tokens per model", (4096, 2048, 4096, 8192, 2048)),
    ("manifest input price per model", (15, 0.15, 0.12, 0.1, 0)),
])
def test_model_table_when_named_by_field_then_that_field_is_compared(name: str, values: tuple[Any, ...]) -> None:
    run(case("model_selection", {}, dict(zip(MODELS, values, strict=True)), name))
    rejects(case("model_selection", {}, {MODELS[0]: "wrong", **dict(zip(MODELS[1:], values[1:], strict=True))}, name))


def test_model_table_when_whole_entries_then_each_entry_is_compared() -> None:
    entry = {"provider": "google", "defaultMaxTokens": 8192, "preview": True}
    run(case("model_selection", {}, {GEMINI: entry}, "manifest entries"))
    rejects(case("model_selection", {}, {GEMINI: {**entry, "preview": False}}, "manifest entries"), "preview")


def test_drift_sweep_when_more_than_100_runs_then_only_the_newest_100_are_analysed() -> None:
    inp = {"recentConfidences": [0.9] * 100 + [0.1] * 20, "promptVersion": "1.0.0"}
    run(case("drift_sweep", inp, {"runsAnalyzed": 100, "passed": True, "flaggedRate": 0}))
    rejects(case("drift_sweep", inp, {"runsAnalyzed": 120}), "runsAnalyzed")
    rejects(case("drift_sweep", {**inp, "now": "2026-03-15T03:00:00.000Z"}, {}), "now")


def test_budget_check_when_one_period_without_threshold_then_category_threshold_and_state_on_top() -> None:
    inp = {"periodType": "daily", "category": "trading_validation", "limitUsd": 10, "consumedUsd": 7}
    run(case("budget_check", inp, {"allowed": True, "shouldAlert": True, "percentUsed": 70, "remainingUsd": 3}))
    rejects(case("budget_check", inp, {"shouldAlert": False}), "shouldAlert")
    rejects(case("budget_check", {**inp, "surprise": 1}, {"allowed": True}), "surprise")


def test_budget_check_when_state_only_then_checked_at_projected_zero() -> None:
    inp = {"category": "governance_audit", "consumedDailyUsd": 8, "consumedMonthlyUsd": 0}
    run(case("budget_check", inp, {"allowed": False, "dailyState": {"isBlocked": True}}))
    rejects(case("budget_check", inp, {"allowed": True}), "allowed")


def test_routed_case_when_consumption_given_then_the_calls_category_is_charged() -> None:
    inp = {"call": {"runType": "ambiguity_score", "estimatedInputTokens": 1000, "estimatedOutputTokens": 200},
           "consumedDailyUsd": 30.06, "attemptOutcomes": []}
    cheap = {**inp, "call": {**inp["call"], "forceModel": GEMINI}, "attemptOutcomes": ["ok"]}
    run(case("failover", cheap, {"success": True, "shouldAlert": True}))
    run(case("override", inp, {"errorCode": "BUDGET_EXCEEDED", "executorCalled": False}))
    rejects(case("override", inp, {"success": True}), "success")
    rejects(case("override", {**inp, "consumedWeeklyUsd": 1}, {"success": False}), "consumedWeeklyUsd")


def test_cost_when_cached_spelled_cached_tokens_then_it_is_priced() -> None:
    inp = {"modelId": OPUS, "inputTokens": 1000, "outputTokens": 0, "cachedTokens": 400}
    run(case("cost_estimate", inp, {"costUsd": 600 / 1e6 * 15 + 400 / 1e6 * 1.5, "relTolerance": 1e-9}))
    rejects(case("cost_estimate", inp, {"costUsd": 0.015, "relTolerance": 1e-9}), "costUsd")
    rejects(case("cost_estimate", {**inp, "tier": "batch"}, {"costUsd": 0}), "tier")


def test_budget_period_when_limits_given_or_offset_missing_then_read_as_stated() -> None:
    inp = {"now": "2026-03-15T06:00:00", "category": "research_scoring", "consumedDailyUsd": 1, "dailyLimitUsd": 3}
    run(case("budget_period", inp, {"dailyProjection": 4, "willExceedDaily": True, "dailyPeriodKey": "2026-03-15"}))
    rejects(case("budget_period", {**inp, "dailyLimitUsd": 5}, {"willExceedDaily": True}), "willExceedDaily")
    rejects(case("budget_period", {**inp, "weeklyLimitUsd": 5}, {}), "cannot interpret")


@pytest.mark.parametrize(("inp", "code"), [
    ({"event": "network", "provider": "moonshot"}, "PROVIDER_NETWORK_ERROR"),
    ({"event": "malformed_json", "provider": "google"}, "PROVIDER_PARSE_ERROR"),
    ({"httpStatus": 500, "provider": "anthropic", "body": {"error": {"type": "overloaded"}}}, "PROVIDER_SERVER_ERROR"),
])
def test_provider_error_when_no_status_or_object_body_then_classified_and_moved_on(inp: dict[str, Any],
                                                                                  code: str) -> None:
    run(case("provider_error", inp, {"errorCode": code, "routingAction": "fallback_to_next_model",
                                     "sameModelRetries": 0}))
    rejects(case("provider_error", inp, {"errorCode": "PROVIDER_TIMEOUT"}), "errorCode")


def test_drift_block_when_sweeps_carry_passed_only_then_block_is_not_passed() -> None:
    inp = {"now": "2026-03-10T12:00:00.000Z", "sweeps": [{"runAt": "2026-03-09T03:00:00.000Z", "passed": False}]}
    run(case("drift_block", inp, {"recentBlock": True, "latestDeployAllowed": False}))
    rejects(case("drift_block", inp, {"recentBlock": False}), "recentBlock")
    run(case("drift_block", {"sweep": {"passed": False}}, {"blockedDeployment": True, "deployAllowed": False}))
    rejects(case("drift_block", {"sweep": {"passed": False, "colour": 1}}, {}), "colour")


def test_executor_when_ok_without_usage_then_tokens_are_the_estimates() -> None:
    inp = {"runType": "ambiguity_score", "attemptOutcomes": ["ok"], "metadata": {"k": "v"}}
    run(case("executor", inp, {"success": True, "usage": {"outputTokens": 500}}))
    rejects(case("executor", inp, {"usage": {"outputTokens": 0}}), "outputTokens")
    rejects(case("executor", {**inp, "deadlineMs": 5}, {}), "deadlineMs")


def test_route_resolution_when_category_expected_then_the_run_types_category_is_compared() -> None:
    inp = {"runType": "postmortem_summary", "estimatedInputTokens": 1, "estimatedOutputTokens": 1}
    run(case("route_resolution", inp, {"budgetCategory": "governance_audit", "overrideUsed": False}))
    rejects(case("route_resolution", inp, {"budgetCategory": "research_scoring"}), "budgetCategory")


def test_budget_derivation_when_assumptions_object_then_it_replaces_the_defaults() -> None:
    inp = {"assumptions": {"safetyMultiplier": 1.0}}
    total = 54.81 + 0.403704 + 0.28224 + 0.19488
    run(case("budget_derivation", inp, {"dailyTotal": total, "relTolerance": 1e-9}))
    rejects(case("budget_derivation", inp, {"dailyTotal": 75.1826124, "relTolerance": 1e-9}), "dailyTotal")


def test_budget_derivation_when_sum_is_a_tie_then_the_message_is_read_with_to_fixed() -> None:
    inp = {"assumptions": "DEFAULT", "override": {"categoryMix.research_scoring": 0.5,
                                                  "categoryMix.governance_audit": 0.03125}}
    run(case("budget_derivation", inp, {"error": True, "errorMentions": "categoryMix", "sum": 1.03125}))
    rejects(case("budget_derivation", inp, {"error": True, "sum": 1.0312}))


def test_admin_routing_body_when_tolerance_given_then_numbers_are_compared_within_it() -> None:
    """ADR 0458: the admin_routing body reads relTolerance/absTolerance, as every llm-routing float does."""
    body = {"limits": {"dailyTotal": 75.18261240000001}, "rows": [{"routeClass": "x", "calls": 672.0, "extra": 1}]}
    subset({"limits": {"dailyTotal": 75.1826124}, "rows": [{"calls": 672}]}, body, "body", (1e-9, 0.0))
    with pytest.raises(AssertionError, match="dailyTotal"):
        subset({"limits": {"dailyTotal": 75.1826124}}, body, "body")
    with pytest.raises(AssertionError, match=r"rows\[0\].calls"):
        subset({"rows": [{"calls": 673}]}, body, "body", (1e-9, 0.0))
    with pytest.raises(AssertionError, match="rows"):
        subset({"rows": []}, body, "body", (1e-9, 0.0))
    with pytest.raises(AssertionError, match="extra"):
        subset({"rows": [{"extra": True}]}, body, "body", (1e-9, 0.0))


def test_executor_when_run_type_is_empty_then_it_is_not_replaced_by_a_default() -> None:
    # ADR 0468: "" has no prompt (§6.1 step 1); the checker used to run the default scoring prompt instead.
    run(case("executor", {"runType": ""}, {"success": False, "errorCode": "PROMPT_LOAD_ERROR"}))
    rejects(case("executor", {"runType": ""}, {"success": True}))


def test_executor_when_no_attempt_is_scripted_then_a_provider_call_fails_the_case() -> None:
    # ADR 0468: attemptOutcomes [] allows no call; it used to fall back to one successful attempt.
    rejects(case("executor", {"runType": "ambiguity_score", "attemptOutcomes": []}, {"success": True}),
            match="called past the script")
    run(case("executor", {"runType": "ambiguity_score", "forceModel": "openai:gpt-4", "attemptOutcomes": []},
             {"success": False, "errorCode": "INVALID_FORCED_MODEL", "executorCalled": False}))


@pytest.mark.parametrize(("group", "inp", "expected"), [
    ("equivalence_grade", {"score": 0.95, "threshold": 0.99}, {"grade": "identical"}),
    ("prompt_meta", {"runType": "ambiguity_score"}, {"ambiguity_score": "1.0.0"}),
    ("regression_corpus", {"corpus": "primary"}, {"total": 70}),
    ("regression_test_eval", {"scoreRange": [0, 1], "mustCitePassages": False, "minConfidence": 0,
                              "output": {"score": 0.5, "confidence": 0.5}, "expectedKeyPassages": ["p"]},
     {"passed": True}),
    ("regression_test_eval", {"scoreRange": [0, 1], "mustCitePassages": False, "minConfidence": 0,
                              "output": {"score": 0.5, "confidence": 0.5, "citations": ["p"]}}, {"passed": True}),
])
def test_small_groups_when_an_input_field_is_unknown_then_the_case_fails(group: str, inp: dict[str, Any],
                                                                          expected: dict[str, Any]) -> None:
    # ADR 0472: these checkers read only the fields they knew and passed whatever else a case stated.
    rejects(case(group, inp, expected), "cannot interpret")


def test_equivalence_grade_when_score_is_not_a_number_then_the_case_fails() -> None:
    # ADR 0472: float(True) is 1.0 and float("0.95") parses, so both read as an identical pair.
    run(case("equivalence_grade", {"score": 1}, {"grade": "identical"}))
    rejects(case("equivalence_grade", {"score": True}, {"grade": "identical"}), "score")
    rejects(case("equivalence_grade", {"score": "0.95"}, {"grade": "identical"}), "score")


def test_regression_test_eval_when_must_reject_given_then_read_and_never_evaluated() -> None:
    # ADR 0472: §8.6 mustReject exists but is never evaluated, so it is accepted and changes nothing.
    inp = {"scoreRange": [0, 1], "mustCitePassages": False, "minConfidence": 0, "mustReject": True,
           "output": {"score": 0.5, "citedPassages": [], "confidence": 0.5}}
    run(case("regression_test_eval", inp, {"passed": True, "failureTypes": []}))
    rejects(case("regression_test_eval", inp, {"failureTypes": ["should_have_rejected"]}), "failureTypes")
    both = {**inp, "raises": "boom"}
    rejects(case("regression_test_eval", both, {"passed": False}), "both")


def test_cost_estimate_when_no_tolerance_named_then_the_spec_relative_tolerance_applies() -> None:
    # ADR 0472: the harness default (1e-6 absolute) let any cost below a millionth of a dollar pass as 0.
    inp = {"modelId": GEMINI, "inputTokens": 7, "outputTokens": 3}
    run(case("cost_estimate", inp, {"costUsd": 1.9000000000000002e-06}))
    rejects(case("cost_estimate", inp, {"costUsd": 0}), "costUsd")
    rejects(case("cost_estimate", inp, {"costUsd": 1.9e-06 * 1.00001}), "costUsd")
    usage = {"modelId": GEMINI, "usage": {"inputTokens": 7, "outputTokens": 3, "costUsd": 0}}
    rejects(case("cost_estimate", usage, {"actualCostUsd": 2.5e-06}), "actualCostUsd")
