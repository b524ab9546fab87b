"""Closing lines in the running system (ADR 0419) and the CLV degradation rule (ADR 0420): observations from a
book, the window they are taken in, the line estimated once, each order's side-native CLV, and the rule that
disables a strategy only on enough evidence."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paulp.domain.book_depth import BookLevels
from paulp.domain.closing_lines import ClosingLine, observation_due, observation_from_book, side_price_cents
from paulp.domain.clv import Observation
from paulp.domain.clv_monitor import DEFAULT_RULE, DegradationRule, clv_trend
from paulp.domain.order_states import OrderState
from paulp.domain.order_workflow import MetricsInput, workflow_metrics
from paulp.domain.orders import Order
from tests.unit.domain.orders_support import NOW, placed

CLOSE = NOW + timedelta(hours=1)


def _filled(side: str, fill_cents: int, size: int = 10) -> Order:
    order = placed(OrderState.SUBMITTED, side=side, requested_size=size, max_price=99)
    order.record_fill(size, fill_cents, NOW)
    return order


def _line_of(order: Order, yes_close: float, quality: float = 1.0, valid: bool = True, usable: bool = True) -> bool:
    return order.record_closing_line(yes_close, quality, valid, "T-5min", "weather", usable, CLOSE, CLOSE)


# ------------------------------------------------------------------ observations
def test_observation_from_two_sided_book_is_yes_mid_spread_and_usd_depth_per_side():
    book = BookLevels.of([(44, 1000), (43, 500)], [(54, 200)])  # YES bid 44, YES ask 46 (NO bid 54)
    obs = observation_from_book(book, NOW)
    assert obs is not None
    assert (obs.mid_price, obs.spread) == (pytest.approx(0.45), pytest.approx(0.02))
    assert obs.depth_yes == pytest.approx(200 * 46 / 100)  # YES asks: the NO bids mirrored
    assert obs.depth_no == pytest.approx(1000 * 56 / 100 + 500 * 57 / 100)  # NO asks within 5c of the best (56)


@pytest.mark.parametrize("yes, no", [([(44, 10)], []), ([], [(54, 10)]), ([], [])])
def test_observation_from_one_sided_book_is_none(yes, no):
    assert observation_from_book(BookLevels.of(yes, no), NOW) is None


@pytest.mark.parametrize("category, before, due", [
    ("Weather", timedelta(minutes=6), True), ("Weather", timedelta(minutes=7), False),
    ("Elections", timedelta(minutes=61), True), ("Elections", timedelta(minutes=62), False),
    ("Sports", timedelta(minutes=61), True), ("Crypto", timedelta(seconds=30), True),
    ("Crypto", timedelta(minutes=3), False), ("Weather", timedelta(0), True), ("Weather", -timedelta(seconds=1), False),
])
def test_observations_are_due_only_in_the_class_window_before_the_close(category, before, due):
    assert observation_due(CLOSE, category, CLOSE - before) is due


def test_no_close_time_means_no_observation():
    assert observation_due(None, "Weather", NOW) is False


# ------------------------------------------------------------------ the line, once
def _obs(minutes_before: float, mid: float = 0.55, depth: float = 800.0) -> Observation:
    return Observation(CLOSE - timedelta(minutes=minutes_before), mid, depth, depth, 0.02)


def test_closing_line_is_estimated_once_and_later_observations_are_refused():
    line = ClosingLine("KXWEATHER-1")
    for i, m in enumerate((4, 3, 2, 1)):
        assert line.observe(_obs(m, 0.55 + i / 100), CLOSE, "Weather", None)
    assert not line.observe(_obs(2), CLOSE, "Weather", None)  # not newer than the last one
    first = line.close(CLOSE + timedelta(hours=2), NOW)
    assert first.closing_line_price == pytest.approx(0.565) and first.method == "T-5min"
    assert line.resolution_time == CLOSE  # the close time, not when the outcome was seen
    events = line.collect_events()
    assert [type(e).__name__ for e in events][-1] == "Estimated"
    assert line.close(CLOSE + timedelta(hours=3), NOW) == first and not line.collect_events()
    assert not line.observe(_obs(0.5), CLOSE, "Weather", None)


def test_market_never_observed_gets_the_invalid_line_at_the_outcome_time():
    line = ClosingLine("KXPOL-1")
    est = line.close(CLOSE, NOW)
    assert (est.is_valid, est.quality_score, est.valid_observation_count) == (False, 0.0, 0)
    assert line.resolution_time == CLOSE and est.method == "T-60min"


# ------------------------------------------------------------------ each order's CLV
def test_yes_order_clv_is_closing_mid_minus_average_fill_in_cents():
    order = _filled("YES", 44)
    assert _line_of(order, 0.49)
    assert (order.closing_line_price, order.clv) == (pytest.approx(49), pytest.approx(5))


def test_no_order_clv_uses_no_prices():
    order = _filled("NO", 40)
    assert _line_of(order, 0.50)  # NO closes at 50
    assert (order.closing_line_price, order.clv) == (pytest.approx(50), pytest.approx(10))


def test_invalid_line_is_recorded_but_leaves_no_clv_for_the_statistics():
    order = _filled("YES", 44)
    assert _line_of(order, 0.60, quality=0.3, valid=False)
    assert order.closing_line is not None and order.closing_line["valid"] is False
    assert order.closing_line["clv"] == pytest.approx(16)
    assert order.clv is None and order.closing_line_price is None
    assert workflow_metrics([MetricsInput.of(order)]).avg_clv == 0.0


def test_unusable_line_records_no_prices():
    order = _filled("YES", 44)
    assert order.record_closing_line(0.5, 0.0, False, "T-5min", "weather", False, CLOSE, CLOSE)
    assert order.closing_line is not None
    assert (order.closing_line["closingLinePrice"], order.closing_line["clv"]) == (None, None)


def test_closing_line_recorded_once_and_only_on_a_filled_order():
    order = _filled("YES", 44)
    assert _line_of(order, 0.49)
    order.collect_events()
    assert not _line_of(order, 0.70) and not order.collect_events() and order.clv == pytest.approx(5)
    assert not _line_of(placed(OrderState.SUBMITTED), 0.49)


def test_clv_uses_the_average_fill():
    order = placed(OrderState.SUBMITTED, side="YES", requested_size=10, max_price=99)
    order.record_fill(5, 40, NOW)
    order.record_fill(5, 50, NOW)
    assert _line_of(order, 0.50) and order.clv == pytest.approx(5)


cents = st.integers(min_value=1, max_value=99)
probs = st.integers(min_value=1, max_value=99).map(lambda c: c / 100)


@given(fill=cents, close=probs)
def test_side_native_symmetry_mirrored_market_gives_the_same_clv(fill, close):
    """A NO order whose prices are the mirror of a YES order's (same NO-space fill, YES closing 1 - p) has the
    same CLV, sign included: the convention does not depend on which side was bought."""
    yes, no = _filled("YES", fill), _filled("NO", fill)
    _line_of(yes, close)
    _line_of(no, 1 - close)
    assert yes.clv is not None and no.clv is not None
    assert no.clv == pytest.approx(yes.clv, abs=1e-9)
    assert (yes.clv > 1e-9) == (no.clv > 1e-9) and (yes.clv < -1e-9) == (no.clv < -1e-9)


@given(fill=cents, close=probs)
def test_yes_and_no_at_complementary_prices_in_one_market_have_opposite_clv(fill, close):
    """Bought YES at ``f`` and NO at ``100 - f`` in the same market: opposite bets, opposite CLVs."""
    yes, no = _filled("YES", fill), _filled("NO", 100 - fill)
    _line_of(yes, close)
    _line_of(no, close)
    assert yes.clv is not None and no.clv is not None
    assert no.clv == pytest.approx(-yes.clv, abs=1e-9)


@given(p=probs, side=st.sampled_from(["YES", "NO"]))
def test_side_price_of_both_sides_sums_to_100(p, side):
    other = "NO" if side == "YES" else "YES"
    assert side_price_cents(p, side) + side_price_cents(p, other) == pytest.approx(100)


# ------------------------------------------------------------------ degradation (ADR 0420)
clv_values = st.floats(min_value=-50, max_value=50, allow_nan=False)


@given(st.lists(clv_values, max_size=DEFAULT_RULE.min_count - 1))
def test_rule_never_judges_below_the_minimum_count(clvs):
    assert clv_trend(clvs) is None


@given(st.integers(min_value=1, max_value=10), st.integers(min_value=2, max_value=10), st.data())
def test_rule_never_judges_below_any_rules_minimum_count(recent, prior, data):
    rule = DegradationRule(recent=recent, min_prior=prior)
    clvs = data.draw(st.lists(clv_values, max_size=rule.min_count - 1))
    assert clv_trend(clvs, rule) is None


@given(st.lists(clv_values, min_size=DEFAULT_RULE.min_count, max_size=80))
def test_rule_verdict_is_the_two_std_comparison(clvs):
    trend = clv_trend(clvs)
    assert trend is not None and trend.recent_count == 20 and trend.prior_count == len(clvs) - 20
    prior = [Fraction(Decimal(repr(v))) for v in clvs[:-20]]
    mean = sum(prior, Fraction(0)) / len(prior)
    drop = mean - sum((Fraction(Decimal(repr(v))) for v in clvs[-20:]), Fraction(0)) / 20
    assert trend.degraded is (drop > 0 and drop**2 > 4 * sum((v - mean) ** 2 for v in prior) / len(prior))


def test_rule_fires_on_a_clear_degradation_and_not_on_noise():
    history = [3.0, 5.0, 4.0, 6.0, 2.0] * 6  # mean 4, population std sqrt(2)
    assert clv_trend(history + [4.0, 5.0, 3.0, 4.0] * 5).degraded is False  # type: ignore[union-attr]
    assert clv_trend(history + [1.2] * 20).degraded is False  # type: ignore[union-attr]  # above 4 - 2.83
    degraded = clv_trend(history + [-2.0] * 20)
    assert degraded is not None and degraded.degraded and "CLV degraded" in degraded.reason()


def test_clv_trend_when_the_recent_mean_is_exactly_two_std_below_then_not_degraded():
    # Arrange: prior 0.00/0.02 has mean 0.01 and std exactly 0.01, so 2 std below is exactly -0.01 (ADR 0460)
    clvs = [0.0, 0.02] * 15 + [-0.01] * 20
    # Act
    trend = clv_trend(clvs)
    # Assert: "> 2 std below" is strict; binary's std 0.009999999999999998 put -0.01 under the threshold
    assert trend is not None and trend.degraded is False
    assert clv_trend([0.0, 0.02] * 15 + [-0.01] * 19 + [-0.0100001]).degraded is True  # type: ignore[union-attr]


def test_rule_refuses_nonsense_parameters():
    with pytest.raises(ValueError):
        DegradationRule(recent=0)
    with pytest.raises(ValueError):
        DegradationRule(stds=0)
