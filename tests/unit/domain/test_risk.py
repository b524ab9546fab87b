"""Risk governor (trading §3): one triggering test per invariant, decision rules, breaker scaling."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from paulp.domain.risk import CORRELATION_LOOKUP_ID, InvalidRiskInput, evaluate, risk_input_hash
from paulp.domain.risk_input import CorrelatedMarket, LossFees, PortfolioSnapshot, Position, RiskRequest
from paulp.domain.risk_invariants import INVARIANTS, run_invariants
from paulp.domain.risk_limits import (
    DEFAULT_LIMITS,
    RiskLimits,
    UnknownBreakerState,
    UnknownRiskLimit,
    adjusted_limits,
)
from paulp.domain.risk_results import SEVERITY, Conditions, InvariantId, Severity

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def a_request(**changes: object) -> RiskRequest:
    base = RiskRequest(
        market_id="m1",
        size=100.0,
        category="politics",
        spread=0.002,
        volume_24h=10000.0,
        vpin_score=0.3,
        ambiguity_score=0.2,
        equivalence_grade="identical",
        settlement_date=NOW + timedelta(hours=48),
        last_price_update=NOW,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def a_portfolio(**changes: object) -> PortfolioSnapshot:
    return replace(PortfolioSnapshot(portfolio_value=10000.0, max_drawdown=0.02), **changes)  # type: ignore[arg-type]


# One breach per invariant: (request changes, portfolio changes, breaker state).
BREACHES: dict[InvariantId, tuple[dict[str, object], dict[str, object], str]] = {
    InvariantId.I1_MAX_POSITION_SIZE: ({"size": 600.0}, {}, "NORMAL"),
    InvariantId.I2_MAX_PORTFOLIO_CONCENTRATION: (
        {"size": 400.0},
        {"positions": (Position("m1", "other", -700.0),)},
        "NORMAL",
    ),
    InvariantId.I3_MAX_MARKET_EXPOSURE: (
        {"size": 400.0},
        {"positions": (Position("m2", "other", 2000.0),), "correlated_markets": (CorrelatedMarket("m2", 0.6, "x"),)},
        "NORMAL",
    ),
    InvariantId.I4_MAX_CATEGORY_EXPOSURE: (
        {"size": 400.0},
        {"positions": (Position("m7", "politics", 2700.0),)},
        "NORMAL",
    ),
    InvariantId.I5_MAX_DAILY_LOSS: ({}, {"daily_pnl": -301.0}, "NORMAL"),
    InvariantId.I6_MAX_DRAWDOWN: ({}, {"max_drawdown": 0.11}, "NORMAL"),
    InvariantId.I7_MAX_WEEKLY_LOSS: ({}, {"weekly_pnl": -701.0}, "NORMAL"),
    InvariantId.I8_MIN_MARKET_LIQUIDITY: ({"volume_24h": 499.0}, {}, "NORMAL"),
    InvariantId.I9_MAX_VPIN_TOXICITY: ({"vpin_score": 0.51}, {}, "NORMAL"),
    InvariantId.I10_MAX_SPREAD: ({"spread": 0.006}, {}, "NORMAL"),
    InvariantId.I11_MIN_TIME_TO_SETTLEMENT: ({"settlement_date": NOW + timedelta(hours=23)}, {}, "NORMAL"),
    InvariantId.I12_MARKET_EQUIVALENCE_GRADE: ({"equivalence_grade": "different"}, {}, "NORMAL"),
    InvariantId.I13_MAX_AMBIGUITY_SCORE: ({"ambiguity_score": 0.41}, {}, "NORMAL"),
    InvariantId.I14_PRICE_STALENESS: ({"last_price_update": NOW - timedelta(seconds=61)}, {}, "NORMAL"),
    InvariantId.I15_ORDER_SIZE_LIMITS: ({"size": 9.99}, {}, "NORMAL"),
    InvariantId.I16_CIRCUIT_BREAKER_STATE: ({}, {}, "HALT"),
    InvariantId.I17_SYSTEM_HEALTH: ({}, {"system_healthy": False}, "NORMAL"),
    InvariantId.I18_MAX_SLIPPAGE_VS_EDGE: ({"recent_slippage_ratio": 0.51}, {}, "NORMAL"),
}


def test_breach_table_when_listed_then_covers_every_invariant_code() -> None:
    assert set(BREACHES) == set(InvariantId)
    assert [i for i, _ in INVARIANTS] == list(InvariantId)


def test_evaluate_when_base_request_then_approved_with_18_passing_checks() -> None:
    decision = evaluate(a_request(), a_portfolio(), DEFAULT_LIMITS, "NORMAL", NOW)

    assert decision.approved
    assert decision.checks_run == 18 == decision.checks_passed
    assert decision.violations == decision.warnings == ()


@pytest.mark.parametrize("iid", list(InvariantId), ids=lambda i: i.value)
def test_evaluate_when_one_invariant_breached_then_only_that_code_is_reported(iid: InvariantId) -> None:
    req_changes, pf_changes, state = BREACHES[iid]

    decision = evaluate(a_request(**req_changes), a_portfolio(**pf_changes), DEFAULT_LIMITS, state, NOW)

    failed = [r.invariant_id for r in decision.results if not r.passed]
    if iid is InvariantId.I16_CIRCUIT_BREAKER_STATE:
        failed = [i for i in failed if i is iid]  # HALT also zeroes the size limits (I1, I2, I15)
    assert failed == [iid]
    if SEVERITY[iid] is Severity.CRITICAL:
        assert not decision.approved
        assert iid.value in [v.invariant_id for v in decision.violations]
    else:
        assert decision.approved
        assert [w.invariant_id for w in decision.warnings] == [iid.value]


@pytest.mark.parametrize(
    "changes",
    [
        {"size": 500.0},  # exactly 5 % (I1)
        {"volume_24h": 500.0},
        {"vpin_score": 0.5},
        {"spread": 0.005},
        {"ambiguity_score": 0.4},
        {"settlement_date": NOW + timedelta(hours=24)},
        {"last_price_update": NOW - timedelta(seconds=60)},
        {"size": 10.0},
        {"recent_slippage_ratio": 0.5},
    ],
)
def test_evaluate_when_value_exactly_at_limit_then_passes(changes: dict[str, object]) -> None:
    decision = evaluate(a_request(**changes), a_portfolio(), DEFAULT_LIMITS, "NORMAL", NOW)

    assert decision.approved and not decision.warnings, decision.to_json()


def test_i6_when_drawdown_fraction_exactly_at_limit_then_passes_despite_binary_rounding() -> None:
    limits = DEFAULT_LIMITS.merged({"maxDrawdownPct": 7})

    decision = evaluate(a_request(), a_portfolio(max_drawdown=0.07), limits, "NORMAL", NOW)

    assert decision.approved


def test_evaluate_when_settlement_or_price_time_missing_then_fails_closed() -> None:
    request = a_request(settlement_date=None, last_price_update=None)

    decision = evaluate(request, a_portfolio(), DEFAULT_LIMITS, "NORMAL", NOW)

    ids = [v.invariant_id for v in decision.violations]
    assert ids == ["I11_MIN_TIME_TO_SETTLEMENT", "I14_PRICE_STALENESS"]


def test_evaluate_when_portfolio_value_not_positive_then_share_checks_fail() -> None:
    decision = evaluate(a_request(), a_portfolio(portfolio_value=0.0), DEFAULT_LIMITS, "NORMAL", NOW)

    ids = {v.invariant_id for v in decision.violations}
    assert {"I1_MAX_POSITION_SIZE", "I2_MAX_PORTFOLIO_CONCENTRATION", "I5_MAX_DAILY_LOSS"} <= ids


def test_evaluate_when_input_not_finite_then_raises_invalid_risk_input() -> None:
    with pytest.raises(InvalidRiskInput) as err:
        evaluate(a_request(size=float("nan")), a_portfolio(), DEFAULT_LIMITS, "NORMAL", NOW)

    assert err.value.code == "invalid_risk_input"


def test_evaluate_when_market_id_has_a_lone_surrogate_then_raises_invalid_risk_input() -> None:
    """Its canonical input (§4.7, UTF-8) cannot exist; the domain error, not a UnicodeEncodeError (ADR 0477)."""
    with pytest.raises(InvalidRiskInput) as err:
        evaluate(a_request(market_id="m\ud800"), a_portfolio(), DEFAULT_LIMITS, "NORMAL", NOW)

    assert err.value.code == "invalid_risk_input"


def test_invariant_when_input_not_finite_then_fails_instead_of_passing() -> None:
    results = run_invariants(a_request(size=float("inf")), a_portfolio(), DEFAULT_LIMITS, Conditions(NOW, "NORMAL"))

    assert not results[0].passed and results[0].actual_value is None


def test_evaluate_when_correlation_lookup_failed_then_blocks_without_counting() -> None:
    decision = evaluate(a_request(), a_portfolio(correlated_markets=None), DEFAULT_LIMITS, "NORMAL", NOW)

    assert not decision.approved
    assert [v.invariant_id for v in decision.violations] == [CORRELATION_LOOKUP_ID]
    assert decision.violations[0].message == "Correlation data unavailable"
    assert decision.counts_toward_breaker is False


def test_evaluate_when_critical_invariant_fails_then_counts_toward_breaker() -> None:
    decision = evaluate(a_request(size=600.0), a_portfolio(), DEFAULT_LIMITS, "NORMAL", NOW)

    assert decision.blocked and decision.counts_toward_breaker


def test_evaluate_when_caution_then_position_limit_halved() -> None:
    request = a_request(size=300.0)  # 3 %: passes 5 %, fails 2.5 %

    normal = evaluate(request, a_portfolio(), DEFAULT_LIMITS, "NORMAL", NOW)
    caution = evaluate(request, a_portfolio(), DEFAULT_LIMITS, "CAUTION", NOW)

    assert normal.approved
    assert [v.invariant_id for v in caution.violations] == ["I1_MAX_POSITION_SIZE"]
    assert caution.results[0].threshold == 2.5


def test_adjusted_limits_when_each_state_then_scales_per_breaker_table() -> None:
    caution = adjusted_limits(DEFAULT_LIMITS, "CAUTION")
    recovery = adjusted_limits(DEFAULT_LIMITS, "RECOVERY")
    halt = adjusted_limits(DEFAULT_LIMITS, "HALT")

    assert (caution.max_position_pct, caution.max_concentration_pct) == (2.5, 5.0)
    assert (caution.max_order_size, caution.max_daily_loss_pct) == (5000.0, 1.5)
    assert (recovery.max_position_pct, recovery.max_concentration_pct, recovery.max_order_size) == (3.75, 7.5, 7500.0)
    assert recovery.max_daily_loss_pct == 3.0
    assert (halt.max_position_pct, halt.max_concentration_pct, halt.max_order_size) == (0.0, 0.0, 0.0)
    assert adjusted_limits(DEFAULT_LIMITS, "NORMAL") == DEFAULT_LIMITS


def test_adjusted_limits_when_state_unknown_then_raises() -> None:
    with pytest.raises(UnknownBreakerState) as err:
        adjusted_limits(DEFAULT_LIMITS, "OPEN")
    assert err.value.code == "unknown_breaker_state"


def test_limits_merge_when_unknown_name_then_raises() -> None:
    with pytest.raises(UnknownRiskLimit):
        DEFAULT_LIMITS.merged({"maxPositionPercent": 3})


def test_limits_merge_when_partial_then_other_limits_kept() -> None:
    merged = DEFAULT_LIMITS.merged({"maxPositionPct": 3})

    assert merged == replace(RiskLimits(), max_position_pct=3.0)


def test_i15_when_too_large_then_message_names_maximum_and_threshold_is_range() -> None:
    results = run_invariants(a_request(size=15000.0), a_portfolio(), DEFAULT_LIMITS, Conditions(NOW, "NORMAL"))

    i15 = results[14]
    assert i15.threshold == "10 - 10000"
    assert "maximum" in i15.message


def test_input_hash_when_same_inputs_then_equal_and_when_changed_then_differs() -> None:
    first = risk_input_hash(a_request(), a_portfolio(), DEFAULT_LIMITS, "NORMAL", NOW)
    again = evaluate(a_request(), a_portfolio(), DEFAULT_LIMITS, "NORMAL", NOW).input_hash
    other = risk_input_hash(a_request(size=101.0), a_portfolio(), DEFAULT_LIMITS, "NORMAL", NOW)

    assert first == again and len(first) == 64
    assert first != other


def test_i17_when_unhealthy_with_a_reason_then_blocks_naming_it_and_the_document_carries_it() -> None:
    # ADR 0441: the views the snapshot was read from are behind the log
    behind = "orders has not applied events stored since 2026-03-01T11:59:00.000Z (60 s)"
    result = evaluate(
        a_request(), a_portfolio(system_healthy=False, health_detail=behind), DEFAULT_LIMITS, "NORMAL", NOW
    )
    assert not result.approved and result.counts_toward_breaker
    assert [(v.invariant_id, v.message) for v in result.violations] == [
        ("I17_SYSTEM_HEALTH", f"System unhealthy: {behind}")
    ]
    document = a_portfolio(system_healthy=False, health_detail=behind).to_json()
    assert (document["systemHealthy"], document["systemHealthDetail"]) == (False, behind)
    # a healthy snapshot's document keeps the shape (and so the input hash) it had before the detail existed
    assert "systemHealthDetail" not in a_portfolio().to_json()


def test_loss_fees_when_present_then_in_the_document_and_when_absent_the_document_keeps_its_shape() -> None:
    # ADR 0442: the fees the loss figures are net of, and the fills whose fee is not known
    fees = LossFees(0.59, 1.2, 3.4, unknown_daily=0, unknown_weekly=1, unknown_drawdown=2)
    document = a_portfolio(daily_pnl=-15.21, loss_fees=fees).to_json()
    assert document["lossFigureFees"] == {
        "dailyUsd": 0.59,
        "weeklyUsd": 1.2,
        "drawdownUsd": 3.4,
        "unknownFills": {"daily": 0, "weekly": 1, "drawdown": 2},
        "complete": False,
    }
    assert "lossFigureFees" not in a_portfolio().to_json()  # a book without fees: the document (and hash) as before
