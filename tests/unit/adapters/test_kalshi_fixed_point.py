"""Kalshi's fixed-point fields (``*_fp`` counts, ``*_dollars`` money) read by the one reader for every object we
read, and written beside the integers in order requests (ADRs 0330, 0331): with the integer fields withdrawn
nothing reads as 0, and a fraction of a contract is never rounded into a whole one."""

from __future__ import annotations

from decimal import Decimal

import pytest

from paulp.adapters.kalshi.market_fields import FractionalContracts, MarketFieldInvalid
from paulp.adapters.kalshi.venue import order_body, parse_order, parse_orderbook, parse_position
from paulp.domain.execution_orders import VenueOrder
from paulp.domain.reconciliation import DriftSeverity, compare

ORDER_FP = {"order_id": "o-1", "ticker": "KXT-1", "status": "resting", "side": "yes", "action": "buy",
            "type": "limit", "yes_price_dollars": "0.4200", "no_price_dollars": "0.5800",
            "fill_count_fp": "4.00", "remaining_count_fp": "6.00", "initial_count_fp": "10.00",
            "taker_fill_cost_dollars": "1.640000", "maker_fill_cost_dollars": "0.000000"}


# -- positions (GET /portfolio/positions) -------------------------------------------------------------------------

def test_position_when_only_fixed_point_fields_then_contracts_and_pnl_read_not_zero() -> None:
    long_yes = parse_position({"ticker": "KX-A", "position_fp": "12.00", "market_exposure_dollars": "5.040000",
                               "realized_pnl_dollars": "-1.230000", "resting_orders_count": 1})
    assert (long_yes.yes_contracts, long_yes.no_contracts, long_yes.realized_pnl) == (12, 0, Decimal("-123"))
    long_no = parse_position({"ticker": "KX-A", "position_fp": "-7.00"})
    assert (long_no.yes_contracts, long_no.no_contracts) == (0, 7)


def test_position_when_both_shapes_sent_then_fixed_point_preferred() -> None:
    p = parse_position({"ticker": "KX-A", "position": 3, "position_fp": "5.00", "realized_pnl": 40,
                        "realized_pnl_dollars": "0.450000"})
    assert (p.yes_contracts, p.realized_pnl) == (5, Decimal("45"))
    legacy = parse_position({"ticker": "KX-A", "position": -3, "realized_pnl": 40})
    assert (legacy.no_contracts, legacy.realized_pnl) == (3, Decimal("40"))


def test_position_when_fractional_then_kept_exactly_never_truncated() -> None:
    p = parse_position({"ticker": "KX-A", "position_fp": "10.50"})
    assert p.yes_contracts == Decimal("10.50")


def test_position_when_count_unreadable_then_refused_not_zero() -> None:
    with pytest.raises(MarketFieldInvalid):
        parse_position({"ticker": "KX-A", "position_fp": "ten"})


# -- orders (create / get / list / cancel answers) ----------------------------------------------------------------

def test_order_when_both_shapes_disagree_then_fixed_point_preferred_as_for_prices() -> None:
    record = parse_order({**ORDER_FP, "fill_count": 3, "remaining_count": 7, "initial_count": 10, "yes_price": 41})
    assert (record.filled_count, record.remaining_count, record.count, record.yes_price) == (4, 6, 10, 42)


def test_order_when_a_count_is_fractional_then_refused_loudly_never_rounded() -> None:
    with pytest.raises(FractionalContracts) as err:
        parse_order({**ORDER_FP, "fill_count_fp": "3.50"})
    assert err.value.code == "venue_fractional_contracts" and "3.50" in str(err.value)


@pytest.mark.parametrize("field, value", [("fill_count_fp", "many"), ("yes_price_dollars", "0.4250"),
                                          ("taker_fill_cost_dollars", "lots")])
def test_order_when_a_fixed_point_field_is_unreadable_then_refused_not_read_as_zero(field: str, value: str) -> None:
    with pytest.raises(MarketFieldInvalid):
        parse_order({**ORDER_FP, field: value})


def test_order_body_when_built_then_fixed_point_fields_sent_beside_the_integers_and_equal() -> None:
    body = order_body(VenueOrder("KX-A", "c-1", "no", "buy", 12, "limit", None, 37))
    assert (body["count"], body["count_fp"], body["no_price"], body["no_price_dollars"]) == (12, "12.00", 37, "0.3700")
    assert "yes_price" not in body and "yes_price_dollars" not in body


# -- the order book (GET /markets/{ticker}/orderbook) -------------------------------------------------------------

LEGACY_BOOK = {"orderbook": {"yes": [[40, 5], [42, 13]], "no": [[55, 2], [56, 17]]}}
FP_BOOK = {"orderbook_fp": {"yes_dollars": [["0.4000", "5.00"], ["0.4200", "13.00"]],
                            "no_dollars": [["0.5500", "2.00"], ["0.5600", "17.00"]]}}


@pytest.mark.parametrize("data", [LEGACY_BOOK, FP_BOOK, {**LEGACY_BOOK, **FP_BOOK},
                                  {"orderbook": {**LEGACY_BOOK["orderbook"], **FP_BOOK["orderbook_fp"]}}])
def test_orderbook_when_sent_in_any_shape_then_same_levels_best_first(data: dict) -> None:
    book = parse_orderbook("KX-A", data)
    assert book.yes_bids == ((42, 13), (40, 5)) and book.no_bids == ((56, 17), (55, 2))
    assert (book.best_yes_bid, book.best_yes_ask) == (42, 44)


def test_orderbook_when_a_level_is_fractional_then_kept_and_a_sub_cent_level_refused() -> None:
    book = parse_orderbook("KX-A", {"orderbook_fp": {"yes_dollars": [["0.4200", "2.50"]], "no_dollars": []}})
    assert book.yes_bids == ((42, Decimal("2.50")),) and book.no_bids == ()
    with pytest.raises(MarketFieldInvalid):
        parse_orderbook("KX-A", {"orderbook_fp": {"yes_dollars": [["0.4250", "2.00"]], "no_dollars": []}})


# -- reconciliation: a fraction of a contract is graded by §7's bands on the exact size (ADR 0362) ----------------

@pytest.mark.parametrize(("ours", "position_fp", "severity"), [
    (1000, "1000.50", DriftSeverity.NONE),  # 0.05 %
    (40, "40.50", DriftSeverity.MINOR),  # 1.25 %
    (5, "5.10", DriftSeverity.MAJOR),  # 2 % exactly; in binary floating point 1.99999...
    (3, "3.15", DriftSeverity.CRITICAL),  # 5 % exactly; in binary floating point 4.99999...
])
def test_compare_when_kalshi_holds_a_fraction_then_graded_by_the_bands_on_the_exact_size(
        ours: int, position_fp: str, severity: DriftSeverity) -> None:
    held = parse_position({"ticker": "KX-A", "position_fp": position_fp}).yes_contracts
    assert compare("KX-A", "YES", ours, held).severity is severity


def test_compare_when_kalshi_and_we_hold_the_same_fraction_then_matched() -> None:
    held = parse_position({"ticker": "KX-A", "position_fp": "12.50"}).yes_contracts
    drift = compare("KX-A", "YES", Decimal("12.5"), held)
    assert (drift.severity, drift.drift, drift.drift_pct) == (DriftSeverity.NONE, 0, 0)


@pytest.mark.parametrize(("raw", "cost"), [
    ({"market_exposure_dollars": "5.040000", "market_exposure": 504}, Decimal("504.000000")),  # fixed point first
    ({"market_exposure": 504}, Decimal(504)),  # the legacy cents
    ({}, None),  # not sent: no cost basis (ADR 0450)
    ({"market_exposure_dollars": "a lot"}, None),  # unreadable: no cost, the positions read still stands
])
def test_parse_position_when_market_exposure_then_the_cost_in_cents_or_none(raw: dict[str, object],
                                                                          cost: Decimal | None) -> None:
    p = parse_position({"ticker": "KX-A", "position_fp": "12.00", **raw})
    assert (p.yes_contracts, p.market_exposure) == (Decimal(12), cost)
