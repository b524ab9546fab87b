"""The postmortem's book (ADR 0434): positions folded from fills and exits as the positions view books them,
valued at both edges of a window, and what a resolution inside the window settled."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace as E

from hypothesis import given
from hypothesis import strategies as st

from paulp.domain.marks import Quotes
from paulp.domain.postmortem_pnl import Book, Holding, valuation, window_pnl


def _order(book: Book, oid: str, ticker: str, side: str = "YES", mode: str | None = "PAPER",
           strategy: str = "bonding") -> None:
    book.apply("Order.Created", oid, E(strategy=strategy, ticker=ticker, side=side))
    if mode:
        book.apply("OrderRecord.Transitioned", oid, E(to_state="SUBMITTED", metadata={"mode": mode}))


def _fill(book: Book, oid: str, size: int, price: float) -> None:
    book.apply("OrderRecord.FillRecorded", oid, E(fill_size=size, fill_price=price))


def test_fills_exits_and_modes_fold_as_the_positions_view_books_them() -> None:
    book = Book()
    _order(book, "o1", "KX-A")
    _fill(book, "o1", 10, 42.0)
    _fill(book, "o1", 5, 45.5)  # cost 420 + 228 (227.5 half up)
    _order(book, "o2", "KX-A", mode=None)  # never submitted with a mode: a venue fill, LIVE
    _fill(book, "o2", 3, 40.0)
    book.apply("PositionExit.Decided", "x1", E(strategy="bonding", ticker="KX-A", side="YES", mode="PAPER"))
    book.apply("PositionExit.Filled", "x1", E(size=6))
    snap = book.snapshot()
    paper, live = snap[("bonding", "KX-A", "YES", "PAPER")], snap[("bonding", "KX-A", "YES", "LIVE")]
    assert (paper.contracts, paper.cost_cents) == (9, Decimal(648 - 259))  # 648 x 6 / 15 = 259.2 -> 259
    assert (live.contracts, live.cost_cents) == (3, Decimal(120))
    book.apply("PositionExit.Filled", "x1", E(size=9))  # sold out: gone
    assert ("bonding", "KX-A", "YES", "PAPER") not in book.snapshot()
    _fill(book, "unknown-order", 5, 50.0)  # a fill of an order the log never created is not a position
    assert len(book.snapshot()) == 1


def test_valuation_marks_side_native_settles_resolved_and_lists_unmarked() -> None:
    holdings = {("bonding", "KX-A", "YES", "PAPER"): Holding(10, Decimal(420)),
                ("bonding", "KX-B", "NO", "LIVE"): Holding(4, Decimal(240)),
                ("weather", "KX-C", "YES", "PAPER"): Holding(2, Decimal(100))}
    v = valuation(holdings, {"KX-A": Quotes(45, 47, 53, 55)}, {"KX-B": "NO"})
    # A at 46: +0.40; B settled NO at 100 from 60: +1.60; C has no mark: at entry
    assert v == {"totalUsd": 2.0, "byMode": {"LIVE": 1.6, "PAPER": 0.4}, "positions": 3,
                 "unmarkedAtEntry": ["weather/KX-C/YES/PAPER"]}


def test_resolution_inside_the_window_is_settled_pnl_and_before_it_is_not() -> None:
    book = Book()
    _order(book, "o1", "KX-A")
    _fill(book, "o1", 10, 30.0)
    _order(book, "o2", "KX-B", side="NO")
    _fill(book, "o2", 5, 80.0)
    book.apply("MarketMark.Resolved", "m-b", E(ticker="KX-B", result="YES"))  # before the window: not counted
    book.recording = True
    book.apply("MarketMark.Resolved", "m-a", E(ticker="KX-A", result="YES"))
    book.apply("MarketMark.Resolved", "m-a", E(ticker="KX-A", result="NO"))  # a second report changes nothing
    assert book.settled == [{"strategy": "bonding", "ticker": "KX-A", "side": "YES", "mode": "PAPER",
                             "result": "YES", "contracts": 10, "pnlUsd": 7.0}]
    start = valuation({}, {}, {})
    end = valuation(book.snapshot(), {}, book.results)
    unrealized, resolution = window_pnl(start, end, book.settled)
    assert end["totalUsd"] == 7.0 - 4.0 and unrealized["changeUsd"] == 3.0 and resolution["totalUsd"] == 7.0


@given(st.lists(st.tuples(st.integers(1, 50), st.integers(1, 99)), min_size=1, max_size=8),
       st.lists(st.integers(1, 60), max_size=5))
def test_cost_never_negative_and_contracts_match_fills_less_exits(fills: list[tuple[int, int]],
                                                                 exits: list[int]) -> None:
    book = Book()
    _order(book, "o", "KX-P")
    for size, price in fills:
        _fill(book, "o", size, float(price))
    book.apply("PositionExit.Decided", "x", E(strategy="bonding", ticker="KX-P", side="YES", mode="PAPER"))
    held = sum(s for s, _ in fills)
    for size in exits:
        book.apply("PositionExit.Filled", "x", E(size=size))
        held = max(0, held - size)
    h = book.snapshot().get(("bonding", "KX-P", "YES", "PAPER"))
    assert (h.contracts if h else 0) == held
    assert h is None or 0 <= h.cost_cents <= sum(s * p for s, p in fills)
