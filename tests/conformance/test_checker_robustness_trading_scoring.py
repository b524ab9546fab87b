"""Trading scoring/strategy checkers (clv, account_skill, execution_quality, capital_allocation, bonding_barbell,
weather, reconciliation, position_exits): case shapes the vector format allows are read, a right expectation
passes, a wrong or unreadable one fails."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.registry import CHECKERS, Context, load_checkers, load_groups, vectors_dir

load_checkers()
TRADING = "trading.json"
POSITION_DEFAULTS = {"category": "politics", "entryPrice": 0.5, "closingLinePrice": 0.55, "clv": 0.05,
                     "clvValid": True, "pnl": 100, "size": 1000, "fees": 5, "ambiguityScore": 0.2}


def run(group: str, case: Any, document: Any = None) -> None:
    CHECKERS[(TRADING, group)].run(case, Context(TRADING, group, document or {group: {}}))


def rejects(group: str, case: Any, match: str | None = None, document: Any = None) -> None:
    with pytest.raises(AssertionError, match=match):
        run(group, case, document)


def _skill(expected: dict[str, Any], **metrics: Any) -> dict[str, Any]:
    base = {"portfolioValue": 10000, "blowupFlags": [], "positions": "5 x default position"}
    if "accountCreatedAt" not in metrics:
        base["active_days"] = 200
    return {"section": "cases", "case": {"include_clv": True, "metrics": base | metrics, "expected": expected}}


SKILL_DOC = {"account_skill": {"position_defaults": POSITION_DEFAULTS}}


def test_account_skill_when_only_factors_expected_then_they_are_checked() -> None:
    run("account_skill", _skill({"factors": {"sizingDiscipline": {"score": 12}}}), SKILL_DOC)
    rejects("account_skill", _skill({"factors": {"sizingDiscipline": {"score": 15}}}), "score", SKILL_DOC)
    rejects("account_skill", _skill({"factors": {"sizing": {"score": 12}}}), "unknown factor", SKILL_DOC)
    rejects("account_skill", _skill({"grade": "A"}), "cannot interpret", SKILL_DOC)


def test_account_skill_when_last_activity_given_then_longevity_counts_to_it() -> None:
    run("account_skill", _skill({"factors": {"longevity": {"score": 3, "activeDays": 100}}},
                                accountCreatedAt="now-200days", lastActivityAt="now-100days"), SKILL_DOC)
    run("account_skill", _skill({"factors": {"longevity": {"score": 5, "activeDays": 200}}},
                                accountCreatedAt="now - 200 days"), SKILL_DOC)
    rejects("account_skill", _skill({"factors": {"longevity": {"score": 5}}},
                                    accountCreatedAt="now-200days", lastActivityAt="now-100days"), "score", SKILL_DOC)


def test_reconciliation_run_record_fields_are_checked() -> None:
    case = {"internal": [{"marketId": "A-B", "side": "YES", "size": 10}],
            "venue": [{"marketId": "A-B", "side": "yes", "size": 10}, {"ticker": "Z", "side": "no", "size": 2}]}
    good = {"matched": 1, "driftCount": 1, "internalCount": 1, "venueCount": 2, "maxDriftPct": 100,
            "status": "critical_drift", "alert": "critical"}
    run("reconciliation", ("keying", case | {"expected": good}))
    rejects("reconciliation", ("keying", case | {"expected": {"driftCount": 2}}), "driftCount")
    rejects("reconciliation", ("keying", case | {"expected": {"maxDriftPct": 50}}), "maxDriftPct")
    rejects("reconciliation", ("keying", case | {"expected": {"alert": None}}), "alert")
    rejects("reconciliation", ("keying", case | {"expected": {"orphans": 1}}), "no interpreter")
    drift = {"internalSize": 100, "venueSize": 98}
    run("reconciliation", ("per_position_drift", drift | {"expected": {"severity": "major"}}))
    rejects("reconciliation", ("per_position_drift", drift | {"expected": {"severity": "minor"}}), "severity")
    rejects("reconciliation", ("per_position_drift", drift | {"expected": {"level": "major"}}), "no interpreter")


def test_position_exit_when_unknown_expected_field_then_fails() -> None:
    case = {"entryPrice": 50, "currentPrice": 48.5, "holdingHours": 1, "size": 10}
    run("position_exits", ("cases", case | {"expected": {"exitReason": "STOP_LOSS_HIT", "exitPrice": 48.5}}))
    rejects("position_exits", ("cases", case | {"expected": {"exitReason": "STOP_LOSS_HIT", "fees": 0}}),
            "no interpreter")
    rejects("position_exits", ("cases", case | {"expected": {"exitReason": "STOP_LOSS_HIT", "realizedPnL": 15}}),
            "realizedPnL")


def test_execution_quality_when_rows_are_partial_then_read_with_defaults() -> None:
    metrics = {"reports": [{"executionGrade": "good", "slippageVsEdgeRatio": 0.6}, {"grade": "POOR"}],
               "expected": {"goodCount": 1, "poorCount": 1, "killSwitchCount": 1, "averageGradeScore": 2}}
    run("execution_quality", {"section": "metrics", "case": metrics})
    rejects("execution_quality", {"section": "metrics", "case": metrics | {"expected": {"goodCount": 2}}}, "goodCount")
    rejects("execution_quality", {"section": "metrics", "case": {"reports": [{"slippageRatio": 1}], "expected": {}}},
            "without a grade")
    sized = {"marketSpread": 4, "orderSize": 10, "limitPrice": 50, "vpin": 0.3, "marketDepth": 10000}
    run("execution_quality", {"section": "expected_slippage", "case": sized | {"expected": 1.1825}})
    rejects("execution_quality", {"section": "expected_slippage", "case": sized | {"expected": 1.2}}, "expected")


def test_clv_compute_when_class_not_given_then_inferred_from_category() -> None:
    case = {"side": "yes", "entryPrice": 0.4, "closingLinePrice": 0.5, "category": "NBA", "tags": ["game"]}
    run("clv", {"section": "compute", "case": case | {"expected": {"closingLineMethod": "last-trade", "clv": 0.1}}})
    rejects("clv", {"section": "compute", "case": case | {"expected": {"closingLineMethod": "T-60min"}}}, "Method")


def test_bonding_allocation_when_candidates_written_out_then_they_are_the_rows() -> None:
    bonds = [{"marketId": f"b{i}", "probability": 0.95} for i in range(5)]
    tails = [{"marketId": "t1", "probability": 0.05, "description": "War in X?"},
             {"marketId": "t2", "probability": 0.1, "tailType": "regime_tail"}]
    case = {"capital": 10000, "bond_candidates": bonds, "tail_candidates": tails}
    good = {"tailPositions": [["t1", "event_hedge", 400], ["t2", "regime_tail", 400]], "isValid": True,
            "expectedReturn": {"tailReturn": 0.1 * 400 * 20 - 360 + 0.1 * 400 * 10 - 360}}
    run("bonding_barbell", ("allocations", case | {"expected": good}))
    rejects("bonding_barbell", ("allocations", case | {"expected": {"isValid": False}}), "isValid")
    rejects("bonding_barbell", ("allocations", case | {"expected": {"expectedReturn": {"sharpe": 1}}}),
            "no interpreter")


def test_weather_signal_and_capital_validation_when_unknown_field_then_fail() -> None:
    signal = {"forecast": {"mean": 70, "stdDev": 5, "sampleSize": 30},
              "market": {"threshold": 60, "operator": "above", "marketPrice": 0.7}, "minEdge": 0.05}
    run("weather", ("signals", signal | {"expected": {"side": "YES", "confidence": 1}}))
    rejects("weather", ("signals", signal | {"expected": {"side": "YES", "size": 15}}), "no interpreter")
    rejects("weather", ("signals", signal | {"expected": {"side": "NO"}}), "side")
    check = {"strategy": "bonding", "proposedSize": 26, "currentCapital": 500}
    run("capital_allocation", ("validate", check | {"expected": False}))
    rejects("capital_allocation", ("validate", check | {"expected": {"valid": False, "code": "x"}}), "no interpreter")


def test_account_skill_when_include_clv_spelt_as_the_spec_input_then_read() -> None:
    """§4.5 names the input ``includeCLV``; the sample writes ``include_clv`` (ADR 0444)."""
    case = _skill({"factors": {"riskAdjustedReturns": {"maxScore": 35}, "clvConsistency": {"score": 0}}})
    case["case"].pop("include_clv")
    run("account_skill", {"section": "cases", "case": case["case"] | {"includeCLV": False}}, SKILL_DOC)
    rejects("account_skill", {"section": "cases", "case": case["case"] | {"includeCLV": True}}, "maxScore", SKILL_DOC)
    rejects("account_skill", {"section": "cases", "case": case["case"] | {"includeCLV": False, "include_clv": True}},
            "include_clv", SKILL_DOC)
    rejects("account_skill", {"section": "cases", "case": case["case"] | {"withCLV": False}}, "cannot interpret",
            SKILL_DOC)


def test_deterministic_id_notes_are_read_by_what_they_state() -> None:
    run("deterministic_ids_notes", ("booleans", "booleans print as true/false"))
    run("deterministic_ids_notes", ("null_part", "a null part reads as empty text"))
    run("deterministic_ids_notes", ("more_numbers", "0.25 and -7 print as written, 100 without a fraction"))
    rejects("deterministic_ids_notes", ("joining", "parts are joined with a pipe"), "no rule")
    rejects("deterministic_ids_notes", ("wrong_number", "numbers keep their digits: 10.50"), "10.5")
    rejects("deterministic_ids_notes", ("null_part", "a null part reads as the word null"), "undefined note")


def test_bonding_signal_emission_when_fair_and_price_written_as_numbers_then_used() -> None:
    kelly = min((0.99 - 0.95) / 0.05 / 1.09, 0.2)  # Kelly(YES) at CV 0.3, capped at 20 % for bonds
    run("bonding_barbell", ("signal_emission", {"case": "bond with supplied fair 0.99 above price 0.95",
                                                "expected": {"emitted": True, "kellyFraction": kelly}}))
    rejects("bonding_barbell", ("signal_emission", {"case": "bond with supplied fair 0.99 above price 0.95",
                                                    "expected": {"emitted": True, "kellyFraction": 0.1}}), "kelly")
    rejects("bonding_barbell", ("signal_emission", {"case": "bond with supplied fair 0.9 above price 0.95",
                                                    "expected": {"emitted": False}}), "not above")
    tail = (0.15 - 0.1) / 0.9 / 1.09  # fair = p x 1.5 at p 0.1
    run("bonding_barbell", ("signal_emission", {"case": "tail without supplied fair probability at price 0.1",
                                                "expected": {"emitted": True, "kellyFraction": tail}}))


def test_account_skill_blowup_positions_timed_by_offsets_or_timestamps() -> None:
    """§4.5's entryTimestamp/exitTimestamp or offsets in any unit (ADR 0444); a loss then three entries within 1 h."""
    def revenge(times: list[dict[str, Any]], flags: list[str]) -> dict[str, Any]:
        pnls = [-10, 5, 5, 5]
        positions = [{"pnl": pnl, "size": 100, "category": c, **t}
                     for pnl, c, t in zip(pnls, "abcd", times, strict=True)]
        return {"section": "blowup_detection", "case": {"positions": positions, "expected_flags": flags}}
    minutes = [{"entry_offset_minutes": e, "exit_offset_minutes": x}
               for e, x in ((0, 10), (20, 500), (30, 500), (69, 500))]
    run("account_skill", revenge(minutes, ["REVENGE_TRADING"]), SKILL_DOC)
    iso = [{"entryTimestamp": f"2026-03-01T12:{e:02d}:00Z", "exitTimestamp": "2026-03-01T20:00:00Z"}
           for e in (0, 20, 30, 59)]
    iso[0]["exitTimestamp"] = "2026-03-01T12:05:00Z"
    run("account_skill", revenge(iso, ["REVENGE_TRADING"]), SKILL_DOC)
    rejects("account_skill", revenge(iso, []), "expected", SKILL_DOC)
    both = [{**t, "entry_offset_ms": 0} for t in iso]
    rejects("account_skill", revenge(both, ["REVENGE_TRADING"]), "exactly one", SKILL_DOC)
    rejects("account_skill", revenge([{**t, "ticker": "X"} for t in minutes], ["REVENGE_TRADING"]), "cannot interpret",
            SKILL_DOC)


def test_weather_sizing_when_min_edge_or_returns_given_then_they_are_used() -> None:
    base = {"case": "YES: model 0.6, price 0.5, capital 300, CV 0.25",
            "input": {"side": "YES", "model": 0.6, "price": 0.5, "capital": 300, "cv": 0.25}}
    run("weather", ("signal_sizing", base | {"expected": {"signal_emitted": True}}))
    tight = base | {"input": base["input"] | {"minEdge": 0.11}}
    run("weather", ("signal_sizing", tight | {"expected": {"signal_emitted": False}}))
    rejects("weather", ("signal_sizing", tight | {"expected": {"signal_emitted": True}}), "signal emitted")
    # five returns of mean 0.3 and std sqrt(0.02): CV 0.4714, so the confidence factor is 9/11, not 1/(1+0.25^2)
    history = {"case": "history", "input": {"side": "YES", "model": 0.6, "price": 0.5, "capital": 300,
                                            "returns": [0.1, 0.2, 0.3, 0.4, 0.5]}}
    run("weather", ("signal_sizing", history | {"expected": {"confidenceAdjustment": 9 / 11}}))
    rejects("weather", ("signal_sizing", history | {"expected": {"confidenceAdjustment": 1 / 1.0625}}),
            "confidenceAdjustment")


def test_bond_filter_when_config_given_then_its_floor_applies() -> None:
    rows = [{"marketId": m, "probability": p, "volume24h": 5000, "spread": 0.01} for m, p in (("a", 0.94), ("b", 0.95))]
    case = {"input": rows, "config": {"minBondProbability": 0.95}}
    run("bonding_barbell", ("bond_filter", case | {"expected_in_order": [{"marketId": "b", "expectedYield": 1 / 19}]}))
    rejects("bonding_barbell", ("bond_filter", case | {"expected_in_order": [
        {"marketId": "a", "expectedYield": 0.06 / 0.94}, {"marketId": "b", "expectedYield": 1 / 19}]}), "order")
    rejects("bonding_barbell", ("bond_filter", case | {"config": {"minProbability": 0.95}, "expected_in_order": []}),
            "config keys")


def test_weather_forecast_when_year_interval_or_label_stated_then_checked() -> None:
    points = [{"date": f"{y}-03-15", "value": 10 if y < 2020 else 30} for y in range(2010, 2030)]
    cfg = {"minSampleSize": 20, "climateAdjustment": 0, "recentWeightFactor": 2}
    case = {"values": points, "target": "2030-03-15", "config": cfg}
    # current year 2030: 2020..2029 weigh 2, so the mean is (10·10 + 20·30)/30
    mean = 70 / 3
    want = {"mean": mean, "stdDev": ((10 * (10 - mean) ** 2 + 20 * (30 - mean) ** 2) / 30) ** 0.5, "sampleSize": 20}
    run("weather", ("weighted_stats", case | {"currentYear": 2030, "expected": want}))
    run("weather", ("weighted_stats", case | {"config": cfg | {"currentYear": 2030}, "expected": want}))
    rejects("weather", ("weighted_stats", case | {"expected": want}), "mean")  # the file's 2026 weighs all 20 alike
    band = {"lower": want["mean"] - 1.96 * want["stdDev"], "upper": want["mean"] + 1.96 * want["stdDev"]}
    run("weather", ("weighted_stats", case | {"currentYear": 2030, "expected": want | {"confidenceInterval": band,
                                                                                        "distribution": "normal"}}))
    rejects("weather", ("weighted_stats", case | {"currentYear": 2030, "expected": want | {"distribution": "gamma"}}),
            "distribution")
    rejects("weather", ("weighted_stats", case | {"currentYear": 2030, "expected": want | {
        "confidenceInterval": [band["lower"] + 1, band["upper"]]}}), "lower")
    rejects("weather", ("weighted_stats", case | {"currentYear": 2030, "expected": want | {"median": 30}}),
            "no interpreter")
    rejects("weather", ("weighted_stats", case | {"config": cfg | {"lookback": 10}, "expected": want}), "config keys")
    empty = {"values": [], "target": "2026-03-15", "config": {"minSampleSize": 0}}
    run("weather", ("weighted_stats", empty | {"expected": {"mean": 0, "stdDev": 0, "sampleSize": 0}}))
    rejects("weather", ("weighted_stats", empty | {"expected": {"mean": 0, "stdDev": 0, "sampleSize": 1}}),
            "sampleSize")


def test_forecast_window_when_full_dates_given_then_month_and_day_are_used() -> None:
    run("weather", ("forecast_window", {"target": "2026-03-15", "point": "2001-03-22", "included": True}))
    rejects("weather", ("forecast_window", {"target": "2026-03-15", "point": "2001-03-23", "included": True}),
            "included")


def test_position_exit_when_holding_time_in_other_units_then_converted_exactly() -> None:
    case = {"entryPrice": 40, "currentPrice": 41, "size": 10}
    run("position_exits", ("cases", case | {"holdingMs": 604_800_000, "expected": None}))
    run("position_exits", ("cases", case | {"holdingDays": 7.5, "expected": {"exitReason": "TIME_LIMIT_EXCEEDED"}}))
    rejects("position_exits", ("cases", case | {"holdingMinutes": 10_081, "expected": None}), "no exit")
    rejects("position_exits", ("cases", case | {"holdingHours": 1, "holdingMs": 1, "expected": None}), "holding time")


def test_bonding_signal_emission_when_allocation_invalid_or_signal_fields_stated_then_checked() -> None:
    run("bonding_barbell", ("signal_emission", {"case": "invalid allocation", "expected": "no signals"}))
    bond = {"case": "bond in an invalid allocation"}
    run("bonding_barbell", ("signal_emission", bond | {"expected": {"emitted": False}}))
    rejects("bonding_barbell", ("signal_emission", {"case": "invalid allocation", "expected": {"emitted": True}}),
            "signals")
    tail = {"case": "tail without supplied fair probability"}
    fields = {"emitted": True, "expectedEdge": 2.5, "fairProbability": 0.075, "marketPrice": 0.05, "side": "YES",
              "venue": "kalshi", "strategy": "bonding_barbell", "tailType": "event_hedge", "expiresInHours": 24,
              "metadata": {"barbellValid": True, "eventHedgePct": 100}}
    run("bonding_barbell", ("signal_emission", tail | {"expected": fields}))
    for wrong in ({"expectedEdge": 25}, {"side": "NO"}, {"tailType": "diversifier"}, {"expiresInHours": 12},
                  {"metadata": {"barbellValid": False}}, {"metadata": {"hhi": 0.2}}, {"targetSize": 400}):
        rejects("bonding_barbell", ("signal_emission", tail | {"expected": fields | wrong}))


def test_tail_categorization_when_tags_a_string_or_fields_null_then_read_whole() -> None:
    run("bonding_barbell", ("tail_categorization", {"market": {"tags": "war"}, "expected": "event_hedge"}))
    run("bonding_barbell", ("tail_categorization", {"market": {"tags": "f e d", "description": None},
                                                    "expected": "diversifier"}))
    rejects("bonding_barbell", ("tail_categorization", {"market": {"tags": "war"}, "expected": "diversifier"}))


def _aggregated(stats: dict[str, Any], clv_score: int) -> dict[str, Any]:
    data = {"clvStats": stats, "totalPnl": 100, "totalPositions": 25, "positionPnls": [1, 1, 1, 1, 1],
            "positionsPerMonth": 10, "maxPositionPct": 0.05, "totalAmbiguityAssessed": 0, "lowAmbiguityCount": 0,
            "grossProfit": 0, "totalFees": 0, "categoryPnls": {}, "hasBlowup": False, "hasMartingale": False,
            "hasRevenge": False, "accountAgeDays": 200, "hasConsistentActivity": True}
    return {"name": "stats shape", "input": data, "expected": {"clvScore": clv_score}}


def test_skill_aggregated_when_clv_stats_give_only_the_mean_then_cents_follow_from_it() -> None:
    run("skill_score_aggregated", _aggregated({"meanCLV": 0.031, "validCLVCount": 25}, 25))
    run("skill_score_aggregated", _aggregated({"meanCLV": 0.03, "validCLVCount": 25}, 20))  # 3 cents, strict
    given_cents = {"meanCLV": 0.5, "meanCLVCents": 0.5, "validCLVCount": 25}  # the given cents win
    run("skill_score_aggregated", _aggregated(given_cents, 10))
    rejects("skill_score_aggregated", _aggregated({"meanCLV": 0.031, "validCLVCount": 25}, 0), "clvScore")


def test_clv_cases_when_a_field_the_checker_cannot_read_then_fail_instead_of_defaulting() -> None:
    stats = {"results": [{"clv": 0.05, "isValid": True}, {"clv": 0.5, "valid": False}],
             "expected": {"validCLVCount": 2, "meanCLV": 0.275}}
    rejects("clv", {"section": "statistics", "case": stats}, "cannot interpret")
    rejects("clv", {"section": "statistics", "case": {**stats, "results": stats["results"][:1], "weights": [1]}},
            "cannot interpret")
    compute = {"side": "YES", "entryPrice": 0.4, "closingLinePrice": 0.5, "marketClass": "political",
               "expected": {"isValid": True}}
    run("clv", {"section": "compute", "case": compute})
    rejects("clv", {"section": "compute", "case": {**compute, "quality": 0.3}}, "cannot interpret")
    lifecycle = {"entryPrice": 50, "closingLinePrice": 55, "expected_clv": 5}
    run("clv", {"section": "lifecycle_clv_difference", "case": lifecycle})
    rejects("clv", {"section": "lifecycle_clv_difference", "case": {**lifecycle, "unit": "dollars"}},
            "cannot interpret")


# ---------------------------------------------------------------- execution_quality case fields (ADR 0470)

QUALITY_INPUT = {"orderId": "order-1", "ticker": "TEST-MARKET", "side": "yes", "limitPrice": 50, "fillPrice": 50.5,
                 "orderSize": 10, "edgePercent": 2, "marketSpread": 2, "vpin": 0.4, "marketDepth": 5000}


@pytest.mark.parametrize("section,case,extra", [
    ("grades", {"slippageRatio": 0.5, "expected_grade": "GOOD"}, {"edgePercent": 2}),
    ("expected_slippage", {"marketSpread": 4, "orderNotional": 500, "vpin": 0.3, "marketDepth": 10000,
                           "expected": 1.1825}, {"depth": 1000}),
    ("reports", {"input": QUALITY_INPUT, "expected": {"executionGrade": "GOOD"},
                 "source_behaviour": {"slippageVsEdgeRatio": 5e-05}}, {"expected_grade": "GOOD"}),
    ("metrics", {"reports": [], "expected": {"totalOrders": 0}}, {"killSwitchThreshold": 0.4}),
])
def test_execution_quality_when_case_has_a_field_it_cannot_read_then_fails(section: str, case: dict[str, Any],
                                                                           extra: dict[str, Any]) -> None:
    run("execution_quality", {"section": section, "case": case})
    rejects("execution_quality", {"section": section, "case": case | extra}, "cannot interpret")


def test_execution_quality_when_input_or_row_field_unreadable_then_fails() -> None:
    report = {"input": QUALITY_INPUT, "expected": {"executionGrade": "GOOD"}}
    rejects("execution_quality", {"section": "reports", "case": report | {"input": QUALITY_INPUT | {"fill": 60}}},
            "cannot interpret")
    rejects("execution_quality", {"section": "reports", "case": report | {"expected": {}}}, "vacuously")
    row = {"grade": "GOOD", "slippageVsEdgeRatio": 0.6}
    run("execution_quality", {"section": "metrics", "case": {"reports": [row], "expected": {"killSwitchCount": 1}}})
    rejects("execution_quality", {"section": "metrics", "case": {"reports": [row | {"edgePercent": 1}],
                                                                 "expected": {"killSwitchCount": 1}}},
            "cannot interpret")
    rejects("execution_quality", {"section": "metrics", "case": {"reports": [row], "expected": {}}},
            "without expectation")


def test_expected_slippage_when_notional_contradicts_size_times_limit_then_fails() -> None:
    case = {"marketSpread": 4, "orderSize": 10, "limitPrice": 50, "vpin": 0.3, "marketDepth": 10000, "expected": 1.1825}
    run("execution_quality", {"section": "expected_slippage", "case": case | {"orderNotional": 500}})
    rejects("execution_quality", {"section": "expected_slippage", "case": case | {"orderNotional": 5000}},
            "orderNotional")


def test_bonding_validation_errors_when_they_name_rules_then_the_rules_are_compared() -> None:
    """§6.1 names the failed rules, not their wording: a case naming the wrong rule fails, free wording passes on
    its count (the leaf-sensitivity probe found the count was all that was compared: ADR 0489)."""
    one_bond = {"capital": 10000, "bond_candidates": [{"marketId": "b1", "probability": 0.95}], "tail_candidates": []}
    run("bonding_barbell", ("allocations", one_bond | {"expected": {"validationErrors": ["HHI 1.0 > 0.25"]}}))
    run("bonding_barbell", ("allocations", one_bond | {"expected": {"validationErrors": ["something is off"]}}))
    rejects("bonding_barbell", ("allocations", one_bond | {"expected": {"validationErrors": ["hedge"]}}), "rules")
    rejects("bonding_barbell", ("allocations", one_bond | {"expected": {"validationErrors": []}}), "validationErrors")
    validate = {"valid": False, "errors": ["Herfindahl index too high", "event hedge below 30%"]}
    run("bonding_barbell", ("allocations", one_bond | {"expected": {"validate": validate}}))
    wrong = {"valid": False, "errors": ["no bonds", "event hedge below 30%"]}
    rejects("bonding_barbell", ("allocations", one_bond | {"expected": {"validate": wrong}}), "rules")


def test_bonding_validate_only_when_the_wrong_rule_is_named_then_fails() -> None:
    case = {"allocation": {"totalCapital": 10000, "bondAllocation": 9000, "herfindahlIndex": 0.5,
                           "eventHedgePct": 40, "bond_probabilities": [0.95]}}
    run("bonding_barbell", ("validate_only", case | {"expected": {"valid": False, "errors": ["hhi"]}}))
    rejects("bonding_barbell", ("validate_only", case | {"expected": {"valid": False, "errors": ["hedge"]}}), "rules")


def test_order_idempotency_when_the_expectation_contradicts_the_same_id_then_not_interpretable() -> None:
    """A 'create twice' or 'risk-adjusted size' case is checked for a kept id; an expectation claiming a new order
    is refused rather than passed on the strength of its description (ADR 0489)."""
    chk = CHECKERS[(TRADING, "order_lifecycle")]
    document = load_groups(vectors_dir() / TRADING)
    ctx = Context(TRADING, "order_lifecycle", document)
    cases = [c for cid, c in chk.split(document["order_lifecycle"]) if cid.startswith("idempotency/")]
    assert len(cases) >= 2
    for section, value, group in cases:
        chk.run((section, value, group), ctx)
        wrong = {**value, "expected": "a new order is created"}
        with pytest.raises(AssertionError, match="not interpretable"):
            chk.run((section, wrong, group), ctx)
