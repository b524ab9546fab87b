"""Position exits (trading §3.5) and the acceptance harness that reuses them (§6.4)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from paulp.domain.exits import ExitPricing, ExitReason, InvalidExitInput, evaluate_exit, exit_levels
from paulp.domain.paper_harness import (
    PricePoint,
    ScenarioOutcome,
    grade_label,
    kill_switch_triggered,
    summarize,
    walk_price_path,
)


def test_evaluate_exit_when_price_is_exactly_the_stop_level_then_stop_despite_binary_rounding() -> None:
    # 40 * 0.97 is 38.800000000000004 in binary floating point; the stop is still hit at 38.8.
    got = evaluate_exit(40, 38.8, 2, 10)

    assert got is not None and got.reason is ExitReason.STOP_LOSS_HIT
    assert got.realized_pnl == pytest.approx(-12)


def test_evaluate_exit_when_held_exactly_168_hours_then_hold() -> None:
    assert evaluate_exit(35, 36.5, 168, 5) is None


def test_evaluate_exit_when_no_side_gains_then_pnl_is_positive_without_sign_flip() -> None:
    got = evaluate_exit(35, 36.5, 169, 5)

    assert got is not None and got.reason is ExitReason.TIME_LIMIT_EXCEEDED
    assert got.realized_pnl == pytest.approx(7.5)


def test_evaluate_exit_when_price_gaps_through_stop_then_monitor_books_observed_and_harness_trigger() -> None:
    observed = evaluate_exit(50, 45, 1, 10)
    trigger = evaluate_exit(50, 45, 1, 10, ExitPricing.TRIGGER)

    assert observed is not None and observed.exit_price == 45 and observed.realized_pnl == -50
    assert trigger is not None and trigger.exit_price == 48.5 and trigger.realized_pnl == pytest.approx(-15)


def test_evaluate_exit_when_entry_is_not_positive_then_invalid_input() -> None:
    with pytest.raises(InvalidExitInput):
        evaluate_exit(0, 10, 1, 1)


def test_exit_levels_when_bond_priced_above_two_thirds_then_take_profit_is_unreachable() -> None:
    assert exit_levels(70).take_profit > 99


def test_walk_price_path_when_target_reached_later_then_first_trigger_wins() -> None:
    path = [PricePoint(1, 50), PricePoint(5, 70), PricePoint(200, 30)]

    got = walk_price_path(45, 10, path)

    assert got is not None and got.reason is ExitReason.TAKE_PROFIT_HIT
    assert got.exit_price == 67.5 and got.realized_pnl == pytest.approx(225)


@pytest.mark.parametrize(
    ("score", "label"), [(1, "POOR"), (2, "ACCEPTABLE"), (3, "GOOD"), (4, "EXCELLENT"), (2.5, "GOOD"), (5, "UNKNOWN")]
)
def test_grade_label_when_scored_then_normative_mapping_rounds_half_up(score: float, label: str) -> None:
    assert grade_label(score) == label


def test_summarize_when_every_scenario_passes_and_grades_are_good_then_go() -> None:
    outcomes = [ScenarioOutcome(True, 10.0, "GOOD")] * 8

    summary = summarize(outcomes)

    assert summary.decision.value == "GO"
    assert summary.gate.blocking_issues == ()
    assert summary.avg_execution_grade == "GOOD"


def test_summarize_when_pnl_negative_then_blocking_issue() -> None:
    summary = summarize([ScenarioOutcome(True, -1.0, "EXCELLENT")] * 8)

    assert not summary.gate.pnl_met
    assert summary.decision.value == "NO_GO"


def test_summarize_when_pnl_sums_to_exactly_zero_in_decimal_then_gate_met() -> None:
    pnls = [-0.1, -0.2, 0.3, 0.1, 0.2, -0.3, 0.0, 0.0]  # binary running sum ends at -5.55e-17

    summary = summarize([ScenarioOutcome(True, p, "GOOD") for p in pnls])

    assert summary.gate.pnl_met
    assert summary.total_realized_pnl == 0.0
    assert summary.decision.value == "GO"


def test_summarize_when_a_pnl_is_nan_then_gate_fails_closed() -> None:
    summary = summarize([ScenarioOutcome(True, float("nan"), "GOOD")] + [ScenarioOutcome(True, 1.0, "GOOD")] * 7)

    assert not summary.gate.pnl_met
    assert summary.decision.value == "NO_GO"


def test_summarize_when_pnls_are_opposite_infinities_then_gate_fails_closed_without_raising() -> None:
    outcomes = [ScenarioOutcome(True, float("inf"), "GOOD"), ScenarioOutcome(True, float("-inf"), "GOOD")]

    summary = summarize(outcomes + [ScenarioOutcome(True, 1.0, "GOOD")] * 6)  # inf - inf: no total at all

    assert not summary.gate.pnl_met
    assert summary.decision.value == "NO_GO"


def test_summarize_when_one_pnl_is_infinite_then_judged_by_its_sign() -> None:
    summary = summarize([ScenarioOutcome(True, float("inf"), "GOOD")] + [ScenarioOutcome(True, -1.0, "GOOD")] * 7)

    assert summary.gate.pnl_met
    assert summary.total_realized_pnl == float("inf")


def test_kill_switch_when_slippage_share_exceeds_half_the_edge_then_triggered() -> None:
    assert kill_switch_triggered(8, 30, 1)
    assert not kill_switch_triggered(1, 100, 4)


def test_kill_switch_when_slippage_is_exactly_half_the_edge_then_not_triggered() -> None:
    # 0.27 cents of slippage on a 3-cent entry is exactly 9 %, half of an 18 % edge: not above it (ADR 0460)
    assert not kill_switch_triggered(0.27, 3, 18)
    assert kill_switch_triggered(0.28, 3, 18)


def test_evaluate_exit_when_an_exact_average_entry_makes_the_price_exactly_the_target_then_take_profit() -> None:
    # Arrange: 3 contracts bought for 100 cents in all (33, 33, 34): entry 100/3, take-profit exactly 50 (ADR 0460)
    entry = Fraction(100, 3)
    # Act
    decision = evaluate_exit(entry, 50.0, 1.0, 3)
    # Assert: price >= entry x 1.5; the float entry 33.333333333333336 put the target at 50.000000000000004
    assert decision is not None and decision.reason is ExitReason.TAKE_PROFIT_HIT
    assert decision.exit_price == 50.0 and decision.realized_pnl == 50.0
    assert evaluate_exit(entry, 49.5, 1.0, 3) is None
