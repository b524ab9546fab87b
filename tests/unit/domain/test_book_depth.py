"""Order-book depth (ADR 0373): the asks an order of one side can reach, from the bids Kalshi rests."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paulp.domain.book_depth import DEPTH_BAND_CENTS, BookLevels, InvalidBookLevel

levels = st.lists(st.tuples(st.integers(0, 100), st.integers(0, 10_000)), max_size=8)
sides = st.sampled_from(["YES", "NO"])


def test_depth_when_yes_order_then_no_bids_mirrored_within_band_of_limit() -> None:
    book = BookLevels.of(yes_bids=[(40, 999)], no_bids=[(58, 10), (56, 20), (52, 40), (50, 80)])

    got = book.depth("YES", limit_cents=42)

    # asks 42, 44, 48, 50: the band reaches 47, so 42 and 44 count; the YES bids are the NO side's asks
    assert got.contracts == Decimal(30)
    assert got.usd == Decimal("13.00")  # 10 x 0.42 + 20 x 0.44


def test_depth_when_no_order_then_yes_bids_mirrored() -> None:
    book = BookLevels.of(yes_bids=[(41, Decimal("12.5"))], no_bids=[(58, 1)])

    got = book.depth("NO", limit_cents=59)

    assert (got.contracts, got.usd) == (Decimal("12.5"), Decimal("7.375"))  # a fraction of a contract is depth


def test_depth_when_the_order_side_has_no_asks_then_zero() -> None:
    book = BookLevels.of(yes_bids=[(41, 500)], no_bids=[])

    got = book.depth("YES", limit_cents=42)

    assert (got.contracts, got.usd) == (0, 0)


def test_asks_when_a_bid_is_at_0_or_100_then_no_tradable_price() -> None:
    book = BookLevels.of(yes_bids=[(0, 5), (100, 5)], no_bids=[(0, 5), (100, 5)])

    assert book.asks("YES") == () and book.asks("NO") == ()


@pytest.mark.parametrize("level", [(101, 1), (-1, 1), (True, 1), (42, -1), (42, Decimal("NaN"))])
def test_of_when_level_invalid_then_refused(level: tuple[int, Decimal]) -> None:
    with pytest.raises(InvalidBookLevel):
        BookLevels.of([level], [])


@given(levels, levels, levels, sides, st.integers(1, 99))
def test_depth_never_shrinks_when_the_book_grows(yes: list[tuple[int, int]], no: list[tuple[int, int]],
                                                 extra: list[tuple[int, int]], side: str, limit: int) -> None:
    before = BookLevels.of(yes, no).depth(side, limit)

    after = BookLevels.of(yes + extra, no + extra).depth(side, limit)

    assert after.contracts >= before.contracts and after.usd >= before.usd


@given(levels, levels, sides, st.integers(1, 99))
def test_depth_is_exactly_the_asks_within_the_band(yes: list[tuple[int, int]], no: list[tuple[int, int]],
                                                   side: str, limit: int) -> None:
    book = BookLevels.of(yes, no)
    other = no if side == "YES" else yes
    # an ask of 100 (a bid of 0 mirrored) is no tradable price (test_asks_when_a_bid_is_at_0_or_100_…)
    reach = [(100 - p, n) for p, n in other if 1 <= 100 - p <= min(99, limit + DEPTH_BAND_CENTS)]

    got = book.depth(side, limit)

    assert got.contracts == sum(n for _, n in reach)
    assert got.usd == Decimal(sum(n * p for p, n in reach)) / 100
