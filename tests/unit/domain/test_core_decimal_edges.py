"""Decimal edges and fail-closed guards of the trading core (ADR 0452).

The derived conformance cases pin the spec's edges; these cover what they cannot express: non-finite inputs
must never crash a decimal comparison nor read as "no alert" / "valid".
"""

from __future__ import annotations

import math

import pytest

from paulp.domain.breaker_rules import portfolio_alerts
from paulp.domain.execution import execution_priority
from paulp.domain.market_impact import MarketBook, assess_impact
from paulp.domain.order_workflow import requested_size_from_target
from paulp.domain.prices import RawPrice, normalize_price
from paulp.domain.risk_limits import DEFAULT_LIMITS, adjusted_limits
from paulp.domain.sizing import kelly_size, raw_kelly

NAN, INF = math.nan, math.inf


def test_recovery_scaling_is_decimal() -> None:
    limits = adjusted_limits(DEFAULT_LIMITS.merged({"maxPositionPct": 4.1}), "RECOVERY")
    assert limits.max_position_pct == 3.075


def test_fair_price_has_no_kelly_edge_on_either_side() -> None:
    assert raw_kelly(0.3, 0.3, "YES") == 0.0
    assert raw_kelly(0.3, 0.3, "NO") == 0.0
    assert kelly_size(0.3, 0.3, "YES", 1000).has_edge is False
    assert raw_kelly(NAN, 0.5, "YES") == 0.0


def test_priority_rounds_half_up_in_decimal_and_refuses_nan() -> None:
    assert execution_priority(0.09, 0) == 23
    assert execution_priority(0.15, 0.8) == 78
    with pytest.raises(ValueError, match="finite"):
        execution_priority(NAN, 0.5)


def test_target_sizing_is_decimal_and_fails_closed() -> None:
    assert requested_size_from_target(0.57, 1) == 57
    assert requested_size_from_target(NAN, 50) == 0
    assert requested_size_from_target(10, 0) == 0


def test_non_finite_price_input_is_invalid_not_a_crash() -> None:
    for raw in (
        RawPrice("orderbook_binary", yes_bid=NAN, yes_ask=0.5),
        RawPrice("multi_outcome", outcome_prices=(INF, 0.5)),
        RawPrice("binary_token", yes_price=NAN),
        RawPrice("fee_adjusted", yes_bid=0.4, yes_ask=0.5, taker_fee_bps=NAN),
    ):
        result = normalize_price(raw)
        assert result.is_valid is False
        assert result.warnings == ("Non-finite price input",)


def test_orderbook_spread_of_exactly_020_is_invalid() -> None:
    assert normalize_price(RawPrice("orderbook_binary", 0, 0, 0.1, 0.3, 0.7, 0.9)).is_valid is False


def test_unknown_portfolio_figures_alert_critical() -> None:
    assert [(a.code, a.severity) for a in portfolio_alerts(10000, NAN, 0)] == [("DAILY_LOSS_ALERT", "critical")]
    assert [(a.code, a.severity) for a in portfolio_alerts(10000, 0, NAN)] == [("DRAWDOWN_ALERT", "critical")]
    assert portfolio_alerts(10000, INF, 0) == []  # an unbounded profit is no loss
    assert [a.severity for a in portfolio_alerts(99.9, -2.997, 0)] == ["critical"]


def test_impact_assessment_refuses_non_finite_edge() -> None:
    with pytest.raises(ValueError, match="finite"):
        assess_impact(10, NAN, "YES", MarketBook(45, 55, 45, 55, 1000))
    assert assess_impact(4, 4.6, "YES", MarketBook(47, 53, 47, 53, 100)).was_sized is False


def test_tail_hhi_exactly_03_is_non_compliant_and_unknown_sizes_fail_closed() -> None:
    from paulp.domain.tail import tail_concentration

    book = [{"marketId": m, "size": s, "currentPrice": 0.1} for m, s in zip("ABCDE", (3, 9, 10, 16, 32), strict=True)]
    assert tail_concentration(book).compliant is False
    unknown = tail_concentration([{"marketId": "A", "size": INF, "currentPrice": 0.1}])
    assert (unknown.compliant, unknown.hhi) == (False, 1.0)
