"""The risk check's loss figures net of fees (ADR 0442), through the real snapshot builder on real PostgreSQL: a
loss whose gross is inside the daily limit but whose fees take it over is refused by I5, a fee paid before the
window does not count in it, and the recorded input document says which fees the figures are net of."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest

from paulp.adapters.market_data import StaticMarketData
from paulp.adapters.projector import catch_up_from_log
from paulp.domain.clock import FixedClock
from tests.integration.helpers import NOW, facts, signal

pytestmark = pytest.mark.integration
LOSER, NEXT = "KXFEE-LOSS", "KXFEE-NEXT"
# 34 paper contracts at 43c (ask 42 + 1c paper slippage): $14.62 lost when the market resolves NO, 2.924 % of
# bonding's $500, inside I5's 3 %; the fill's modelled fee at paperFeeRate 0.07 is ceil(0.07 x 34 x 0.43 x 0.57)
# = 59c, and $15.21 is 3.042 %
CONTRACTS, GROSS_LOSS, FEE = 34, 14.62, 0.59


def _market(at: datetime) -> StaticMarketData:
    """The helpers' book priced 5 s before ``at``, settling a month later, each market in its own category."""
    return StaticMarketData({t: replace(facts(t), category=t, last_price_update=at - timedelta(seconds=5),
                                        settlement_date=at + timedelta(days=30)) for t in (LOSER, NEXT)})


def _lose(system: Any, clock: FixedClock, filled_at: datetime, resolved_at: datetime) -> None:
    """The 34-contract paper fill at ``filled_at``, its market resolving NO at ``resolved_at``; views projected."""
    clock.set(filled_at)
    out = system.pipeline(_market(filled_at)).process(signal("fee-loss", LOSER, size=CONTRACTS))
    assert out.state == "FILLED", out
    assert system.markets.resolve(LOSER, "NO", resolved_at, None)
    with psycopg.connect(system.database_url, autocommit=True) as conn:
        for name in ("orders", "market_marks"):
            catch_up_from_log(conn, system.projections[name])


def _check(system: Any, clock: FixedClock, at: datetime) -> tuple[str, dict[str, Any]]:
    """A 30-contract bonding order in another market at ``at``: its state and its recorded risk evaluation."""
    clock.set(at)
    out = system.pipeline(_market(at)).process(signal("fee-next", NEXT, size=30))
    [checked] = [e for e in system.orders.history(out.order_id) if type(e).__name__ == "RiskChecked"]
    return out.state, dict(checked.evaluation)


def test_daily_loss_when_gross_inside_limit_but_fees_push_it_over_then_i5_refuses(clocked):
    # Arrange: filled and lost today
    system, clock = clocked
    _lose(system, clock, NOW, NOW + timedelta(hours=1))
    # Act
    state, evaluation = _check(system, clock, NOW + timedelta(hours=2))
    # Assert: refused by I5 alone, on the net figure; gross it would have passed (2.924 % <= 3 %)
    assert state == "RISK_REJECTED" and evaluation["criticalIds"] == ["I5_MAX_DAILY_LOSS"], evaluation["criticalIds"]
    [i5] = [r for r in evaluation["results"] if r["id"] == "I5_MAX_DAILY_LOSS"]
    assert i5["actual"] == pytest.approx((GROSS_LOSS + FEE) / 500 * 100) and i5["threshold"] == 3
    assert GROSS_LOSS / 500 * 100 <= 3
    portfolio = evaluation["input"]["portfolio"]
    assert (portfolio["dailyPnL"], portfolio["weeklyPnL"]) == (-15.21, -15.21)
    assert portfolio["lossFigureFees"] == {
        "dailyUsd": FEE, "weeklyUsd": FEE, "drawdownUsd": FEE,
        "unknownFills": {"daily": 0, "weekly": 0, "drawdown": 0}, "complete": True}


def test_daily_loss_when_the_fee_was_paid_before_today_then_it_does_not_count_in_the_day(clocked):
    # Arrange: filled yesterday evening (fee paid then), the market resolves NO after midnight
    system, clock = clocked
    _lose(system, clock, NOW - timedelta(hours=16), NOW - timedelta(hours=14))
    # Act
    state, evaluation = _check(system, clock, NOW)
    # Assert: today's loss is the gross $14.62 (inside 3 %); the week and the drawdown still carry the fee
    assert state == "FILLED", evaluation["criticalIds"]
    portfolio = evaluation["input"]["portfolio"]
    assert (portfolio["dailyPnL"], portfolio["weeklyPnL"]) == (-GROSS_LOSS, -15.21)
    assert portfolio["maxDrawdown"] == pytest.approx(15.21 / 500)
    assert (portfolio["lossFigureFees"]["dailyUsd"], portfolio["lossFigureFees"]["weeklyUsd"]) == (0.0, FEE)


def test_loss_figures_when_the_book_paid_no_fee_then_the_document_has_no_fee_field(clocked):
    # Arrange: the strategy's PAPER fee rate is 0, so nothing was paid (the document of a book as before fees)
    system, clock = clocked
    system.execution_policies.update("bonding", "PAPER", {"paperFeeRate": 0.0}, "ops", "fee-free drill")
    _lose(system, clock, NOW, NOW + timedelta(hours=1))
    # Act
    state, evaluation = _check(system, clock, NOW + timedelta(hours=2))
    # Assert: the gross loss alone is inside I5, and the document keeps its earlier shape
    assert state == "FILLED", evaluation["criticalIds"]
    assert evaluation["input"]["portfolio"]["dailyPnL"] == -GROSS_LOSS
    assert "lossFigureFees" not in evaluation["input"]["portfolio"]
