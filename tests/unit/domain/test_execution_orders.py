"""Venue order mapping, limit prices, the paper fill model and execution quality."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from paulp.domain.execution_orders import (
    ExecutionRequest,
    ExecutionSignal,
    LimitPriceMethod,
    MarketSnapshot,
    Side,
    limit_price,
)
from paulp.domain.execution_quality import (
    ExecutionGrade,
    FillObservation,
    FlowToxicity,
    FlowTrade,
    classify_vpin,
    compute_vpin,
    quality_report,
)
from paulp.domain.paper_fill import paper_fill

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _request(side: Side, method: LimitPriceMethod | None = None, *, edge: float = 0.04,
             confidence: float = 0.8, p: float = 0.65, size: int = 10) -> ExecutionRequest:
    return ExecutionRequest("o-1", ExecutionSignal("T", side, p, 0.5, edge, confidence), size, 55,
                            limit_price_method=method)


def test_limit_price_when_no_side_then_uses_no_quotes_symmetrically() -> None:
    # Arrange: YES book 48/52, NO book 40/44; the source moved NO prices the wrong way.
    market = MarketSnapshot("T", yes_bid=48, yes_ask=52, no_bid=40, no_ask=44)
    # Act / Assert
    assert limit_price(LimitPriceMethod.BEST_BID_IMPROVE, market, _request(Side.NO)) == 41
    assert limit_price(LimitPriceMethod.MID_MINUS_EDGE, market, _request(Side.NO)) == 41  # floor(42 - 0.84)
    assert limit_price(LimitPriceMethod.AGGRESSIVE_CROSS, market, _request(Side.NO)) == 44


def test_limit_price_when_bid_one_below_ask_then_improvement_never_crosses_ask() -> None:
    market = MarketSnapshot("T", yes_bid=51, yes_ask=51)
    assert limit_price(LimitPriceMethod.BEST_BID_IMPROVE, market, _request(Side.YES)) == 51


def test_limit_price_when_model_fair_value_for_no_then_complement_floored() -> None:
    market = MarketSnapshot("T")
    assert limit_price(LimitPriceMethod.MODEL_FAIR_VALUE, market, _request(Side.NO, p=0.655)) == 34


def test_limit_price_when_no_method_then_max_price() -> None:
    assert limit_price(None, MarketSnapshot("T"), _request(Side.YES)) == 55


@given(st.sampled_from(list(LimitPriceMethod)), st.sampled_from(list(Side)),
       st.one_of(st.none(), st.integers(1, 99)), st.one_of(st.none(), st.integers(1, 99)),
       st.floats(0, 1), st.floats(0, 1), st.floats(0, 1))
def test_limit_price_when_any_inputs_then_integer_cents_in_range(
    method: LimitPriceMethod, side: Side, bid: int | None, ask: int | None, edge: float, conf: float, p: float
) -> None:
    market = MarketSnapshot("T", yes_bid=bid, yes_ask=ask, no_bid=bid, no_ask=ask)
    price = limit_price(method, market, _request(side, method, edge=edge, confidence=conf, p=p))
    assert isinstance(price, int) and 1 <= price <= 99


def test_paper_fill_when_ask_near_top_then_capped_at_99_and_slippage_reduced() -> None:
    fill = paper_fill(_request(Side.NO, size=500), MarketSnapshot("T", no_ask=99), 1, NOW)
    assert (fill.fill_price, fill.slippage, fill.count, fill.side) == (99, 0, 500, "no")
    assert fill.filled_at == NOW


def test_quality_report_when_slippage_half_of_edge_then_kill_switch_not_counted() -> None:
    # Arrange: 1 cent on a 50 cent limit is 2 % against a 4 % edge: exactly 0.5, not > 0.5.
    fill = FillObservation("o", "T", "yes", 50, 51, 10, 4.0, 2, 0.4, 5000)
    # Act
    report = quality_report(fill)
    # Assert
    assert report.slippage_vs_edge_ratio == 0.5
    assert not report.counts_for_kill_switch


def test_quality_report_when_slippage_exceeds_half_edge_then_counts_for_kill_switch() -> None:
    report = quality_report(FillObservation("o", "T", "yes", 50, 52, 10, 4.0, 2, 0.4, None))
    assert report.counts_for_kill_switch
    assert report.grade is ExecutionGrade.POOR


def test_classify_vpin_when_at_thresholds_then_higher_class() -> None:
    assert classify_vpin(0.6).toxicity is FlowToxicity.TOXIC and classify_vpin(0.6).edge_multiplier == 0
    assert classify_vpin(0.3).edge_multiplier == 1.5
    assert classify_vpin(0.29).toxicity is FlowToxicity.NORMAL


def test_compute_vpin_when_side_missing_then_inferred_from_mid() -> None:
    trades = [FlowTrade(1000, 0.55, 0.50), FlowTrade(1000, 0.45, 0.50), FlowTrade(500, 0.5, 0.5, "buy"),
              FlowTrade(500, 0.5, 0.5, "buy")]
    assert compute_vpin(trades) == 1.0


def test_compute_vpin_when_the_imbalance_is_exactly_thirty_percent_then_elevated() -> None:
    # Arrange: one $1000 bucket, 350 bought and 62.92 + 587.08 sold, so |350 - 650| / 1000 is exactly 0.3 (ADR 0460)
    trades = [FlowTrade(350.0, 0.5, 0.5, "buy"), FlowTrade(62.92, 0.5, 0.5, "sell"),
              FlowTrade(587.08, 0.5, 0.5, "sell")]
    # Act
    vpin = compute_vpin(trades)
    # Assert: §5.6 VPIN >= 0.3 is elevated; binary sums gave 0.29999999999999993, read as normal flow
    assert vpin == 0.3
    assert classify_vpin(vpin).toxicity is FlowToxicity.ELEVATED


def test_compute_vpin_when_trade_spans_buckets_then_split_across_them() -> None:
    trades = [FlowTrade(1500, 0.6, 0.5), FlowTrade(500, 0.4, 0.5)]
    assert compute_vpin(trades) == 0.5  # buckets (1000 buy) and (500 buy, 500 sell)
