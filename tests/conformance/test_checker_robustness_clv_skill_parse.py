"""Checkers of the sections ADR 0482 audited (clv class inference, closing line and points; blowup flags; ticker
parsing; per-position drift; barbell validate_only and payoff; llm-routing scoring_parse): a field they cannot
interpret fails the case instead of being skipped, and a case that expects nothing fails instead of passing unread.
Each test runs a right case (it passes) beside the same case with one stray or empty part (it fails); every
refusal below passed on the old checkers. The last test pins that a vector's prose annotations inside a
``{"section", "case"}`` wrapper no longer reach the strict checkers."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conformance.registry import CHECKERS, Context, load_checkers

load_checkers()
TRADING = "trading.json"
LLM = "llm-routing.json"


def run(file: str, group: str, case: Any) -> None:
    CHECKERS[(file, group)].run(case, Context(file, group, {group: case}))


def rejects(file: str, group: str, case: Any, match: str) -> None:
    with pytest.raises(AssertionError, match=match):
        run(file, group, case)


def clv(section: str, case: dict[str, Any]) -> dict[str, Any]:
    return {"section": section, "case": case}


# ---------------------------------------------------------------- clv

POINTS = {"meanCLVCents": 3.5, "validCount": 20, "expected_points": 25}
INFERENCE = {"category": "politics", "tags": None, "expected_class": "political"}
OBS = {"offset_seconds": -10, "midPrice": 0.6, "depthYes": 600, "depthNo": 700, "spread": 0.02}
CLOSING = {"marketClass": "weather", "resolution_time_ms": 1772366400000, "observations": [OBS],
           "expected": {"closingLinePrice": 0.6, "validObservationCount": 1}}


def test_consistency_points_when_a_field_is_unknown_or_the_points_not_an_integer_then_fails() -> None:
    run(TRADING, "clv", clv("consistency_points", POINTS))
    # a variant flag beside the figures was ignored: the §4.4 points were judged whatever the case meant
    rejects(TRADING, "clv", clv("consistency_points", {**POINTS, "variant": "per_position"}), "cannot interpret")
    rejects(TRADING, "clv", clv("consistency_points", {**POINTS, "expected_points": True}), "integer")


def test_market_class_inference_when_a_field_is_unknown_then_fails() -> None:
    run(TRADING, "clv", clv("market_class_inference", INFERENCE))
    # a title beside category/tags was never read: §4.2 infers from category and tags only
    rejects(TRADING, "clv", clv("market_class_inference", {**INFERENCE, "title": "Will BTC close up?"}),
            "cannot interpret")


def test_closing_line_when_a_case_or_observation_field_is_unknown_or_nothing_expected_then_fails() -> None:
    run(TRADING, "clv", clv("closing_line_estimation", CLOSING))
    rejects(TRADING, "clv", clv("closing_line_estimation", {**CLOSING, "windowMinutes": 10}), "cannot interpret")
    rejects(TRADING, "clv", clv("closing_line_estimation", {**CLOSING, "observations": [{**OBS, "volume": 5}]}),
            "cannot interpret")
    # two times in one observation: the offset in seconds silently won over the one in ms
    two_times = {**CLOSING, "observations": [{**OBS, "offset_ms": -900000}]}
    rejects(TRADING, "clv", clv("closing_line_estimation", two_times), "two times")
    rejects(TRADING, "clv", clv("closing_line_estimation", {**CLOSING, "expected": {}}), "nothing expected")


# ---------------------------------------------------------------- account_skill.blowup_detection

BLOWUP = {"positions": [{"pnl": 5, "size": 100, "category": c, "entry_offset_ms": i, "exit_offset_ms": i + 1}
                        for i, c in enumerate("abc")], "expected_flags": []}


def test_blowup_when_a_case_field_is_unknown_or_flags_not_a_list_then_fails() -> None:
    run(TRADING, "account_skill", clv("blowup_detection", BLOWUP))
    # a minimum written beside the positions was ignored (the checker always applied §4.5's 3)
    rejects(TRADING, "account_skill", clv("blowup_detection", {**BLOWUP, "minPositions": 5}), "cannot interpret")
    rejects(TRADING, "account_skill", clv("blowup_detection", {**BLOWUP, "expected_flags": "none"}), "list")


# ---------------------------------------------------------------- weather / reconciliation / bonding_barbell

TICKER = {"ticker": "TEMP-NYC-26MAR25-T50", "expected": {"location": "NYC", "threshold": 50}}


def test_ticker_parsing_when_a_field_is_unknown_or_nothing_expected_then_fails() -> None:
    run(TRADING, "weather", ("ticker_parsing", TICKER))
    rejects(TRADING, "weather", ("ticker_parsing", {**TICKER, "venue": "polymarket"}), "cannot interpret")
    # an empty expectation passed for any ticker that parsed
    rejects(TRADING, "weather", ("ticker_parsing", {**TICKER, "expected": {}}), "expected null or facts")


def test_per_position_drift_when_a_case_field_is_unknown_then_fails() -> None:
    case = {"internalSize": 100, "venueSize": 98, "expected": {"severity": "major"}}
    run(TRADING, "reconciliation", ("per_position_drift", case))
    # a venue size under another name was ignored beside the one read
    rejects(TRADING, "reconciliation", ("per_position_drift", {**case, "brokerSize": 100}), "cannot interpret")


VALIDATE = {"allocation": {"totalCapital": 10000, "bondAllocation": 9000, "herfindahlIndex": 0.15,
                           "eventHedgePct": 40, "bond_probabilities": [0.95]}, "expected": {"valid": True}}


def test_validate_only_when_a_field_is_unknown_or_valid_not_a_boolean_then_fails() -> None:
    run(TRADING, "bonding_barbell", ("validate_only", VALIDATE))
    # camel-case probabilities were read as no bonds at all, so a bond under the minimum validated
    stray = copy.deepcopy(VALIDATE)
    stray["allocation"]["bondProbabilities"] = [0.5]
    rejects(TRADING, "bonding_barbell", ("validate_only", stray), "cannot interpret")
    rejects(TRADING, "bonding_barbell", ("validate_only", {**VALIDATE, "tails": []}), "cannot interpret")
    rejects(TRADING, "bonding_barbell", ("validate_only", {**VALIDATE, "expected": {"valid": True, "errorCount": 0}}),
            "cannot interpret")
    # "false" (text) was truthy against an empty error list and passed
    rejects(TRADING, "bonding_barbell", ("validate_only", {**VALIDATE, "expected": {"valid": "false"}}),
            "true or false")


def test_payoff_multiple_when_a_field_is_unknown_or_expected_not_a_number_then_fails() -> None:
    run(TRADING, "bonding_barbell", ("payoff_multiple", {"probability": 0.05, "expected": 20}))
    rejects(TRADING, "bonding_barbell", ("payoff_multiple", {"probability": 0.05, "expected": 20, "cap": 10}),
            "cannot interpret")
    rejects(TRADING, "bonding_barbell", ("payoff_multiple", {"probability": 0.5, "expected": True}), "number")


# ---------------------------------------------------------------- llm-routing scoring_parse

PARSE = {"group": "scoring_parse", "case": "c", "input": {"content": '{"score":0.3,"reasoning":"r"}'},
         "expected": {"fallback": False}}


def test_scoring_parse_when_an_input_field_is_unknown_or_content_not_text_then_fails() -> None:
    run(LLM, "scoring_parse", PARSE)
    # a lenient switch in the input was ignored: the strict parse judged a case written for the other one
    rejects(LLM, "scoring_parse", {**PARSE, "input": {**PARSE["input"], "lenient": True}}, "cannot interpret")
    rejects(LLM, "scoring_parse", {**PARSE, "input": {"content": None}, "expected": {"fallback": True}}, "text")


# ---------------------------------------------------------------- prose inside a {"section", "case"} wrapper

def test_wrapped_case_when_it_carries_source_behaviour_then_the_same_verdict() -> None:
    compute = {"entryPrice": 0.4, "closingLinePrice": 0.5, "side": "YES", "marketClass": "political",
               "expected": {"clv": 0.1, "note": "commentary"}, "source_behaviour": {"clv": -0.1}}
    # ADR 0481 removed annotations from the splitter's wrapper, not from the vector's case inside it, so the
    # strict clv checker refused a hidden case that recorded the source's answer
    run(TRADING, "clv", clv("compute", compute))
    run(TRADING, "clv", clv("market_class_inference", {**INFERENCE, "source_behaviour": "sports"}))
    run(TRADING, "account_skill", clv("blowup_detection", {**BLOWUP, "source_behaviour": ["BLOWUP"]}))
    rejects(TRADING, "clv", clv("compute", {**compute, "quality": 0.2}), "cannot interpret")
