"""trading.json::skill_score_aggregated — the aggregated-input skill score (§4.6), with and without CLV."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from paulp.domain.clv import ClvStatistics
from paulp.domain.skill_aggregated import AggregatedSkillInput, AggregatedSkillScore, aggregated_skill_score
from tests.conformance.checkers._sides import trading_expected
from tests.conformance.registry import Context, checker

_STATS = {
    "meanCLV": "mean_clv", "meanCLVCents": "mean_clv_cents", "stdDevCLV": "std_dev_clv",
    "positiveCLVCount": "positive_clv_count", "negativeCLVCount": "negative_clv_count",
    "validCLVCount": "valid_clv_count", "invalidCLVCount": "invalid_clv_count",
    "clvConsistencyScore": "clv_consistency_score",
}
_INPUT = {
    "totalPnl": "total_pnl", "totalPositions": "total_positions", "positionPnls": "position_pnls",
    "positionsPerMonth": "positions_per_month", "maxPositionPct": "max_position_pct",
    "totalAmbiguityAssessed": "total_ambiguity_assessed", "lowAmbiguityCount": "low_ambiguity_count",
    "grossProfit": "gross_profit", "totalFees": "total_fees", "categoryPnls": "category_pnls",
    "hasBlowup": "has_blowup", "hasMartingale": "has_martingale", "hasRevenge": "has_revenge",
    "accountAgeDays": "account_age_days", "hasConsistentActivity": "has_consistent_activity",
}
_RESULT = {
    "totalScore": "total_score", "tier": "tier", "clvScore": "clv_score", "returnsScore": "returns_score",
    "sizingScore": "sizing_score", "ambiguityScore": "ambiguity_score", "feeScore": "fee_score",
    "diversificationScore": "diversification_score", "blowupScore": "blowup_score",
    "longevityScore": "longevity_score", "clvStabilityWarning": "clv_stability_warning",
}


def _input(raw: dict[str, Any]) -> AggregatedSkillInput:
    unknown = set(raw) - set(_INPUT) - {"clvStats"}
    assert not unknown, f"unknown input fields {unknown}"
    stats_raw = raw["clvStats"]
    assert set(stats_raw) <= set(_STATS), f"unknown clvStats fields {set(stats_raw) - set(_STATS)}"
    values = {_STATS[k]: stats_raw.get(k, 0) for k in _STATS}
    if "meanCLVCents" not in stats_raw and "meanCLV" in stats_raw:  # §4.2: clvCents = CLV x 100, as written
        values["mean_clv_cents"] = float(Decimal(repr(float(stats_raw["meanCLV"]))) * 100)
    stats = ClvStatistics(**values)
    kwargs = {_INPUT[k]: v for k, v in raw.items() if k in _INPUT}
    kwargs["position_pnls"] = tuple(kwargs["position_pnls"])
    return AggregatedSkillInput(clv_stats=stats, **kwargs)


def _compare(result: AggregatedSkillScore, expected: dict[str, Any], label: str) -> None:
    for key, value in trading_expected(expected).items():
        assert key in _RESULT, f"{label}: unknown expected field {key!r}"
        actual = getattr(result, _RESULT[key])
        assert actual == value, f"{label}.{key}: expected {value!r}, got {actual!r}"


@checker("trading.json", "skill_score_aggregated")
def check(case: Any, ctx: Context) -> None:
    known = {"name", "note", "input", "expected", "expected_without_clv"}
    assert set(case) <= known, f"cannot interpret case keys {set(case) - known}"
    assert "expected" in case or "expected_without_clv" in case, "case has no expectation"
    data = _input(case["input"])
    if "expected" in case:
        _compare(aggregated_skill_score(data), case["expected"], "with CLV")
    if "expected_without_clv" in case:
        _compare(aggregated_skill_score(data, include_clv=False), case["expected_without_clv"], "without CLV")
