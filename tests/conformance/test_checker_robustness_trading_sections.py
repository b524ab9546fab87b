"""Checkers of the trading sub-sections ADR 0473 audited: a field they cannot interpret fails the case instead of
being skipped, and a case that expects nothing fails instead of passing unread. Each test runs a right case (it
passes) beside the same case with one stray or empty part (it fails)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.registry import CHECKERS, Context, load_checkers

load_checkers()
TRADING = "trading.json"
DERIVED = Path(__file__).resolve().parent / "derived" / "trading.json"


def run(group: str, case: Any, document: Any = None) -> None:
    CHECKERS[(TRADING, group)].run(case, Context(TRADING, group, {group: case} if document is None else document))


def rejects(group: str, case: Any, match: str, document: Any = None) -> None:
    with pytest.raises(AssertionError, match=match):
        run(group, case, document)


# ---------------------------------------------------------------- price_semantics.normalize

NORMALIZE = {"input": {"mechanics": "fee_adjusted", "yesBid": 0.5, "yesAsk": 0.55},
             "expected": {"pYes": 0.525, "spread": 0.0714, "isValid": True}}


def test_normalize_when_a_fact_sits_beside_the_input_or_nothing_is_expected_then_fails() -> None:
    run("price_semantics", {"section": "normalize", "case": NORMALIZE})
    # a fee written next to the input was read as the default 107 bps, so the case judged another market
    rejects("price_semantics", {"section": "normalize", "case": {**NORMALIZE, "takerFeeBps": 0}}, "cannot interpret")
    rejects("price_semantics", {"section": "normalize", "case": {**NORMALIZE, "expected": {}}}, "nothing expected")


# ---------------------------------------------------------------- weather

def test_normal_cdf_when_an_unknown_field_is_given_then_fails() -> None:
    run("weather", ("normal_cdf", {"z": 1, "expected": 0.8413447361676363}))
    rejects("weather", ("normal_cdf", {"z": 1, "expected": 0.8413447361676363, "mean": 70}), "cannot interpret")


def test_noaa_parse_when_the_payload_states_units_then_fails_rather_than_dividing_by_ten() -> None:
    case = {"response": {"results": [{"date": "2024-03-15", "value": 65, "datatype": "TMAX", "station": "S"}]},
            "expected_temperature": [6.5]}
    run("weather", ("noaa_parse", case))
    rejects("weather", ("noaa_parse", {**case, "units": "metric"}), "cannot interpret")


def test_weighted_stats_when_a_config_key_sits_outside_config_then_fails() -> None:
    case = {"values": [{"date": "2024-05-01", "value": 61.5}], "target": "2026-05-03",
            "config": {"minSampleSize": 1, "climateAdjustment": 0.03},
            "expected": {"mean": 61.56, "stdDev": 0, "sampleSize": 1}}
    run("weather", ("weighted_stats", case))
    rejects("weather", ("weighted_stats", {**case, "lookbackYears": 1}), "cannot interpret")


# ---------------------------------------------------------------- reconciliation

KEYING = {"internal": [{"marketId": "A-1", "side": "YES", "size": 100}],
          "venue": [{"marketId": "A-1", "side": "yes", "size": 101}],
          "expected": {"status": "drift_detected", "alert": None}}


def test_keying_when_nothing_expected_or_a_row_field_unknown_then_fails() -> None:
    run("reconciliation", ("keying", KEYING))
    rejects("reconciliation", ("keying", {**KEYING, "expected": {}}), "nothing expected")
    stray_row = copy.deepcopy(KEYING)
    stray_row["venue"][0]["status"] = "closed"
    rejects("reconciliation", ("keying", stray_row), "cannot interpret")
    rejects("reconciliation", ("keying", {**KEYING, "mode": "PAPER"}), "cannot interpret")


def test_run_status_when_an_unknown_field_is_given_then_fails() -> None:
    case = {"severities": ["major"], "expected": "major_drift", "alert": "warning -> breaker CAUTION"}
    run("reconciliation", ("run_status", case))
    rejects("reconciliation", ("run_status", {**case, "breakerState": "CAUTION"}), "cannot interpret")


def test_aggregation_when_an_order_or_position_field_is_unknown_then_fails() -> None:
    case = {"filled_orders": [{"ticker": "A", "side": "YES", "filledSize": 10, "avgFillPrice": 50}],
            "expected": [{"marketId": "A", "side": "YES", "size": 10, "avgPrice": 50}]}
    run("reconciliation", ("internal_positions_aggregation", case))
    # "status" instead of "state": the order was read as FILLED and counted although it was archived
    archived = copy.deepcopy(case)
    archived["filled_orders"][0]["status"] = "ARCHIVED"
    rejects("reconciliation", ("internal_positions_aggregation", archived), "cannot interpret")
    counted = copy.deepcopy(case)
    counted["expected"][0]["orderCount"] = 1
    rejects("reconciliation", ("internal_positions_aggregation", counted), "cannot interpret")


# ---------------------------------------------------------------- account_skill.rank_stability

def test_rank_stability_when_an_unknown_expectation_is_given_then_fails() -> None:
    case = {"withCLV": [{"accountId": "a", "score": 2}, {"accountId": "b", "score": 1}],
            "withoutCLV": [{"accountId": "a", "score": 1}, {"accountId": "b", "score": 2}],
            "expected": {"isStable": True, "unstableAccountPct": 0, "maxRankChange": 1}}
    run("account_skill", {"section": "rank_stability", "case": case})
    stray = {**case, "expected": {**case["expected"], "unstableAccounts": ["a"]}}
    rejects("account_skill", {"section": "rank_stability", "case": stray}, "cannot interpret")


# ---------------------------------------------------------------- capital_allocation

@pytest.mark.parametrize("section,case,stray", [
    ("canEnable", {"strategy": "xv_signal", "first_live_trade_days_ago": 20, "successfulDays": 14, "expected": True},
     {"successful_days": 14}),
    ("positionSize", {"strategy": "bonding", "kellyFraction": 0.02, "currentCapital": None, "expected": 10},
     {"maxPositionPct": 1}),
    ("validate", {"strategy": "bonding", "proposedSize": 20, "currentCapital": 500, "expected": {"valid": True}},
     {"side": "YES"}),
])
def test_capital_when_a_field_is_unknown_then_fails(section: str, case: dict[str, Any], stray: dict[str, Any]) -> None:
    run("capital_allocation", (section, case))
    rejects("capital_allocation", (section, {**case, **stray}), "cannot interpret")


# ---------------------------------------------------------------- paper_harness_source_results

def test_paper_harness_when_a_summary_gate_or_row_field_is_unknown_then_fails() -> None:
    group = "paper_harness_source_results"
    document = {group: json.loads(DERIVED.read_text())[group]}
    summary, row = document[group]["summary"], document[group]["results"][0]
    run(group, ("summary", summary), document)
    run(group, ("results", row), document)
    rejects(group, ("summary", {**summary, "avgSlippage": 0}), "cannot interpret", document)
    rejects(group, ("summary", {**summary, "gate": {**summary["gate"], "drawdownMet": True}}), "cannot interpret",
            document)
    rejects(group, ("results", {**row, "entryPrice": 33.3}), "cannot interpret", document)
