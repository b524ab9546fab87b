"""Trading fees (ADR 0437): the PAPER taker-fee formula, LIVE fees read from Kalshi's order objects, fees on the
order's and exit's fill events, the policy's rate, and archive PnL net of fees beside the gross figure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import reduce
from typing import Any

import pytest

from paulp.adapters.eventstore.codec import make_mapper
from paulp.adapters.kalshi.port import _submission
from paulp.adapters.kalshi.venue import fees_cents, parse_order
from paulp.domain.execution_orders import ExecutionRequest, ExecutionSignal, MarketSnapshot, Side
from paulp.domain.execution_policies import InvalidExecutionPolicy, StrategyExecutionPolicy, policy_json
from paulp.domain.execution_policy import POLICIES, ExecutionMode
from paulp.domain.exits import ExitReason
from paulp.domain.fees import InvalidFeeInput, fee_increment, taker_fee_cents
from paulp.domain.order_closing import ExitSale, HeldFill, PositionNow, archivals
from paulp.domain.order_states import OrderState
from paulp.domain.order_values import ExecutionResult, ExecutionStatus, InvalidFill, PaperFill
from paulp.domain.paper_fill import paper_fill
from paulp.domain.position_exits import InvalidExit, PositionExit
from tests.unit.domain.orders_support import NOW, new_order, placed

S = OrderState
T1 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# ------------------------------------------------------------------------------------------ the formula
@pytest.mark.parametrize(("count", "price", "rate", "cents"), [
    (100, 50, 0.07, 175),  # $1.75 exactly: binary float error must not push it to 176
    (20, 50, 0.07, 35),  # 0.07 * 20 * 0.25 * 100 = 35.000000000000007 in floats; exactly 35
    (1, 50, 0.07, 2),  # 1.75c rounds up
    (10, 1, 0.07, 1),  # P near 0: 0.693c -> 1c, never 0 for a fill
    (10, 99, 0.07, 1),  # P near 1: the same P(1-P)
    (10, 0, 0.07, 0), (10, 100, 0.07, 0),  # P(1-P) = 0
    (0, 50, 0.07, 0),
    (30, 52, 0.07, 53),  # 52.416c
    (50, 43, 0.07, 86),  # 85.785c
    (Decimal("2.5"), 50, 0.07, 5),  # a fractional count: 4.375c
    (Decimal("0.01"), 50, 0.07, 1),
    (100, 50, 0.0175, 44),  # Kalshi's maker rate: 43.75c
    (100, 50, 0, 0),
    (7, Decimal("42.5"), 0.07, 12),  # a sub-cent price: 11.974375c
])
def test_taker_fee_when_count_price_rate_then_ceil_to_the_cent(count: Any, price: Any, rate: float,
                                                                cents: int) -> None:
    assert taker_fee_cents(count, price, rate) == cents


@pytest.mark.parametrize(("count", "price", "rate"), [
    (-1, 50, 0.07), (10, 101, 0.07), (10, -1, 0.07), (10, 50, 1.5), (10, 50, -0.01), (10, float("nan"), 0.07),
])
def test_taker_fee_when_input_no_fill_can_have_then_refused(count: int, price: float, rate: float) -> None:
    with pytest.raises(InvalidFeeInput):
        taker_fee_cents(count, price, rate)


def test_fee_increment_when_cumulative_then_the_part_not_recorded_and_none_when_unknown() -> None:
    assert fee_increment(None, Decimal(18)) is None
    assert fee_increment(Decimal(53), Decimal(0)) == 53
    assert fee_increment(Decimal(53), Decimal(18)) == 35
    assert fee_increment(Decimal(10), Decimal(18)) == 0  # a venue figure below ours adds nothing, never negative


# ----------------------------------------------------------------------------------- LIVE: Kalshi's fields
ORDER = {"order_id": "o-1", "ticker": "KXT-1", "status": "executed", "side": "yes", "action": "buy", "type": "limit",
         "yes_price": 55, "no_price": 45, "fill_count": 30, "remaining_count": 0, "taker_fill_cost": 1560,
         "maker_fill_cost": 0}


@pytest.mark.parametrize(("fields", "cents"), [
    ({"taker_fees": 53, "maker_fees": 2}, Decimal(55)),  # legacy integer cents, taker plus maker
    ({"taker_fees_dollars": "0.530000", "maker_fees_dollars": "0.000000"}, Decimal(53)),  # fixed point only
    ({"taker_fees_dollars": "0.530000", "taker_fees": 99}, Decimal(53)),  # the dollar string read first
    ({"taker_fees_dollars": "0.005300"}, Decimal("0.53")),  # sub-cent kept
    ({"maker_fees": 4}, Decimal(4)),
    ({"taker_fees": 0, "maker_fees": 0}, Decimal(0)),  # charged nothing: known, 0
    ({}, None),  # no fee field: unknown, not 0
])
def test_fees_when_order_object_carries_cents_or_dollar_strings_then_exact_cents(fields: dict[str, Any],
                                                                                  cents: Decimal | None) -> None:
    assert fees_cents(fields) == cents
    record = parse_order({**ORDER, **fields})
    assert record.fees_cents == cents
    assert _submission(record, ("ab" * 32,)).fees_cents == cents  # what the order pipeline is handed


def test_fees_when_field_unreadable_then_the_order_object_is_refused() -> None:
    with pytest.raises(Exception, match="taker_fees_dollars"):
        parse_order({**ORDER, "taker_fees_dollars": "n/a"})


# ------------------------------------------------------------------------------------ the fill events
def _replayed(events: list[Any]) -> Any:
    mapper = make_mapper()
    return reduce(lambda agg, ev: mapper.to_domain_event(mapper.to_stored_event(ev)).mutate(agg), events, None)


def test_record_fill_when_fees_known_or_not_then_summed_and_unknown_counted_and_replayed() -> None:
    order = placed(S.ORDER_ACKNOWLEDGED)
    order.record_fill(4, 52, NOW, fee_cents=Decimal(18))
    order.record_fill(3, 53, NOW)  # the venue said nothing of fees
    order.record_fill(3, 53, NOW, fee_cents=Decimal("0.5"))
    assert (order.fees_cents, order.fee_unknown_fills) == (Decimal("18.5"), 1)
    fills = [e for e in order.collect_events() if type(e).__name__ == "FillRecorded"]
    assert [f.fee_cents for f in fills] == [Decimal(18), None, Decimal("0.5")]
    assert all(type(f).class_version == 2 for f in fills)


def test_record_fill_when_whole_history_replayed_then_same_fees() -> None:
    order = new_order()
    for target in (S.PRE_TRADE_CHECK, S.VALIDATING, S.VALIDATED, S.RISK_CHECK, S.RISK_APPROVED, S.SUBMITTING,
                   S.SUBMITTED, S.ORDER_ACKNOWLEDGED):
        order.transition(target, "placed", NOW)
    order.record_fill(10, 52, NOW, fee_cents=53)
    events = order.collect_events()
    rebuilt = _replayed(events)
    assert (rebuilt.fees_cents, rebuilt.fee_unknown_fills, rebuilt.filled_size) == (Decimal(53), 0, 10)


@pytest.mark.parametrize("fee", [-1, Decimal("NaN")])
def test_record_fill_when_fee_negative_or_not_a_number_then_refused_and_nothing_recorded(fee: Any) -> None:
    order = placed(S.ORDER_ACKNOWLEDGED)
    with pytest.raises(InvalidFill, match="fee"):
        order.record_fill(10, 52, NOW, fee_cents=fee)
    assert order.collect_events() == [] and order.filled_size == 0


def test_paper_execution_result_when_fill_has_a_modelled_fee_then_the_fill_event_carries_it() -> None:
    order = placed(S.RISK_APPROVED)
    order.apply_execution_result(ExecutionResult(True, ExecutionStatus.PAPER_FILLED, PaperFill(10, 43, 18),
                                                 mode="PAPER"), NOW)
    [fill] = [e for e in order.collect_events() if type(e).__name__ == "FillRecorded"]
    assert (fill.fill_size, fill.fill_price, fill.fee_cents) == (10, 43, 18)
    assert order.state == S.FILLED and order.fees_cents == 18


# --------------------------------------------------------------------------------- PAPER: the policy's rate
def _request(size: int) -> ExecutionRequest:
    return ExecutionRequest("o-1", ExecutionSignal("T", Side.YES, 0.6, 0.5, 0.04, 0.8), size, 55)


def test_paper_fill_when_policy_rate_then_taker_fee_on_the_fill_price() -> None:
    market = MarketSnapshot("T", yes_bid=41, yes_ask=42)
    fill = paper_fill(_request(50), market, 1, NOW, POLICIES[ExecutionMode.PAPER].paper_fee_rate)
    assert (fill.fill_price, fill.fee_cents) == (43, 86)  # ceil(0.07 x 50 x 0.43 x 0.57 x 100)
    assert paper_fill(_request(50), market, 1, NOW, 0.0).fee_cents == 0
    assert paper_fill(_request(50), market, 1, NOW).fee_cents == 86  # the default rate


def test_policy_when_paper_fee_rate_set_then_policy_and_json_carry_it_per_mode() -> None:
    row = StrategyExecutionPolicy.register("bonding", "kalshi")
    assert row.policy(ExecutionMode.PAPER).paper_fee_rate == 0.07  # stored without the key: the default
    row.update("PAPER", {"paperFeeRate": 0.0175}, "ops", "maker-heavy series", T1)
    assert row.policy(ExecutionMode.PAPER).paper_fee_rate == 0.0175
    assert policy_json(row.policy(ExecutionMode.PAPER))["paperFeeRate"] == 0.0175
    assert row.policy(ExecutionMode.LIVE).paper_fee_rate == 0.07


@pytest.mark.parametrize("rate", [1.5, -0.01, "0.07", True, float("inf")])
def test_policy_when_paper_fee_rate_bad_then_refused_and_nothing_recorded(rate: Any) -> None:
    row = StrategyExecutionPolicy.register("bonding", "kalshi")
    with pytest.raises(InvalidExecutionPolicy, match="paperFeeRate"):
        row.update("PAPER", {"paperFeeRate": rate}, "ops", "r", T1)
    assert row.policy_version == 0 and not row.collect_events()[1:]


# ------------------------------------------------------------------------------------------ exit sells
def _exit() -> PositionExit:
    return PositionExit.decide("bonding", "KXT-1", "YES", T1, 0, 10, 42.0, 47.0, ExitReason.TAKE_PROFIT_HIT,
                               "LIVE", T1 + timedelta(hours=1))


def test_exit_fill_when_fee_given_then_on_the_event_and_pnl_stays_gross() -> None:
    ex = _exit()
    ex.fill(10, 47.0, T1, "v-1", None, 42.0, Decimal(18))
    events = ex.collect_events()
    assert (events[-1].fee_cents, events[-1].realized_pnl_usd) == (Decimal(18), 0.5)
    assert type(events[-1]).class_version == 3
    rebuilt = _replayed(events)
    assert (rebuilt.fee_cents, rebuilt.realized_pnl_usd) == (Decimal(18), 0.5)


def test_exit_fill_when_fee_negative_then_refused() -> None:
    with pytest.raises(InvalidExit, match="fee"):
        _exit().fill(10, 47.0, T1, fee_cents=-1)


# ------------------------------------------------------------------------------------ archive PnL net of fees
def test_archivals_when_fees_known_then_own_fees_plus_share_of_exit_fees_and_net_pnl() -> None:
    # a: 10 at 40 (fee 17c), b: 30 at 60 (fee 51c); exits sold 40 at 50 for fees of 20c and 15c (35c)
    fills = [HeldFill("a", S.RECONCILED.value, 10, Decimal(40), T1, Decimal(17), True),
             HeldFill("b", S.RECONCILED.value, 30, Decimal(60), T1, Decimal(51), True)]
    sales = [ExitSale(T1, 15, Decimal(50), Decimal(20)), ExitSale(T1, 25, Decimal(50), Decimal(15))]
    found = {a.order_id: a for a in archivals(fills, sales, PositionNow("YES", None, None, False))}
    assert (found["a"].pnl_usd, found["b"].pnl_usd) == (Decimal(1), Decimal(-3))  # gross, as before
    assert found["a"].fees_usd == Decimal("0.2575")  # (17 + 35 x 10/40) / 100
    assert found["b"].fees_usd == Decimal("0.7725")  # (51 + 35 x 30/40) / 100
    assert found["a"].net_pnl_usd == Decimal("0.7425") and found["a"].fees_complete


def test_archivals_when_an_exit_fee_unknown_then_known_ones_counted_and_incomplete() -> None:
    fills = [HeldFill("a", S.RECONCILED.value, 10, Decimal(40), T1, Decimal(17), True)]
    [done] = archivals(fills, [ExitSale(T1, 10, Decimal(55))], PositionNow("YES", None, None, False))
    assert (done.pnl_usd, done.fees_usd, done.fees_complete) == (Decimal("1.5"), Decimal("0.17"), False)


def test_archive_when_fees_given_then_beside_the_gross_pnl_in_the_metadata() -> None:
    order = placed(S.RECONCILED)
    order.archive(NOW, 1.5, "Sold by exits", {"runId": "r-2"}, 0.17, 1.33, True)
    assert dict(order.history[-1].metadata) == {"runId": "r-2", "pnl": 1.5, "closingNotes": "Sold by exits",
                                                "fees": 0.17, "netPnl": 1.33, "feesComplete": True}
