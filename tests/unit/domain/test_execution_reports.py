"""Execution reports from an order's facts (trading §5.5; ADR 0387) and I18 reading them (§3.3)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from paulp.domain.execution_quality import GRADE_SCORES, ExecutionGrade, FillObservation, quality_report
from paulp.domain.execution_reports import (
    RECENT_SLIPPAGE_WINDOW,
    OrderExecution,
    execution_report,
    slippage_window,
)
from paulp.domain.risk import evaluate
from paulp.domain.risk_input import PortfolioSnapshot, RiskRequest
from paulp.domain.risk_limits import DEFAULT_LIMITS
from paulp.domain.risk_results import InvariantId

NOW = datetime(2026, 3, 2, 15, tzinfo=UTC)
I18 = InvariantId.I18_MAX_SLIPPAGE_VS_EDGE


def an_execution(**changes: object) -> OrderExecution:
    """The spec's report vector 'order-1' as an order records it: spread 2 cents = 0.02, depth 5000 (cents of
    notional) = $50, edge 2 % = 0.02."""
    base = OrderExecution(
        order_id="order-1", strategy="bonding", ticker="TEST-MARKET", side="YES", mode="PAPER", limit_cents=50,
        order_size=10, signal_edge=0.02, created_at=NOW, sent_at=NOW + timedelta(milliseconds=250), spread=0.02,
        depth_usd=50.0, vpin=0.4, filled_size=10, avg_fill_cents=50.5, fills=1,
        first_fill_at=NOW + timedelta(milliseconds=400), executed_at=NOW + timedelta(milliseconds=400),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_report_when_spec_vector_order_then_its_figures():
    # Arrange / Act
    r = execution_report(an_execution())
    # Assert: trading.json execution_quality reports[0]
    assert math.isclose(r.realized_slippage, 0.5)
    assert r.order_notional == 500
    assert math.isclose(r.expected_slippage, 0.66)
    assert math.isclose(r.slippage_ratio, 0.757575757576, abs_tol=1e-9)
    assert math.isclose(r.slippage_vs_edge_ratio, 0.5)
    assert r.grade is ExecutionGrade.GOOD and r.grade_score == 3
    assert r.exceeds_kill_threshold is False  # exactly 0.5 is not counted (> 0.5)


def test_report_when_filled_in_one_go_then_latencies_and_no_partial_fill():
    r = execution_report(an_execution())
    assert (r.order_to_send_ms, r.send_to_fill_ms, r.order_to_fill_ms) == (250, 150, 400)
    assert (r.fill_rate, r.partial_fills_count) == (1.0, 0)


def test_report_when_partly_filled_then_fill_rate_and_every_fill_partial():
    r = execution_report(an_execution(filled_size=4, fills=2))
    assert (r.fill_rate, r.partial_fills_count) == (0.4, 2)


def test_report_when_completed_by_third_fill_then_two_partial_fills():
    assert execution_report(an_execution(fills=3)).partial_fills_count == 2


def test_report_when_never_sent_through_pipeline_then_send_latencies_unknown():
    r = execution_report(an_execution(sent_at=None))
    assert (r.order_to_send_ms, r.send_to_fill_ms, r.order_to_fill_ms) == (None, None, 400)


def test_report_when_no_edge_recorded_then_slippage_vs_edge_zero_and_never_counted():
    for edge in (None, 0.0, -0.05, float("nan")):
        r = execution_report(an_execution(signal_edge=edge, avg_fill_cents=60))
        assert (r.edge_percent, r.slippage_vs_edge_ratio, r.exceeds_kill_threshold) == (0.0, 0.0, False)


def test_report_when_no_market_conditions_recorded_then_expectation_at_its_floor():
    # spread unknown reads 0 cents: expected = max(0.1, 0) (§5.5), so one cent of slippage is a ratio of 10
    r = execution_report(an_execution(spread=None, depth_usd=None, vpin=None, avg_fill_cents=51))
    assert math.isclose(r.expected_slippage, 0.1)
    assert math.isclose(r.slippage_ratio, 10.0)
    assert r.grade is ExecutionGrade.POOR


def test_report_when_depth_missing_then_spec_default_depth_used():
    # notional 500 against the default 1000: impact = 2 x 0.5 x 0.5 = 0.5; (0.5 + 0.5) x (1 + 0.4 x 0.25) = 1.1
    r = execution_report(an_execution(depth_usd=None))
    assert math.isclose(r.expected_slippage, 1.1)


def test_report_when_slippage_is_two_percent_of_price_against_two_percent_edge_then_kill_switch_counts():
    # 1 cent over a 50-cent limit is 2 % of the price; against 2 % of edge that is a ratio of 1 (> 0.5)
    r = execution_report(an_execution(avg_fill_cents=51))
    assert math.isclose(r.slippage_vs_edge_ratio, 1.0)
    assert r.exceeds_kill_threshold


fill_prices = st.floats(min_value=1, max_value=99, allow_nan=False)


@given(limit=st.integers(min_value=1, max_value=99), a=fill_prices, b=fill_prices,
       spread=st.one_of(st.none(), st.floats(min_value=0, max_value=0.5)),
       depth=st.one_of(st.none(), st.floats(min_value=0, max_value=1e6)),
       vpin=st.one_of(st.none(), st.floats(min_value=0, max_value=1)),
       edge=st.one_of(st.none(), st.floats(min_value=-0.5, max_value=0.9)),
       size=st.integers(min_value=1, max_value=10_000))
def test_grade_when_slippage_grows_then_never_better(limit, a, b, spread, depth, vpin, edge, size):
    """Grade (and the kill switch's ratio) are monotonic in realized slippage, the rest of the order fixed."""
    x = an_execution(limit_cents=limit, spread=spread, depth_usd=depth, vpin=vpin, signal_edge=edge, order_size=size,
                     filled_size=size)
    near, far = sorted((a, b), key=lambda p: abs(p - limit))
    better, worse = execution_report(replace(x, avg_fill_cents=near)), execution_report(replace(x, avg_fill_cents=far))
    assert better.realized_slippage <= worse.realized_slippage
    assert GRADE_SCORES[better.grade] >= GRADE_SCORES[worse.grade]
    assert better.slippage_vs_edge_ratio <= worse.slippage_vs_edge_ratio
    assert worse.exceeds_kill_threshold or not better.exceeds_kill_threshold


@given(ratio=st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_grade_when_ratio_known_then_spec_bands(ratio):
    """The report's grade is §5.5's band of its own ratio (< 0.5, < 1.0, < 1.5, else POOR)."""
    x = an_execution(avg_fill_cents=50)
    r = execution_report(replace(x, avg_fill_cents=50 + ratio * execution_report(x).expected_slippage))
    expected = (ExecutionGrade.EXCELLENT if r.slippage_ratio < 0.5 else ExecutionGrade.GOOD if r.slippage_ratio < 1
                else ExecutionGrade.ACCEPTABLE if r.slippage_ratio < 1.5 else ExecutionGrade.POOR)
    assert r.grade is expected


def test_slippage_window_when_asked_at_now_then_last_24_hours():
    assert slippage_window(NOW) == (NOW - timedelta(hours=24), NOW)
    assert RECENT_SLIPPAGE_WINDOW == timedelta(hours=24)


# -------------------------------------------------------------------------------------------- I18 (§3.3)
def _i18(request: RiskRequest) -> tuple[bool, object, str]:
    decision = evaluate(request, PortfolioSnapshot(portfolio_value=10_000.0), DEFAULT_LIMITS, "NORMAL", NOW)
    result = next(r for r in decision.results if r.invariant_id == I18)
    blocked = any(v.invariant_id == I18 for v in decision.violations)
    return blocked, result.actual_value, result.message


def a_request(**changes: object) -> RiskRequest:
    base = RiskRequest(market_id="m1", size=100.0, category="politics", spread=0.002, volume_24h=10_000.0,
                       equivalence_grade="identical", settlement_date=NOW + timedelta(days=2), last_price_update=NOW)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_i18_when_market_has_no_reports_then_passes_with_zero():
    assert _i18(a_request(recent_slippage_ratio=None))[:2] == (False, 0)


def test_i18_when_worst_recent_ratio_above_half_then_blocks():
    blocked, actual, _ = _i18(a_request(recent_slippage_ratio=1.0))
    assert blocked and actual == 100


def test_i18_when_history_unreadable_then_fails_closed_with_no_value():
    blocked, actual, message = _i18(a_request(recent_slippage_unavailable=True))
    assert blocked and actual is None
    assert "unavailable" in message


def test_i18_when_history_unreadable_then_input_document_says_so_and_otherwise_unchanged():
    assert a_request(recent_slippage_unavailable=True).to_json()["recentSlippageUnavailable"] is True
    assert "recentSlippageUnavailable" not in a_request(recent_slippage_ratio=0.2).to_json()


def test_quality_report_when_size_share_repeats_then_grade_edge_is_exact() -> None:
    # 150 of 900 is 1/6: expected 1 x (1/4 + 1/12) x 1.2 = 0.4 exactly, so 0.2 of slippage is a ratio of 0.5
    fill = FillObservation("o", "T", "yes", 30, 30.2, 5, 1, 1, 0.8, 900)
    assert quality_report(fill).grade is ExecutionGrade.GOOD
    assert quality_report(replace(fill, fill_price=30.4)).grade is ExecutionGrade.ACCEPTABLE
