"""Counts and prices in relayed Kalshi events (ADR 0332): integers and Kalshi's fixed-point strings read alike,
fixed point first; a present field that cannot be read is refused, never skipped; a fraction of a contract on an
order update is never rounded."""

from __future__ import annotations

from decimal import Decimal

import pytest

from paulp.adapters.kalshi.market_fields import FractionalContracts
from paulp.adapters.kalshi.relayed_events import RelayedFieldInvalid, dedupe_count, read_fill, read_order_update

IDS = {"orderId": "o-1", "status": " Executed "}


@pytest.mark.parametrize("numbers", [
    {"filledCount": 10, "filledPrice": 42},
    {"filledCount": "10.00", "filledPrice": 42.0},
    {"fill_count_fp": "10.00", "fill_price_dollars": "0.4200"},
    {"fill_count": 10, "fill_price": 42},
    {"fill_count_fp": "10.00", "filledCount": 3, "fill_price_dollars": "0.4200", "filledPrice": 99},
])
def test_order_update_when_any_spelling_then_the_same_update(numbers: dict) -> None:
    update = read_order_update({**IDS, **numbers})
    assert (update.order_id, update.status, update.filled_count, update.filled_price) == ("o-1", "executed", 10, 42.0)


def test_order_update_when_no_numbers_then_status_only_and_an_average_keeps_its_half_cent() -> None:
    update = read_order_update({**IDS, "clientOrderId": "order-1"})
    assert (update.filled_count, update.filled_price, update.client_order_id) == (None, None, "order-1")
    assert read_order_update({**IDS, "fill_price_dollars": "0.425"}).filled_price == 42.5


@pytest.mark.parametrize(("numbers", "field", "reason"), [
    ({"filledCount": True}, "filledCount", "not_a_number"),
    ({"fill_count_fp": "Infinity", "filledCount": 4}, "fill_count_fp", "not_a_number"),
    ({"fill_count_fp": "-0.01"}, "fill_count_fp", "negative"),
    ({"filledPrice": "42"}, "filledPrice", "not_a_number"),
    ({"fill_price_dollars": {"v": 1}}, "fill_price_dollars", "not_a_number"),
])
def test_order_update_when_a_present_number_is_unreadable_then_refused_naming_it(numbers: dict, field: str,
                                                                                 reason: str) -> None:
    with pytest.raises(RelayedFieldInvalid) as caught:
        read_order_update({**IDS, **numbers})
    assert (caught.value.code, caught.value.field, caught.value.reason) == ("invalid_event", field, reason)


def test_order_update_when_count_is_fractional_then_refused_never_rounded_but_keyed_exactly() -> None:
    for numbers in ({"fill_count_fp": "12.50"}, {"filledCount": 12.5}, {"filledCount": "12.5"}):
        with pytest.raises(FractionalContracts) as caught:
            read_order_update({**IDS, **numbers})
        assert caught.value.code == "venue_fractional_contracts"
        assert dedupe_count({**IDS, **numbers}) == "12.5"
    assert dedupe_count({**IDS, "fill_count_fp": "5.00"}) == dedupe_count({**IDS, "filledCount": 5}) == 5
    assert dedupe_count(IDS) is None


def test_fill_when_fixed_point_or_legacy_then_size_and_price_exact() -> None:
    base = {"orderId": "o-1", "marketId": "KX-1", "side": "NO"}
    assert read_fill({**base, "count_fp": "2.50", "no_price_dollars": "0.5700", "yes_price_dollars": "0.4300",
                      "fillSize": 9, "fillPrice": 1}) == (Decimal("2.50"), Decimal("57.0000"))
    assert read_fill({**base, "fillSize": 3, "fillPrice": 57}) == (3, 57)
    assert read_fill({**base, "count": 3, "no_price": 57}) == (3, 57)
    with pytest.raises(RelayedFieldInvalid) as caught:
        read_fill({**base, "side": "buy", "count_fp": "1.00", "yes_price_dollars": "0.43"})  # side names no price
    assert (caught.value.field, caught.value.reason) == ("fillPrice", "missing")
