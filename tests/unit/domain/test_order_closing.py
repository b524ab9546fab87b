"""The lifecycle's last two steps (trading §1.4 steps 8-9, §7 "Order-level"; ADR 0410): what a reconciliation run
says of an order, the manual fix of a drifted one, and when a RECONCILED order is archived with what PnL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paulp.domain.order_closing import (
    ExitSale,
    HeldFill,
    OrderVerdict,
    PositionNow,
    archivals,
    order_verdict,
    verdicts,
)
from paulp.domain.order_states import OrderState
from paulp.domain.order_values import InvalidManualFix, OrderNotInRequiredState, ReconciliationResult
from paulp.domain.reconciliation import Position, reconcile
from tests.unit.domain.orders_support import NOW, placed

S = OrderState
T1, T2, T3 = NOW, NOW + timedelta(hours=1), NOW + timedelta(hours=2)
RUN = reconcile([Position("MKT-A", "YES", 40), Position("MKT-B", "NO", 40)],
                [Position("MKT-A", "yes", 40), Position("MKT-B", "no", Decimal("40.5"))])


# ---------------------------------------------------------------- step 8: the run's word on an order
def test_verdict_when_key_matched_then_verified_with_the_keys_sizes() -> None:
    assert order_verdict("MKT-A", "yes", RUN, (), True) == OrderVerdict(ReconciliationResult(True, 40, 40, 0),
                                                                        "compared")


def test_verdict_when_key_drifted_even_minor_then_drift_with_signed_pct() -> None:
    verdict = order_verdict("MKT-B", "NO", RUN, (), True)
    assert verdict == OrderVerdict(ReconciliationResult(False, 40, 40.5, 1.25), "compared")


def test_verdict_when_market_left_out_as_settled_then_verified_by_the_settlement() -> None:
    assert order_verdict("MKT-S", "YES", RUN, {"MKT-S"}, True) == OrderVerdict(ReconciliationResult(True, 0, 0, 0),
                                                                               "settled")


def test_verdict_when_key_on_neither_side_then_flat_only_if_the_whole_book_was_read() -> None:
    assert order_verdict("MKT-Z", "YES", RUN, (), True) == OrderVerdict(ReconciliationResult(True, 0, 0, 0), "flat")
    assert order_verdict("MKT-Z", "YES", RUN, (), False) is None


def test_verdicts_when_orders_then_only_those_the_run_speaks_of() -> None:
    got = verdicts([("o1", "MKT-A", "YES"), ("o2", "MKT-B", "NO"), ("o3", "MKT-Z", "NO")], RUN, (), False)
    assert {k: v.result.verified for k, v in got.items()} == {"o1": True, "o2": False}


def test_reconcile_when_run_metadata_given_then_on_the_transition() -> None:
    order = placed(S.FILLED)
    order.reconcile(ReconciliationResult(False, 40, 40.5, 1.25), NOW, {"runId": "r-1", "basis": "compared"})
    entry = order.history[-1]
    assert (entry.target, entry.reason, dict(entry.metadata)) == (
        S.RECONCILIATION_DRIFT, "Position drift: 1.25%", {"runId": "r-1", "basis": "compared"})


# ---------------------------------------------------------------- the manual fix
def test_resolve_drift_when_drifted_then_reconciled_error_resolved_and_who_recorded() -> None:
    order = placed(S.FILLED)
    order.reconcile(ReconciliationResult(False, 40, 38, -5.0), NOW)
    order.collect_events()
    order.resolve_drift(" Kalshi fill booked late ", "alice", NOW)
    entry = order.history[-1]
    assert (entry.source, entry.target, order.last_error, order.reconciled_at) == (
        S.RECONCILIATION_DRIFT, S.RECONCILED, None, NOW)
    assert entry.reason == "Manual fix by alice: Kalshi fill booked late"
    assert dict(entry.metadata) == {"manual": True, "operator": "alice", "reason": "Kalshi fill booked late"}
    assert [type(e).__qualname__ for e in order.collect_events()] == ["OrderRecord.ErrorResolved",
                                                                      "OrderRecord.Transitioned"]


@pytest.mark.parametrize("state", [s for s in OrderState if s != S.RECONCILIATION_DRIFT])
def test_resolve_drift_when_any_other_state_then_refused_and_nothing_recorded(state: OrderState) -> None:
    order = placed(state)
    with pytest.raises(OrderNotInRequiredState, match="not in RECONCILIATION_DRIFT state"):
        order.resolve_drift("fixed", "alice", NOW)
    assert order.pending_events == [] and order.state == state


@pytest.mark.parametrize("reason,operator", [("", "alice"), ("  ", "alice"), ("fixed", " ")])
def test_resolve_drift_when_reason_or_operator_blank_then_refused(reason: str, operator: str) -> None:
    order = placed(S.RECONCILIATION_DRIFT)
    with pytest.raises(InvalidManualFix):
        order.resolve_drift(reason, operator, NOW)
    assert order.pending_events == []


def test_archive_when_run_metadata_given_then_kept_beside_pnl_and_notes() -> None:
    order = placed(S.RECONCILED)
    order.archive(NOW, 1.5, "Sold by exits", {"runId": "r-2"})
    assert dict(order.history[-1].metadata) == {"runId": "r-2", "pnl": 1.5, "closingNotes": "Sold by exits"}


# ---------------------------------------------------------------- step 9: closed positions and their PnL
def fill(oid: str, n: int, price: str, at=T1, state: OrderState = S.RECONCILED) -> HeldFill:
    return HeldFill(oid, state.value, n, Decimal(price), at)


def sale(n: int, price: str, opened=T1) -> ExitSale:
    return ExitSale(opened, n, Decimal(price))


FLAT = PositionNow("YES", None, None, False)


def pnl(found) -> dict[str, Decimal]:
    return {a.order_id: a.pnl_usd for a in found}


def test_archivals_when_sold_out_by_one_exit_then_exit_proceeds_less_cost() -> None:
    [done] = archivals([fill("a", 10, "40")], [sale(10, "55")], FLAT)
    assert (done.order_id, done.pnl_usd) == ("a", Decimal("1.5"))
    assert done.closing_notes.startswith("Sold by exits: episode opened 2026-03-01T12:00:00.000Z, 10 contracts")


def test_archivals_when_two_orders_share_the_exits_then_pro_rata_proceeds_and_own_cost() -> None:
    found = archivals([fill("a", 10, "40"), fill("b", 30, "60")], [sale(15, "50"), sale(25, "50")], FLAT)
    assert pnl(found) == {"a": Decimal("1"), "b": Decimal("-3")}  # 2000¢ shared 1:3, costs 400¢ and 1800¢


def test_archivals_when_an_order_is_not_reconciled_then_it_shares_but_is_not_archived() -> None:
    found = archivals([fill("a", 10, "40"), fill("b", 30, "60", state=S.CANCELLED)], [sale(40, "50")], FLAT)
    assert pnl(found) == {"a": Decimal("1")}


def test_archivals_when_position_still_open_then_nothing() -> None:
    open_now = PositionNow("YES", T1, None, False)
    assert archivals([fill("a", 10, "40")], [sale(4, "55")], open_now) == []


def test_archivals_when_market_settled_then_rest_paid_at_settlement() -> None:
    settled = PositionNow("YES", T1, "YES", False)
    [done] = archivals([fill("a", 10, "40")], [sale(4, "50")], settled)
    assert done.pnl_usd == Decimal("4")  # 200¢ from the exit, 600¢ settled, less 400¢
    assert "6 settled YES at 100¢ each" in done.closing_notes


@pytest.mark.parametrize("result,expected", [("NO", Decimal("-4")), ("VOID", Decimal("0"))])
def test_archivals_when_market_settled_against_or_void_then_loss_or_cost_back(result: str,
                                                                              expected: Decimal) -> None:
    [done] = archivals([fill("a", 10, "40")], [], PositionNow("YES", T1, result, False))
    assert done.pnl_usd == expected


def test_archivals_when_settled_but_an_exit_unfinished_then_waits() -> None:
    assert archivals([fill("a", 10, "40")], [], PositionNow("YES", T1, "YES", True)) == []


def test_archivals_when_an_old_episode_sold_out_and_a_new_one_open_then_only_the_old_is_archived() -> None:
    fills = [fill("a", 10, "40", at=T1), fill("c", 5, "50", at=T3)]
    found = archivals(fills, [sale(10, "45", opened=T1), sale(2, "60", opened=T3)], PositionNow("YES", T3, None,
                                                                                                False))
    assert pnl(found) == {"a": Decimal("0.5")}


def test_archivals_when_figures_disagree_then_left_for_the_next_run() -> None:
    assert archivals([fill("a", 10, "40")], [sale(12, "50")], FLAT) == []  # sold more than bought
    assert archivals([fill("a", 10, "40")], [sale(8, "50")], FLAT) == []  # flat, yet 2 unaccounted


def test_archivals_when_a_fill_predates_every_known_episode_then_not_judged() -> None:
    assert archivals([fill("a", 10, "40", at=T1)], [sale(10, "50", opened=T2)], FLAT) == []


@given(st.lists(st.tuples(st.integers(1, 60), st.integers(1, 99)), min_size=1, max_size=6),
       st.lists(st.integers(1, 99), max_size=4), st.sampled_from(["YES", "NO", "VOID", None]))
def test_archivals_when_episode_closed_then_order_pnl_adds_up_to_the_episodes(
        buys: list[tuple[int, int]], exit_prices: list[int], result: str | None) -> None:
    """Any episode, sold in parts at any prices and the rest settled (or sold out when no result): the orders' PnL
    adds up to proceeds less cost, each within rounding, and every RECONCILED order is archived once."""
    bought = sum(n for n, _ in buys)
    fills = [fill(f"o{i}", n, str(p), at=T1 + timedelta(seconds=i)) for i, (n, p) in enumerate(buys)]
    parts = exit_prices if result is not None else (exit_prices or [50])
    share = bought // (len(parts) + (1 if result is not None else 0))
    sizes = [share] * len(parts)
    if result is None:
        sizes[-1] = bought - share * (len(parts) - 1)
    sales = [sale(n, str(p)) for n, p in zip(sizes, parts, strict=True) if n > 0]
    sold = sum(s.contracts for s in sales)
    position = PositionNow("YES", T1 if sold < bought else None, result, False)
    found = archivals(fills, sales, position)
    assert sorted(a.order_id for a in found) == sorted(f.order_id for f in fills)
    cost = sum(Decimal(n * p) for n, p in buys)
    avg = cost / bought
    settle = {"YES": Decimal(100), "NO": Decimal(0), "VOID": avg, None: Decimal(0)}[result]
    proceeds = sum((s.exit_price_cents * s.contracts for s in sales), Decimal(0)) + settle * (bought - sold)
    assert abs(sum(a.pnl_usd for a in found) - (proceeds - cost) / 100) <= Decimal("0.0000005") * len(found)


SIZES = st.decimals(min_value=0, max_value=500, places=2, allow_nan=False, allow_infinity=False)


@given(SIZES, SIZES)
def test_verdict_when_any_two_sizes_then_verified_exactly_when_section_7_grades_none(internal: Decimal,
                                                                                    venue: Decimal) -> None:
    run = reconcile([Position("MKT-P", "YES", internal)] if internal else [],
                    [Position("MKT-P", "YES", venue)] if venue else [])
    verdict = order_verdict("MKT-P", "YES", run, (), True)
    assert verdict is not None
    if not internal and not venue:
        assert verdict == OrderVerdict(ReconciliationResult(True, 0, 0, 0), "flat")
        return
    [drift] = run.drifts
    assert verdict.basis == "compared" and verdict.result.verified == (drift.severity.value == "none")
    assert Decimal(str(verdict.result.expected_size)) == internal and Decimal(str(verdict.result.broker_size)) == venue
