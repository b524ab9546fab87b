"""The harness itself: synthetic cases in the sample's format go through the real checkers, and each
checker both accepts a right expectation and rejects a wrong one (so it provably can fail)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from paulp.domain import tail
from paulp.domain.order_values import OrderError
from tests.conformance.checkers._sides import RECOMMENDED, REFERENCE, implemented_side, resolve_sides
from tests.conformance.registry import CHECKERS, Context, load_checkers, vectors_dir

load_checkers()
LLM = "llm-routing.json"
TRADING = "trading.json"


def run(file: str, group: str, case: Any, document: Any = None) -> None:
    CHECKERS[(file, group)].run(case, Context(file, group, document or {group: [case]}))


def rejects(file: str, group: str, case: Any, match: str | None = None,
            errors: type[Exception] | tuple[type[Exception], ...] = AssertionError) -> None:
    with pytest.raises(errors, match=match):
        run(file, group, case)


def llm(group: str, inp: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    return {"group": group, "case": "synthetic", "origin": "spec", "input": inp, "expected": expected}


# ---------------------------------------------------------------- reference*/recommended* (_sides)

def test_sides_when_pair_then_implemented_side_is_kept_under_the_plain_name() -> None:
    exp = {"success": False, "referenceErrorCode": "INVALID_FORCED_MODEL",
           "recommendedErrorCode": "INVALID_FORCED_ROUTE_CLASS"}
    assert resolve_sides(exp, LLM) == {"success": False, "errorCode": "INVALID_FORCED_ROUTE_CLASS"}
    assert resolve_sides({"referenceFallback": True, "recommendedFallback": False}, LLM) == {"fallback": True}
    assert implemented_side(LLM, "fallback") == REFERENCE and implemented_side(LLM, "unlisted") == RECOMMENDED
    assert implemented_side(TRADING, "fallback") == RECOMMENDED


def test_sides_when_carried_or_plain_beside_one_side_then_convention_applies() -> None:
    carried = {"referenceInputTokens": 10, "recommendedInputTokens": 20}
    assert resolve_sides(carried, LLM, carried) == carried
    # plain beside recommendedX is the reference's value (the provider_wire convention)
    assert resolve_sides({"inputTokens": 10, "recommendedInputTokens": 20}, LLM) == {"inputTokens": 20}
    assert resolve_sides({"fallback": True, "recommendedFallback": False}, LLM) == {"fallback": True}
    # only the side Paul P does not implement: nothing to assert for that field
    assert resolve_sides({"referenceFallbacksAttempted": []}, LLM) == {}
    with pytest.raises(AssertionError, match="ambiguous"):
        resolve_sides({"errorCode": "A", "referenceErrorCode": "B", "recommendedErrorCode": "C"}, LLM)


def test_override_when_reference_and_recommended_codes_then_recommended_is_asserted() -> None:
    call = {"call": {"estimatedInputTokens": 100, "estimatedOutputTokens": 50, "runType": "general_enrichment",
                     "forceRouteClass": "premium"}}
    run(LLM, "override", llm("override", call, {"success": False, "referenceErrorCode": "INVALID_FORCED_MODEL",
                                                 "recommendedErrorCode": "INVALID_FORCED_ROUTE_CLASS",
                                                 "retryable": False}))
    rejects(LLM, "override", llm("override", call, {"referenceErrorCode": "INVALID_FORCED_ROUTE_CLASS",
                                                     "recommendedErrorCode": "INVALID_FORCED_MODEL"}), "errorCode")


def test_failover_when_fallbacks_attempted_pair_then_recommended_list_is_asserted() -> None:
    inp = {"runType": "ambiguity_score", "estimatedInputTokens": 1000, "estimatedOutputTokens": 200,
           "attemptOutcomes": ["error", "ok"]}
    run(LLM, "failover", llm("failover", inp, {"success": True, "referenceFallbacksAttempted": [],
                                               "recommendedFallbacksAttempted": ["anthropic:claude-opus-4-6"]}))
    rejects(LLM, "failover", llm("failover", inp, {"referenceFallbacksAttempted": ["anthropic:claude-opus-4-6"],
                                                   "recommendedFallbacksAttempted": []}), "fallbacksAttempted")


def test_scoring_parse_when_fenced_pair_then_strict_reference_side_is_asserted() -> None:
    fenced = {"content": '```json\n{"score":0.3,"reasoning":"r","citedPassages":["a"],"confidence":0.9}\n```'}
    run(LLM, "scoring_parse", llm("scoring_parse", fenced, {"referenceFallback": True, "recommendedFallback": False}))
    rejects(LLM, "scoring_parse", llm("scoring_parse", fenced, {"referenceFallback": False,
                                                                "recommendedFallback": True}), "fallback")


def test_provider_wire_when_it_carries_both_sides_then_both_are_asserted() -> None:
    response = {"content": [{"type": "text", "text": "x"}],
                "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 7,
                          "cache_creation_input_tokens": 3}}
    inp = {"provider": "anthropic", "response": response}
    run(LLM, "provider_wire", llm("provider_wire", inp, {"recommendedInputTokens": 20, "referenceInputTokens": 10}))
    rejects(LLM, "provider_wire", llm("provider_wire", inp, {"recommendedInputTokens": 20,
                                                             "referenceInputTokens": 20}), "referenceInputTokens")


def test_timeout_table_when_cloudflare_sides_then_table_and_applied_timeout_are_asserted() -> None:
    table = {"anthropic": 60000, "minimax": 30000, "moonshot": 60000, "google": 30000, "cloudflare": None}
    run(LLM, "provider_error", llm("provider_error", {}, table))
    run(LLM, "provider_error", llm("provider_error", {}, {**table, "referenceCloudflare": None,
                                                         "recommendedCloudflare": 60000}))
    rejects(LLM, "provider_error", llm("provider_error", {}, {"recommendedCloudflare": 30000}), "recommendedCloudflare")
    rejects(LLM, "provider_error", llm("provider_error", {}, {**table, "cloudflare": 60000}), "cloudflare")


# ---------------------------------------------------------------- C2 route_resolution errors

@pytest.mark.parametrize(("inp", "code"), [
    ({"runType": "rule_interpretation", "estimatedInputTokens": 100, "estimatedOutputTokens": 50},
     "UNKNOWN_RUN_TYPE"),
    ({"env": {"LLM_ROUTING_FORCE_ROUTE_CLASS": "turbo"},
      "call": {"runType": "general_enrichment", "estimatedInputTokens": 100, "estimatedOutputTokens": 50}},
     "INVALID_FORCED_ROUTE_CLASS"),
    ({"runType": "general_enrichment", "forceRouteClass": "premium"}, "INVALID_FORCED_ROUTE_CLASS"),
    ({"runType": "general_enrichment", "forceModel": "openai:gpt-9"}, "INVALID_FORCED_MODEL"),
    ({"env": {"LLM_ROUTING_FORCE_MODEL": "nope"}, "call": {"runType": "general_enrichment"}},
     "INVALID_FORCED_MODEL"),
])
def test_route_resolution_when_refused_then_error_code_is_compared(inp: dict[str, Any], code: str) -> None:
    run(LLM, "route_resolution", llm("route_resolution", inp, {"errorCode": code, "retryable": False}))
    other = "INVALID_FORCED_MODEL" if code != "INVALID_FORCED_MODEL" else "UNKNOWN_RUN_TYPE"
    rejects(LLM, "route_resolution", llm("route_resolution", inp, {"errorCode": other}), "errorCode")


def test_route_resolution_when_call_is_fine_then_an_error_expectation_fails() -> None:
    inp = {"runType": "general_enrichment", "estimatedInputTokens": 100, "estimatedOutputTokens": 50}
    run(LLM, "route_resolution", llm("route_resolution", inp, {"routeClass": "cheap_enrichment",
                                                               "resolutionSource": "default_low_cost"}))
    rejects(LLM, "route_resolution", llm("route_resolution", inp, {"errorCode": "UNKNOWN_RUN_TYPE"}), "errorCode")


# ---------------------------------------------------------------- C5 provider_error, last model in the chain

def test_provider_error_when_cloudflare_then_chain_ends_all_models_failed() -> None:
    for inp, code in (({"httpStatus": 500, "provider": "cloudflare"}, "PROVIDER_SERVER_ERROR"),
                      ({"httpStatus": 429, "provider": "cloudflare"}, "PROVIDER_RATE_LIMITED"),
                      ({"event": "timeout", "provider": "cloudflare"}, "PROVIDER_TIMEOUT")):
        run(LLM, "provider_error", llm("provider_error", inp, {"errorCode": code, "sameModelRetries": 0,
                                                               "routingAction": "fallback_to_next_model"}))
    rejects(LLM, "provider_error", llm("provider_error", {"httpStatus": 500, "provider": "cloudflare"},
                                       {"errorCode": "PROVIDER_AUTH_FAILED"}), "errorCode")
    rejects(LLM, "provider_error", llm("provider_error", {"httpStatus": 500, "provider": "cloudflare"},
                                       {"routingAction": "stop"}), "routingAction")


# ---------------------------------------------------------------- C3 order_lifecycle validate, metrics as a list

def lifecycle(section: str, item: Any) -> tuple[str, Any, dict[str, Any]]:
    return section, item, {}


@pytest.mark.parametrize("start", ["VALIDATED", "RISK_APPROVED", "SUBMITTED", "FILLED"])
def test_validate_step_when_wrong_start_state_then_domain_refusal_is_reported(start: str) -> None:
    refused = {"input": {"start_state": start, "ticker": "T"}, "expected": {"outcome": "refused"}}
    run(TRADING, "order_lifecycle", lifecycle("step_commands", refused))
    rejects(TRADING, "order_lifecycle", lifecycle("step_commands", {
        "input": {"start_state": start}, "expected": {"outcome": "accepted", "final_state": "VALIDATED"}}),
        "Invalid state transition", (AssertionError, OrderError))
    rejects(TRADING, "order_lifecycle", lifecycle("step_commands", {
        "input": {"start_state": start}, "expected": {"outcome": "refused", "error_contains": "no such words"}}),
        "lacks")


def test_validate_step_when_pending_then_accepted_and_a_refusal_expectation_fails() -> None:
    run(TRADING, "order_lifecycle", lifecycle("step_commands", {
        "input": {"start_state": "PENDING"}, "expected": {"outcome": "accepted", "final_state": "VALIDATED"}}))
    rejects(TRADING, "order_lifecycle", lifecycle("step_commands", {
        "input": {"start_state": "PENDING"}, "expected": {"outcome": "refused"}}), "accepted")


def test_metrics_when_section_is_a_list_then_each_item_is_a_case() -> None:
    from tests.conformance.checkers.trading_order_lifecycle import split

    metrics = [{"name": "one filled", "input": [{"state": "FILLED", "createdAt_offset_ms": -4000,
                                                  "filledAt_offset_ms": 0, "clv": 2}, {"state": "SUBMITTED"}],
                "expected": {"total": 2, "avgTimeToFill": 4000, "fillRate": 0.5, "byState_nonzero":
                             {"FILLED": 1, "SUBMITTED": 1}}},
               {"input": [], "expected": {"total": 0}}]
    cases = list(split({"metrics": metrics}))
    assert [c[0] for c in cases] == ["metrics/000-one filled", "metrics/001"]
    for _, case in cases:
        run(TRADING, "order_lifecycle", case)
    rejects(TRADING, "order_lifecycle", lifecycle("metrics", {**metrics[0], "expected": {"fillRate": 1.0}}),
            "fillRate")
    rejects(TRADING, "order_lifecycle", lifecycle("metrics", {**metrics[0], "expected": {"fill_rate": 1.0}}),
            "not interpretable")


# ---------------------------------------------------------------- C4 correlation rules

def correlation(item: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "event_graph_correlation_scores", item


@pytest.mark.parametrize("item", [
    {"source": "rule", "selector": {"category": "politics"}, "rule_type": "category_rule", "weight": 0.4,
     "expected_score": 0.4, "expected_type": "category_rule"},
    {"source": "rule", "selector": '{"series": "KXHIGHNY"}', "ruleType": "series_rule", "weight": 0.55,
     "expected": {"score": 0.55, "type": "series_rule"}},
    {"source": "correlation_rule", "rule": {"selector": {"category": "x", "series": "y"}, "weight": 0.3,
                                            "type": "cat"}, "matching_markets": 60, "expected_count": 50,
     "expected_score": 0.3},
    {"source": "rule", "selector": "{not json", "rule_type": "r", "weight": 0.4, "target_category": "politics",
     "expected": "malformed selector skipped"},
    {"source": "rule", "selector": {"category": "politics"}, "rule_type": "r", "weight": 0.4,
     "target_in_catalogue": False, "expected_score": None},
    {"source": "rule", "selector": {"category": "politics"}, "rule_type": "r", "weight": 0.4,
     "target_category": "sports", "expected_count": 0},
    {"source": "rule", "selector": {"category": "politics"}, "rule_type": "r", "weight": 0.4, "active": False,
     "expected": "no correlation (inactive rule)"},
])
def test_correlation_rule_when_plausible_spelling_then_case_runs(item: dict[str, Any]) -> None:
    run(TRADING, "risk_invariants", correlation(item))


@pytest.mark.parametrize(("item", "match"), [
    ({"source": "rule", "selector": {"category": "politics"}, "rule_type": "category_rule", "weight": 0.4,
      "expected_score": 0.5, "expected_type": "category_rule"}, "rule score"),
    ({"source": "rule", "selector": {"category": "politics"}, "rule_type": "category_rule", "weight": 0.4,
      "expected_score": 0.4, "expected_type": "series_rule"}, "rule type"),
    ({"source": "rule", "selector": {"category": "politics"}, "rule_type": "r", "weight": 0.4,
      "target_in_catalogue": False, "expected_score": 0.4}, "correlated markets"),
    ({"source": "rule", "selector": "{not json", "rule_type": "r", "weight": 0.4, "target_category": "politics",
      "expected_score": 0.4}, "correlated markets"),
    ({"source": "rule", "selector": {"category": "politics"}, "weight": 0.4, "expected_score": 0.4,
      "bonus_field": 1}, "bonus_field"),
    ({"source": "rule", "selector": {"category": "politics"}, "weight": 0.4, "expected": "it correlates"},
     "no expectation"),
])
def test_correlation_rule_when_wrong_or_uninterpretable_then_fails(item: dict[str, Any], match: str) -> None:
    rejects(TRADING, "risk_invariants", correlation(item), match)


# ---------------------------------------------------------------- prose parsers: wording variants and failures

DEFAULTS = {"category": "politics", "entryPrice": 0.5, "closingLinePrice": 0.55, "clv": 0.05, "clvValid": True,
            "pnl": 100, "size": 1000, "fees": 5, "ambiguityScore": 0.2}


@pytest.mark.parametrize("text", [
    "20 positions i=0..19: category politics, clv 0.04 valid, pnl 100 when i even and 300 when i odd, size 1000, "
    "fees 5, ambiguity 0.2",
    "20 Positions (i = 0...19): Category: politics; CLV 4c (valid); PnL $100 (even i) / $300 (odd i); "
    "size 1,000; fee 5; ambiguity score 0.2",
    "twenty positions with clv=0.04, pnl alternating 100/300, category politics, otherwise default",
    "20 x default positions (clv 0.04 valid, pnl 100 if i is even, 300 if i is odd, politics)",
])
def test_account_positions_when_worded_differently_then_same_positions(text: str) -> None:
    from tests.conformance.checkers.trading_account_skill import expand_positions

    rows = expand_positions(text, DEFAULTS)
    assert len(rows) == 20
    assert [r["pnl"] for r in rows[:3]] == [100, 300, 100]
    assert all(r["clv"] == pytest.approx(0.04) and r["clvValid"] is True and r["category"] == "politics"
               and r["size"] == 1000 and r["fees"] == 5 for r in rows)


def test_account_positions_cycles_and_failures() -> None:
    from tests.conformance.checkers.trading_account_skill import expand_positions

    rows = expand_positions("6 positions: category cycling through [politics, sports, crypto], clv 0.02 invalid",
                            DEFAULTS)
    assert [r["category"] for r in rows] == ["politics", "sports", "crypto"] * 2 and not rows[0]["clvValid"]
    for bad, match in (("positions galore", "position count"), ("3 positions: colour blue", "colour blue"),
                       ("3 positions: pnl 1 when i prime", "when i prime"),
                       ("3 positions: category cycles [a,b] by i%3", "cycle length")):
        with pytest.raises(AssertionError, match=match):
            expand_positions(bad, DEFAULTS)


@pytest.mark.parametrize("text", [
    "20 identical opportunities opp0..opp19 with fairProbability 0.7, marketPrice 0.5, side YES",
    "20 identical opportunities (opp0...opp19): side yes, marketPrice=0.5, fair probability 70%",
    "20 opportunities opp0 to opp19, each with market price 0.50 and fair probability .7, YES side",
])
def test_kelly_identical_opportunities_when_worded_differently_then_same(text: str) -> None:
    from tests.conformance.checkers.trading_kelly import identical_opportunities

    opps = identical_opportunities(text)
    assert [o.opportunity_id for o in opps] == [f"opp{i}" for i in range(20)]
    assert {(o.fair_probability, o.market_price, o.side) for o in opps} == {(0.7, 0.5, "YES")}


def test_kelly_identical_opportunities_ids_from_expected_and_failures() -> None:
    from tests.conformance.checkers.trading_kelly import identical_opportunities

    opps = identical_opportunities("3 identical opportunities, fairProbability 0.7, marketPrice 0.5, side NO",
                                   ["a", "b", "c"])
    assert [o.opportunity_id for o in opps] == ["a", "b", "c"] and opps[0].side == "NO"
    for bad, match in (("3 identical opportunities a0..a2 with marketPrice 0.5, side YES", "fair"),
                       ("3 identical opportunities a0..a2 fairProbability 0.7, marketPrice 0.5, side YES, "
                        "fees 2", "fees 2"),
                       ("4 identical opportunities a0..a2 fairProbability 0.7, marketPrice 0.5, side YES",
                        "does not match"),
                       ("a few opportunities", "count")):
        with pytest.raises(AssertionError, match=match):
            identical_opportunities(bad)


def weather(section: str, item: dict[str, Any]) -> Any:
    from tests.conformance.checkers.trading_weather import SPLIT

    ((_, case),) = list(SPLIT({section: [item]}))
    return case


SIZED = {"hasEdge": True, "kellyFraction": 0.924166457043, "adjustedFraction": 0.05, "positionSize": 15,
         "confidenceAdjustment": 0.941176470588}


@pytest.mark.parametrize("item", [
    {"case": "YES: model 0.977249937113, price 0.70, capital 300, CV 0.25"},
    {"case": "yes side - model probability=0.977249937113, market price 0.7, capital $300, assumed CV 0.25"},
    {"case": "capital 300, CV 0.25, YES, price 0.70, model 0.977249937113"},
    {"input": {"side": "YES", "modelProbability": 0.977249937113, "marketPrice": 0.7, "capital": 300,
               "assumedCV": 0.25}},
])
def test_weather_sizing_when_worded_differently_then_same_sizing(item: dict[str, Any]) -> None:
    run(TRADING, "weather", weather("signal_sizing", {**item, "expected": SIZED}))
    rejects(TRADING, "weather", weather("signal_sizing", {**item, "expected": {**SIZED, "positionSize": 16}}),
            "positionSize")


def test_weather_sizing_when_text_has_unknown_facts_then_fails() -> None:
    rejects(TRADING, "weather", weather("signal_sizing", {
        "case": "YES: model 0.97, price 0.70, capital 300, CV 0.25, fees 3", "expected": SIZED}), "fees 3")
    rejects(TRADING, "weather", weather("signal_sizing", {"case": "YES: model 0.97, capital 300, CV 0.25",
                                                          "expected": SIZED}), "no price")


def test_weather_points_when_worded_differently_then_same_points() -> None:
    from datetime import date

    from tests.conformance.checkers.trading_weather import _points

    run_ = [(date(y, 3, 15), 60.0) for y in range(2000, 2015)] + [(date(y, 3, 15), 80.0) for y in range(2016, 2026)]
    for text in ("15 values of 60 dated 2000..2014 (Mar 15) then 10 values of 80 dated 2016..2025 (Mar 15)",
                 "15 Values of 60 dated 2000-2014 (March 15th); 10 values = 80 on 2016 to 2025 (03-15)",
                 "values of 60 for years 2000..2014 on 15 Mar, then values of 80 dated 2016..2025 (Mar 15)"):
        assert _points(text) == run_, text
    listed = [(date(2020, 3, 15), 70.0), (date(2021, 3, 15), 72.0)]
    for raw in ("values [70, 72] dated 2020-03-15, 2021-03-15", "values 70, 72 dated 2020-03-15 and 2021-03-15",
                [{"date": "2020-03-15", "value": 70}, {"date": "2021-03-15", "value": 72}],
                [["2020-03-15", 70], ["2021-03-15", 72]]):
        assert _points(raw) == listed, raw
    for bad in ("15 values of 60 dated 2000..2013 (Mar 15)", "some values around 60",
                "values [70, 72] dated 2020-03-15"):
        with pytest.raises(AssertionError):
            _points(bad)


def bonding(item: dict[str, Any]) -> Any:
    from tests.conformance.checkers.trading_bonding_barbell import SPLIT

    ((_, case),) = list(SPLIT({"signal_emission": [item]}))
    return case


@pytest.mark.parametrize(("text", "expected"), [
    ("bond position without supplied fair probability", "no signal (Kelly has no edge at fair = price)"),
    ("Bond positions: no fair value supplied", "No signal"),
    ("a bond whose fair probability is not supplied", {"emitted": False}),
    ("bond with fair equal to price", "no signal"),
    ("tail with supplied fair below price", {"emitted": True, "kellyFraction": 0}),
    ("Tail position, fair probability lower than the market price", {"emitted": True}),
    ("bond with fair above price", {"emitted": True}),
])
def test_bonding_signal_emission_when_worded_differently_then_runs(text: str, expected: Any) -> None:
    run(TRADING, "bonding_barbell", bonding({"case": text, "expected": expected}))


@pytest.mark.parametrize(("text", "expected", "match"), [
    ("bond position without supplied fair probability", {"emitted": True}, "signals"),
    ("tail with supplied fair below price", "no signal", "expected no tail signal"),
    ("tail with supplied fair below price", {"emitted": True, "kellyFraction": 0.5}, "kellyFraction"),
    ("bond and tail, fair below price", {"emitted": True}, "subject"),
    ("bond with fair somewhere near price", {"emitted": True}, "situation"),
    ("bond with fair above price", {"emitted": True, "size": 3}, "size"),
    ("bond position without supplied fair probability", "signal maybe", "expected text"),
])
def test_bonding_signal_emission_when_wrong_or_unreadable_then_fails(text: str, expected: Any, match: str) -> None:
    rejects(TRADING, "bonding_barbell", bonding({"case": text, "expected": expected}), match)


# ---------------------------------------------------------------- human_review failure records

FAILED = {"executionFailed": True, "errorCode": "BUDGET_EXCEEDED",
          "errorMessage": "Daily budget exceeded for research_scoring", "selectedModel": "anthropic:claude-opus-4-6"}


def test_human_review_failure_when_model_selected_then_record_names_it_and_is_flagged() -> None:
    expected = {"outputJson": {"score": 0.5, "confidence": 0.0, "citedPassages": []},
                "warnings": ["Error code: BUDGET_EXCEEDED", "Daily budget exceeded for research_scoring"],
                "modelId": "anthropic:claude-opus-4-6", "flaggedForHumanReview": True}
    run(LLM, "human_review", llm("human_review", FAILED, expected))
    rejects(LLM, "human_review", llm("human_review", FAILED, {**expected, "flaggedForHumanReview": False}),
            "flaggedForHumanReview")
    rejects(LLM, "human_review", llm("human_review", FAILED, {"modelId": "routing:none"}), "modelId")


def test_human_review_failure_when_routing_never_selected_then_routing_none() -> None:
    inp = {k: v for k, v in FAILED.items() if k != "selectedModel"} | {"errorCode": "UNKNOWN_RUN_TYPE"}
    run(LLM, "human_review", llm("human_review", inp, {"modelId": "routing:none", "flaggedForHumanReview": True}))
    rejects(LLM, "human_review", llm("human_review", inp, {"modelId": "anthropic:claude-opus-4-6"}), "modelId")
    rejects(LLM, "human_review", llm("human_review", {**FAILED, "surprise": 1}, {"modelId": "x"}), "surprise")


# ---------------------------------------------------------------- trading checkers read prefixed keys too

KELLY_SIZING = {"input": {"fairProbability": 0.6, "marketPrice": 0.5, "side": "YES", "bankroll": 10000,
                          "maxPositionPct": 5}, "monte_carlo": {"simulations": 10000, "assumedCV": 0.3}}


def test_trading_expected_when_prefixed_then_recommendation_is_asserted() -> None:
    ok = {**KELLY_SIZING, "expected": {"kellyFraction": 0.2, "referencePositionSize": 123,
                                       "recommendedPositionSize": 500}}
    run(TRADING, "kelly", ("sizing", ok))
    bad = {**KELLY_SIZING, "expected": {"referencePositionSize": 500, "recommendedPositionSize": 123}}
    rejects(TRADING, "kelly", ("sizing", bad), "positionSize")


# ---------------------------------------------------------------- circuit_breaker initial counters, event times

def breaker(name: str, initial: dict[str, Any], events: list[dict[str, Any]],
            expected: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "scenarios", {"name": name, "initial": initial, "events": events, "expected": expected}


@pytest.mark.parametrize("state,failures", [("RECOVERY", 3), ("CAUTION", 4), ("NORMAL", 5), ("HALT", 2), ("HALT", 6)])
def test_breaker_initial_when_counter_at_or_over_three_then_state_and_counter_are_reached(
        state: str, failures: int) -> None:
    initial = {"state": state, "consecutiveFailures": failures, **({"haltStartedAt": "now-30min"} if state == "HALT"
                                                                    else {})}
    run(TRADING, "circuit_breaker", breaker("reach", initial, [], {
        "final_state": state, "transitions": [], "consecutiveFailures": failures}))
    rejects(TRADING, "circuit_breaker", breaker("reach", initial, [], {
        "final_state": state, "transitions": [], "consecutiveFailures": failures + 1}))


def test_breaker_strict_recovery_when_counter_stands_then_first_blocked_check_halts() -> None:
    blocked = [{"event": "risk_check", "blocked": True}]
    initial = {"state": "RECOVERY", "consecutiveFailures": 3}
    run(TRADING, "circuit_breaker", breaker("strict", initial, blocked, {
        "final_state": "HALT", "transitions": [["RECOVERY", "HALT", "Consecutive risk check failures"]],
        "consecutiveFailures": 4, "haltStartedAt": "now"}))
    rejects(TRADING, "circuit_breaker", breaker("strict", initial, blocked, {
        "final_state": "RECOVERY", "transitions": []}), "final state")


def test_breaker_event_when_it_gives_its_own_time_then_it_runs_then() -> None:
    halted = {"state": "HALT", "haltStartedAt": "now"}
    late = [{"event": "risk_check", "blocked": True, "at": "now+10min"},
            {"event": "any_command_or_query", "at": "now+3660000ms"}]
    run(TRADING, "circuit_breaker", breaker("timer", halted, late, {
        "final_state": "RECOVERY", "transitions": [["HALT", "RECOVERY", "Auto-recovery: HALT timeout"]],
        "haltStartedAt": None}))
    on_time = [{"event": "any_command_or_query", "at": "now+1h"}]  # exactly 60 min: not yet (strictly more)
    run(TRADING, "circuit_breaker", breaker("timer", halted, on_time, {"final_state": "HALT", "transitions": []}))
    rejects(TRADING, "circuit_breaker", breaker("timer", halted, on_time, {"final_state": "RECOVERY"}))


def test_breaker_event_when_it_has_a_key_the_checker_cannot_read_then_fails() -> None:
    rejects(TRADING, "circuit_breaker", breaker("unread", {"state": "NORMAL"}, [
        {"event": "risk_check", "blocked": True, "when": "later"}], {"final_state": "NORMAL"}), "cannot interpret")


# ---------------------------------------------------------------- deterministic_ids "order" parts no order has

@pytest.mark.parametrize("parts,expected_id", [
    (["sig-1", None, "TICKER", "YES", 10, 55], "order-4936e36898550c9e"),
    (["sig-1", "bonding", "TICKER", "YES", 10.5, 55], "order-6a702dbadc4bdb08"),
    (["sig-1", "bonding", "TICKER", "YES", 10, 55, 1], "order-946936da9fefec4b"),
])
def test_deterministic_order_id_when_parts_fit_no_order_then_id_alone_is_checked(
        parts: list[Any], expected_id: str) -> None:
    run(TRADING, "deterministic_ids", {"prefix": "order", "parts": parts, "expected_id": expected_id})
    rejects(TRADING, "deterministic_ids", {"prefix": "order", "parts": parts, "expected_id": "order-0000000000000000"})


# ---------------------------------------------------------------- order_lifecycle cancel, sizing, refused steps

def test_cancel_when_error_contains_given_then_it_is_compared_and_unknown_keys_fail() -> None:
    terminal = {"state": "FILLED",
                "expected": {"outcome": "refused", "error_contains": "Order is in terminal state: FILLED"}}
    run(TRADING, "order_lifecycle", lifecycle("cancel_command", terminal))
    rejects(TRADING, "order_lifecycle", lifecycle("cancel_command", {
        "state": "FILLED", "expected": {"outcome": "refused", "error_contains": "not cancellable"}}), "lacks")
    rejects(TRADING, "order_lifecycle", lifecycle("cancel_command", {
        "state": "PENDING", "expected": {"outcome": "accepted", "final_state": "CANCELLED", "cancelledAt": "now"}}),
        "cannot interpret")


@pytest.mark.parametrize("case", [
    {"targetSizeUSD": 50, "marketPrice": 0.55, "expected_maxPriceCents": 55, "expected_requestedSize": 90},
    {"targetSizeUSD": 0.5, "marketPrice": 0.6, "expected_requestedSize": 0, "expected_outcome": "signal dropped"},
    {"targetSizeUSD": 90, "maxPriceCents": 95, "expected_requestedSize": 94},
])
def test_signal_sizing_when_price_given_as_market_price_or_cents_then_both_expectations_checked(
        case: dict[str, Any]) -> None:
    run(TRADING, "order_lifecycle", lifecycle("signal_to_order_sizing", case))
    rejects(TRADING, "order_lifecycle", lifecycle("signal_to_order_sizing", {
        **case, "expected_requestedSize": case["expected_requestedSize"] + 1}))


def test_signal_sizing_when_unreadable_then_fails() -> None:
    rejects(TRADING, "order_lifecycle", lifecycle("signal_to_order_sizing", {
        "targetSizeUSD": 50, "marketPrice": 0.55, "expected_maxPriceCents": 54}), "maxPrice")
    rejects(TRADING, "order_lifecycle", lifecycle("signal_to_order_sizing", {
        "targetSizeUSD": 50, "limitPrice": 55, "expected_requestedSize": 90}), "cannot interpret")


def test_step_refusal_when_transition_written_as_object_then_compared() -> None:
    step = {"input": {"start_state": "PENDING", "fills": [[10, 50]]}, "expected": {"outcome": "refused"}}
    run(TRADING, "order_lifecycle", lifecycle("step_commands", {**step, "expected": {
        "outcome": "refused", "refused_transition": {"from": "PENDING", "to": "FILLED"}}}))
    rejects(TRADING, "order_lifecycle", lifecycle("step_commands", {**step, "expected": {
        "outcome": "refused", "refused_transition": {"from": "PENDING", "to": "PARTIAL_FILL"}}}), "refused")


# ---------------------------------------------------------------- circuit_breaker adjusted limits, kelly inputs

def test_adjusted_limits_when_unscaled_limits_listed_too_then_each_compared() -> None:
    run(TRADING, "circuit_breaker", ("adjusted_limits", ("CAUTION", {
        "maxPositionPct": 2.5, "maxMarketExposurePct": 15,
        "allowedEquivalenceGrades": ["identical", "near_equivalent"]})))
    rejects(TRADING, "circuit_breaker", ("adjusted_limits", ("CAUTION", {"maxMarketExposurePct": 7.5})))
    rejects(TRADING, "circuit_breaker", ("adjusted_limits", ("RECOVERY", {"maxPositionSize": 3.75})),
            "cannot interpret")


def test_kelly_sizing_when_assumed_cv_given_in_input_then_used_and_unknown_input_fails() -> None:
    case = {"input": {"fairProbability": 0.55, "marketPrice": 0.5, "side": "YES", "bankroll": 1000,
                      "maxPositionPct": 100, "assumedCV": 0.25},
            "expected": {"confidenceAdjustment": 1 / 1.0625, "adjustedFraction": 0.1 / 1.0625}}
    run(TRADING, "kelly", ("sizing", case))
    rejects(TRADING, "kelly", ("sizing", {**case, "input": {**case["input"], "assumedCV": 0.3}}))
    rejects(TRADING, "kelly", ("sizing", {**case, "input": {**case["input"], "kellyMultiplier": 0.25}}),
            "cannot interpret")


# ---------------------------------------------------------------- kelly, breaker scenarios, risk cases (ADR 0471)

def test_kelly_cv_when_no_history_then_the_assumption_and_a_short_history_still_reads_0_3() -> None:
    run(TRADING, "kelly", ("coefficient_of_variation", {"returns": None, "assumedCV": 0.25, "expected_cv": 0.25}))
    run(TRADING, "kelly", ("coefficient_of_variation", {"returns": None, "expected_cv": 0.3}))
    run(TRADING, "kelly", ("coefficient_of_variation", {"returns": [1, 2, 3], "assumedCV": 0.25, "expected_cv": 0.3}))
    rejects(TRADING, "kelly", ("coefficient_of_variation", {"returns": None, "assumedCV": 0.25, "expected_cv": 0.3}))


def test_kelly_raw_and_cv_when_a_field_the_checker_cannot_read_then_fail() -> None:
    rejects(TRADING, "kelly", ("coefficient_of_variation", {
        "returns": [8, 9, 10, 11, 12], "sample": True, "expected_cv": 0.141421356237}), "cannot interpret")
    rejects(TRADING, "kelly", ("raw_kelly", {
        "fairProbability": 0.6, "marketPrice": 0.5, "side": "YES", "kellyMultiplier": 0.25,
        "expected_raw_kelly": 0.2}), "cannot interpret")


_DRIFT = {"event": "position_drift_check", "expected": [{"marketId": "M", "side": "YES", "size": 100}],
          "broker": [{"marketId": "M", "side": "YES", "size": 97}]}


def test_breaker_scenario_when_events_follow_the_drift_check_then_its_report_is_still_compared() -> None:
    events = [_DRIFT, {"event": "any_command_or_query"}]
    facts = {"final_state": "CAUTION", "transitions": [["NORMAL", "CAUTION"]],
             "alerts": [["POSITION_DRIFT", "warning"]], "verified": False, "maxDriftPct": 3,
             "criticalDriftCount": 0, "recommendation": "CAUTION"}
    run(TRADING, "circuit_breaker", breaker("drift", {"state": "NORMAL"}, events, facts))
    rejects(TRADING, "circuit_breaker", breaker("drift", {"state": "NORMAL"}, events, {**facts, "maxDriftPct": 5}),
            "maxDriftPct")
    rejects(TRADING, "circuit_breaker", breaker("drift", {"state": "NORMAL"}, [{"event": "any_command_or_query"}], {
        "final_state": "NORMAL", "verified": True}), "no position drift check")


def test_breaker_scenario_when_it_has_a_field_the_checker_cannot_read_then_fails() -> None:
    section, case = breaker("unread", {"state": "NORMAL"}, [{"event": "risk_check", "blocked": True}],
                            {"final_state": "NORMAL"})
    run(TRADING, "circuit_breaker", (section, {**case, "source_behaviour": {"final_state": "HALT"}}))
    rejects(TRADING, "circuit_breaker", (section, {**case, "limits": {"consecutiveFailuresToHalt": 1}}),
            "cannot interpret")


def _risk_document() -> dict[str, Any]:
    sample = json.loads((vectors_dir() / TRADING).read_text())
    return {"risk_invariants": {"base_request": sample["risk_invariants"]["base_request"]}}


def run_risk(section: str, case: dict[str, Any]) -> None:
    CHECKERS[(TRADING, "risk_invariants")].run((section, case), Context(TRADING, "risk_invariants", _risk_document()))


def test_risk_cases_when_state_given_beside_the_overrides_then_fail_instead_of_running_in_normal() -> None:
    single = {"invariant": "I1_MAX_POSITION_SIZE", "overrides": {"size": 300},
              "expected": {"passed": True, "actual_value": 3, "threshold": 5}}
    run_risk("single_invariant_cases", single)
    with pytest.raises(AssertionError, match="cannot interpret"):
        run_risk("single_invariant_cases", {**single, "circuitBreakerState": "CAUTION"})
    aggregate = {"overrides": {"size": 300}, "expected": {"blocked": False}}
    run_risk("aggregate_cases", aggregate)
    with pytest.raises(AssertionError, match="cannot interpret"):
        run_risk("aggregate_cases", {**aggregate, "limits": {"maxPositionPct": 2.5}})


def test_tail_case_when_a_field_the_checker_cannot_read_then_fails() -> None:
    positions = [{"marketId": "A", "size": 50, "currentPrice": 0.1}, {"marketId": "B", "size": 50, "price": 90}]
    expected = {"tail_market_ids": ["A", "B"], "herfindahl": 0.5, "is_compliant": True}
    run_risk("tail_concentration", {"positions": positions, "threshold": 0.6, "expected": expected})
    with pytest.raises(AssertionError, match="cannot interpret"):
        run_risk("tail_concentration", {"positions": positions, "maxHerfindahl": 0.6, "expected": expected})
    with pytest.raises(AssertionError, match="cannot interpret"):
        run_risk("tail_concentration", {"positions": [{"marketId": "A", "size": 50, "priceCents": 50}],
                                        "expected": {"tail_market_ids": ["A"]}})


def test_tail_ids_when_the_rule_selects_otherwise_then_the_rule_s_own_selection_is_compared(
        monkeypatch: pytest.MonkeyPatch) -> None:
    positions = [{"marketId": "A", "size": 50, "currentPrice": 0.1}, {"marketId": "B", "size": 50, "currentPrice": 0.9}]
    real = tail.tail_concentration
    monkeypatch.setattr(tail, "tail_concentration", lambda ps, threshold=tail.HHI_LIMIT: replace(
        real(ps, threshold), market_ids=("A",)))
    with pytest.raises(AssertionError, match="tail ids"):
        run_risk("tail_concentration", {"positions": positions, "expected": {"tail_market_ids": ["A", "B"]}})
