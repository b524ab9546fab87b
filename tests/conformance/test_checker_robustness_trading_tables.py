"""Checkers of trading.json's fixed tables (ADR 0465): what they now read, and that a wrong expectation still
fails — breaker manual checks with a reason or a counter, adjusted limits scaled from the section's own base,
raw lifecycle sequences asserting any §1.3 stamp, policy list fields, and "before filter" bond fixtures."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conformance.registry import CHECKERS, Context, load_checkers

load_checkers()
TRADING = "trading.json"


def run(group: str, case: Any) -> None:
    CHECKERS[(TRADING, group)].run(case, Context(TRADING, group, {group: case}))


def rejects(group: str, case: Any, match: str | None = None) -> None:
    with pytest.raises(AssertionError, match=match):
        run(group, case)


# ---------------------------------------------------------------- circuit_breaker manual_transition_checks

def manual(**case: Any) -> tuple[str, dict[str, Any]]:
    return "manual_transition_checks", case


def test_manual_check_when_reason_is_empty_then_refused_and_an_accepted_expectation_fails() -> None:
    run("circuit_breaker", manual(**{"from": "NORMAL", "target": "CAUTION", "reason": "", "expected": "refused"}))
    rejects("circuit_breaker", manual(**{"from": "NORMAL", "target": "CAUTION", "reason": "",
                                        "expected": "accepted"}), "refused")
    run("circuit_breaker", manual(**{"from": "NORMAL", "target": "CAUTION", "reason": "ops", "expected": "accepted"}))


@pytest.mark.parametrize("source,target,expected", [("CAUTION", "RECOVERY", "accepted"), ("HALT", "NORMAL", "refused")])
def test_manual_check_when_counter_given_then_it_survives_either_outcome(source: str, target: str,
                                                                        expected: str) -> None:
    case = {"from": source, "target": target, "consecutiveFailures": 4, "expected": expected}
    run("circuit_breaker", manual(**case))
    rejects("circuit_breaker", manual(**{**case, "expected": "refused" if expected == "accepted" else "accepted"}))


def test_manual_check_when_error_text_or_unknown_field_then_compared_or_failed() -> None:
    case = {"from": "HALT", "target": "CAUTION", "expected": "refused"}
    run("circuit_breaker", manual(**case, error_contains="Invalid transition from HALT to CAUTION"))
    rejects("circuit_breaker", manual(**case, error_contains="Cannot reset"), "lacks")
    rejects("circuit_breaker", manual(**case, actor="ops"), "cannot interpret")


# ---------------------------------------------------------------- circuit_breaker adjusted_limits from a base

def test_adjusted_limits_when_section_gives_a_base_then_states_scale_that_base() -> None:
    base = {"maxOrderSize": 333, "maxDailyLossPct": 4.1}
    run("circuit_breaker", ("adjusted_limits", ("CAUTION", {"maxOrderSize": 166.5, "maxDailyLossPct": 2.05}, base)))
    run("circuit_breaker", ("adjusted_limits", ("RECOVERY", {"maxOrderSize": 249.75, "maxDailyLossPct": 4.1}, base)))
    rejects("circuit_breaker", ("adjusted_limits", ("CAUTION", {"maxOrderSize": 5000}, base)))
    rejects("circuit_breaker", ("adjusted_limits", ("base", base, base)))  # the base row itself is §3.2's defaults


# ---------------------------------------------------------------- order_lifecycle raw sequences and stamps

def sequence(transitions: list[str], expected: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    return "raw_transition_sequences", {"start_state": "PENDING", "transitions": transitions,
                                        "expected": expected}, {}


def test_raw_sequence_when_stamps_asserted_then_each_is_compared() -> None:
    path = ["PRE_TRADE_CHECK", "VALIDATING", "VALIDATED", "RISK_CHECK", "RISK_APPROVED", "SUBMITTING", "SUBMITTED"]
    stamps = {"preTradeCheckedAt_set": True, "validatedAt_set": True, "riskApprovedAt_set": True,
              "submittedAt_set": True, "acknowledgedAt_set": False, "filledAt_set": False, "closedAt_set": True}
    run("order_lifecycle", sequence([*path, "EXPIRED"], {"outcome": "accepted", "final_state": "EXPIRED", **stamps}))
    rejects("order_lifecycle", sequence([*path, "EXPIRED"], {"outcome": "accepted", "final_state": "EXPIRED",
                                                            "acknowledgedAt_set": True}), "acknowledgedAt_set")
    rejects("order_lifecycle", sequence(["CANCELLED"], {"outcome": "accepted", "final_state": "CANCELLED",
                                                       "cancelledAt_set": True}), "cannot interpret")


# ---------------------------------------------------------------- execution_policy list fields

def test_policies_when_list_fields_given_then_compared_as_lists() -> None:
    def policy(expected: dict[str, Any]) -> dict[str, Any]:
        return {"section": "policies", "key": "LIVE", "case": expected}

    run("execution_policy", policy({"allowedMarketCategories": [], "blockedTickers": []}))
    rejects("execution_policy", policy({"allowedMarketCategories": ["politics"]}))


# ---------------------------------------------------------------- bonding_barbell allocation_inputs

@pytest.mark.parametrize("row", [
    {"marketId": "in", "probability": 0.93, "volume24h": 1000.5, "spread": 0.049},
    {"marketId": "low-p", "probability": 0.9299, "volume24h": 5000, "spread": 0.01},
    {"marketId": "volume-at-floor", "probability": 0.95, "volume24h": 1000, "spread": 0.01},
    {"marketId": "spread-at-cap", "probability": 0.95, "volume24h": 5000, "spread": 0.05},
    {"marketId": "other-venue", "venue": "polymarket", "probability": 0.95, "volume24h": 5000, "spread": 0.01},
])
def test_allocation_inputs_when_before_filter_rows_then_each_judged_by_the_rule(row: dict[str, Any]) -> None:
    run("bonding_barbell", ("allocation_inputs", {"before filter": [row]}))


def test_allocation_inputs_when_row_unreadable_or_yield_wrong_then_fails() -> None:
    rejects("bonding_barbell", ("allocation_inputs", {"bonds": [{"marketId": "b", "probability": 0.95,
                                                                 "expectedYield": 0.06}]}), "yield")
    rejects("bonding_barbell", ("allocation_inputs", {"odd": [{"marketId": "x", "probability": 0.5}]}),
            "not understood")


# ---------------------------------------------------------------- execution_policy trading hours, naive text

@pytest.fixture
def new_york_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The host clock in US Eastern time, as a runner outside UTC would be."""
    monkeypatch.setenv("TZ", "EST5EDT")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("new_york_host")
def test_trading_hours_when_time_has_no_offset_then_it_is_utc_whatever_the_host_zone() -> None:
    hours = {"enabled": True, "startHourUTC": 13, "endHourUTC": 21, "tradingDays": [1, 2, 3, 4, 5]}

    def at(moment: str, allowed: bool) -> dict[str, Any]:
        return {"section": "trading_hours", "index": 0,
                "case": {"now_utc": moment, "hours": hours, "expected": {"allowed": allowed}}}

    document = {"execution_policy": {}}
    chk = CHECKERS[(TRADING, "execution_policy")]
    chk.run(at("2026-03-02T20:30:00", True), Context(TRADING, "execution_policy", document))
    chk.run(at("2026-03-02T21:00:00", False), Context(TRADING, "execution_policy", document))
    with pytest.raises(AssertionError, match="allowed"):
        chk.run(at("2026-03-02T20:30:00", False), Context(TRADING, "execution_policy", document))


# ---------------------------------------------------------------- price_semantics detect_mechanics, facts left out

@pytest.mark.parametrize("case", [
    {"venue": "kalshi", "expected": "fee_adjusted"},
    {"venue": "polymarket", "hasOrderbook": True, "expected": "orderbook_binary"},
    {"venue": "polymarket", "expected": "binary_token"},
    {"outcomeCount": 3, "expected": "multi_outcome"},
    {"venue": "kalshi", "voidHistory": True, "expected": "void_risk"},
])
def test_detect_mechanics_when_facts_left_out_then_they_are_absent(case: dict[str, Any]) -> None:
    run("price_semantics", {"section": "detect_mechanics", "case": case})
    rejects("price_semantics", {"section": "detect_mechanics", "case": {**case, "expected": "unknown"}}, "expected")


def test_detect_mechanics_when_field_unknown_then_fails() -> None:
    rejects("price_semantics", {"section": "detect_mechanics", "case": {
        "venue": "kalshi", "isBinary": True, "expected": "fee_adjusted"}}, "cannot interpret")


def test_raw_sequence_when_refused_then_the_accepted_prefix_is_still_compared() -> None:
    refused = {"outcome": "refused", "refused_transition": {"from": "VALIDATING", "to": "FILLED"},
               "state_after": "VALIDATING"}
    run("order_lifecycle", sequence(["VALIDATING", "FILLED", "VALIDATED"], {
        **refused, "history_length_including_initial": 2, "validatedAt_set": False}))
    rejects("order_lifecycle", sequence(["VALIDATING", "FILLED", "VALIDATED"], {
        **refused, "history_length_including_initial": 3}))
    rejects("order_lifecycle", sequence(["VALIDATING", "FILLED", "VALIDATED"], {**refused, "validatedAt_set": True}),
            "validatedAt_set")


def test_policies_when_trading_hours_list_blackouts_then_compared_as_a_list() -> None:
    def live(hours: dict[str, Any]) -> dict[str, Any]:
        return {"section": "policies", "key": "LIVE", "case": {"tradingHours": hours}}

    run("execution_policy", live({"enabled": True, "tradingDays": [1, 2, 3, 4, 5], "blackoutPeriods": []}))
    rejects("execution_policy", live({"blackoutPeriods": [{"name": "x"}]}), "blackoutPeriods")
    rejects("execution_policy", live({"tradingDays": [0, 1, 2, 3, 4, 5, 6]}), "tradingDays")


def test_initial_when_optional_fields_listed_then_each_is_compared() -> None:
    history = [{"from": "PENDING", "to": "PENDING", "reason": "Order created"}]
    base = {"state": "PENDING", "history": history}
    run("order_lifecycle", ("initial", {**base, "createdAt": "now", "closedAt": None, "lastError": None,
                                        "riskCheckResult": None, "currentState": "PENDING"}, {}))
    rejects("order_lifecycle", ("initial", {**base, "closedAt": "now"}, {}), "closedAt")
    rejects("order_lifecycle", ("initial", {**base, "filledSize": 1}, {}), "filledSize")
    rejects("order_lifecycle", ("initial", {**base, "owner": "ops"}, {}), "not interpretable")


def test_allocation_inputs_when_tail_typed_by_words_then_read_and_a_bad_type_fails() -> None:
    run("bonding_barbell", ("allocation_inputs", {"tails": [
        {"marketId": "t", "probability": 0.05, "description": "war in the region"},
        {"marketId": "u", "probability": 0.1, "category": "economics"}]}))
    with pytest.raises(ValueError):
        run("bonding_barbell", ("allocation_inputs", {"tails": [
            {"marketId": "t", "probability": 0.05, "tailType": "black_swan", "payoffMultiple": 20}]}))


def test_trading_hours_when_instant_relative_or_epoch_ms_then_read() -> None:
    live = {"enabled": True, "startHourUTC": 13, "endHourUTC": 21, "tradingDays": [1, 2, 3, 4, 5]}

    def at(moment: Any, allowed: bool) -> dict[str, Any]:
        return {"section": "trading_hours", "index": 0,
                "case": {"now_utc": moment, "hours": live, "expected": {"allowed": allowed}}}

    chk, ctx = CHECKERS[(TRADING, "execution_policy")], Context(TRADING, "execution_policy", {"execution_policy": {}})
    chk.run(at("now+25h", True), ctx)
    chk.run(at(1772485199999, True), ctx)  # Monday 2026-03-02 20:59:59.999 UTC
    with pytest.raises(AssertionError, match="allowed"):
        chk.run(at("now+33h", True), ctx)


# ------------------------------------------------ market_impact and execution_policy case fields (ADR 0470)

IMPACT_DOC = {"market_impact": {"market_defaults": {"yes_bid": 45, "yes_ask": 55, "no_bid": 45, "no_ask": 55,
                                                    "volume_24h": 10000}}}
ASSESSMENT = {"name": "huge order shallow market", "requestedSize": 10000, "limitPrice": 50, "edgeCents": 1.5,
              "side": "YES", "market_overrides": {"volume_24h": 100}, "expected": {"adjustedSize": 3, "maxSafeSize": 4}}


def run_impact(section: str, case: Any) -> None:
    CHECKERS[(TRADING, "market_impact")].run((section, case), Context(TRADING, "market_impact", IMPACT_DOC))


@pytest.mark.parametrize("section,case,extra", [
    ("assessment", ASSESSMENT, {"depth": 5000}),
    ("linear_impact", {"orderSize": 50, "depth": 100, "spread": 4, "expected": 2}, {"vpin": 0.5}),
    ("concave_impact", {"orderSize": 50, "depth": 0, "spread": 2, "vpin": 0.5, "expected": 1.2}, {"ticker": "X"}),
    ("depth", {"market": {"volume_24h": 2400}, "expected": {"yes_depth": 1000}}, {"side": "NO"}),
    ("lookup_cache", {"calls": [{"ticker": "T", "market_overrides": {}, "edge": 1, "expected_max_safe": 25000}]},
     {"ttl_seconds": 60}),
])
def test_market_impact_when_case_has_a_field_it_cannot_read_then_fails(section: str, case: dict[str, Any],
                                                                       extra: dict[str, Any]) -> None:
    run_impact(section, case)
    with pytest.raises(AssertionError, match="cannot interpret"):
        run_impact(section, case | extra)


@pytest.mark.parametrize("section,case", [
    ("assessment", ASSESSMENT | {"expected": {}}),
    ("depth", {"market": {"volume_24h": 2400}, "expected": {}}),
    ("lookup_cache", {"note": "no calls", "calls": []}),
])
def test_market_impact_when_case_asserts_nothing_then_fails(section: str, case: dict[str, Any]) -> None:
    with pytest.raises(AssertionError, match="vacuously"):
        run_impact(section, case)


def test_market_impact_when_side_written_lower_case_then_that_sides_book() -> None:
    book = {"yes_bid": 49, "yes_ask": 51, "no_bid": 40, "no_ask": 70, "volume_24h": 1000}
    case = {"requestedSize": 50, "limitPrice": 50, "edgeCents": 2, "market_overrides": book,
            "expected": {"maxSafeSize": 144, "adjustedSize": 50}}
    run_impact("assessment", case | {"side": "yes"})
    with pytest.raises(AssertionError, match="maxSafeSize"):
        run_impact("assessment", case | {"side": "no"})


POLICY_DOC = {"execution_policy": {
    "request_defaults": {"orderId": "test-order-1", "signal": {"marketId": "TEST-MARKET-123", "side": "YES",
                                                               "modelProbability": 0.65, "marketPrice": 0.5,
                                                               "edge": 0.15, "confidence": 0.8},
                         "requestedSize": 10, "maxPrice": 55, "orderType": "limit", "source": "test-strategy"},
    "market_defaults": {"ticker": "TEST-MARKET-123", "status": "active", "yes_bid": 48, "yes_ask": 52, "no_bid": 48,
                        "no_ask": 52, "volume_24h": 5000, "settlement": "now+48h", "category": "politics"},
    "rate_state_defaults": {"ordersThisMinute": 0, "ordersThisHour": 0, "volumeToday": 0, "lastOrderTime": 0,
                            "windows_start": "now"},
}}
VALIDATION = {"name": "blocked", "mode": "PAPER", "request_overrides": {}, "market_overrides": {},
              "rate_state_overrides": {}, "policy_overrides": {"blockedTickers": ["TEST-MARKET-123"]},
              "expected": {"valid": False, "errors": ["Ticker TEST-MARKET-123 is blocked by policy"], "warnings": []}}
VENUE = {"name": "static", "request_overrides": {"maxPrice": 55}, "market_overrides": {},
         "expected": {"side": "yes", "yes_price": 55, "no_price": None}}
PAPER = {"name": "ask 52", "paperTradeSlippage": 1, "request_overrides": {}, "market_overrides": {"yes_ask": 52},
         "expected": {"fillPrice": 53, "slippage": 1}}
PRIORITY = {"edge": 0.2, "confidence": 0.8, "expected_priority": 90}


def run_policy(section: str, case: Any) -> None:
    CHECKERS[(TRADING, "execution_policy")].run({"section": section, "index": 0, "case": case},
                                                Context(TRADING, "execution_policy", POLICY_DOC))


@pytest.mark.parametrize("section,case,extra", [
    ("validation", VALIDATION, {"policy_override": {"blockedTickers": []}}),
    ("venue_order_mapping_and_limit_price", VENUE, {"limitPrice": 40}),
    ("paper_fill", PAPER, {"mode": "LIVE"}),
    ("priority", PRIORITY, {"queuedAt": "now"}),
])
def test_execution_policy_when_case_has_a_field_it_cannot_read_then_fails(section: str, case: dict[str, Any],
                                                                          extra: dict[str, Any]) -> None:
    run_policy(section, case)
    with pytest.raises(AssertionError, match="cannot interpret"):
        run_policy(section, case | extra)


def test_execution_policy_when_expectation_empty_or_unknown_then_fails() -> None:
    with pytest.raises(AssertionError, match="vacuously"):
        run_policy("venue_order_mapping_and_limit_price", VENUE | {"expected": {}})
    with pytest.raises(AssertionError, match="vacuously"):
        run_policy("paper_fill", PAPER | {"expected": {}})
    with pytest.raises(AssertionError, match="cannot interpret"):
        run_policy("validation", VALIDATION | {"expected": VALIDATION["expected"] | {"reason": "blocked"}})
