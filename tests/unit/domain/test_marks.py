"""Market marks: valuation rules, and the MarketMark state machine under random observations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import reduce
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from paulp.domain.checkpoints import resume
from paulp.domain.marks import (
    LATE_READ,
    InvalidMark,
    MarketMark,
    Quotes,
    settlement_price_cents,
    unrealized_pnl_usd,
)
from tests.support.hypothesis_scale import examples, steps

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(("quotes", "side", "price"), [
    (Quotes(40, 44, 56, 60), "YES", 42.0),
    (Quotes(40, 44, 56, 60), "NO", 58.0),
    (Quotes(40, None, None, None), "YES", 40.0),  # only a bid: worth that much (ADR 0329), not 45 (§5.3's 50)
    (Quotes(40, 44, None, None), "NO", 58.0),  # no NO book: complement of the YES mid
    (Quotes(None, None, 56, 60), "YES", 42.0),
    (Quotes(), "YES", None),  # nothing quoted: no mark
])
def test_side_price_when_books_given_then_side_native_mid(quotes, side, price) -> None:
    assert quotes.side_price(side) == price


@pytest.mark.parametrize(("entry", "current", "contracts", "pnl"), [
    ("43", "42", 50, "-0.5"), ("43", "60", 10, "1.7"), ("43", "43", 7, "0"),
])
def test_unrealized_when_priced_then_price_minus_entry_times_contracts(entry, current, contracts, pnl) -> None:
    assert unrealized_pnl_usd(Decimal(entry), Decimal(current), contracts) == Decimal(pnl)


@pytest.mark.parametrize("quotes", [Quotes(yes_bid=101), Quotes(no_ask=-1), Quotes(yes_bid=50, yes_ask=49)])
def test_observe_when_quotes_impossible_then_refused_without_event(quotes) -> None:
    mark = MarketMark("KX-A")
    mark.collect_events()
    with pytest.raises(InvalidMark):
        mark.observe(quotes, T0, None)
    assert mark.collect_events() == []


@pytest.mark.parametrize(("result", "side", "price"), [
    ("YES", "YES", "100"), ("YES", "NO", "0"), ("NO", "NO", "100"), ("NO", "YES", "0"), ("VOID", "YES", "43"),
])
def test_settlement_when_outcome_known_then_winner_100_loser_0_void_refunds(result, side, price) -> None:
    assert settlement_price_cents(result, side, Decimal("43")) == Decimal(price)


def test_resolve_when_same_outcome_again_then_noop_and_when_different_then_refused() -> None:
    mark = MarketMark("KX-A")
    assert mark.resolve("yes", T0, None) is True
    assert mark.resolve("YES", T0 + timedelta(hours=1), None) is False
    with pytest.raises(InvalidMark, match="already resolved YES"):
        mark.resolve("no", T0 + timedelta(hours=2), None)
    with pytest.raises(InvalidMark):
        MarketMark("KX-B").resolve("maybe", T0, None)
    assert mark.observe(Quotes(40, 44), T0 + timedelta(hours=3), None) is False  # outcome known: no quotes
    assert (mark.result, mark.resolved_at) == ("YES", T0)


_cents = st.one_of(st.none(), st.integers(-5, 105))
_quotes = st.builds(Quotes, _cents, _cents, _cents, _cents)


def _replay(events: list[Any]) -> MarketMark:
    rebuilt = reduce(lambda agg, ev: ev.mutate(agg), events, None)
    assert isinstance(rebuilt, MarketMark)
    return rebuilt


def _view(m: MarketMark) -> tuple[Any, ...]:
    return (m.id, m.version, m.created_on, m.modified_on, m.ticker, m.quotes, m.at, m.result, m.resolved_at,
            m.checkpointed_at)


def _resumed(events: list[Any]) -> MarketMark | None:
    """The mark as a first load rebuilds it from its last checkpoint (ADR 0505), or None before the first one."""
    marks = [i for i, ev in enumerate(events) if isinstance(ev, MarketMark.Checkpointed)]
    return resume(MarketMark, MarketMark.Checkpointed, events[marks[-1]:]) if marks else None


@settings(max_examples=examples(60), stateful_step_count=steps(25), deadline=None)
class MarkMachine(RuleBasedStateMachine):
    """Random observations (valid or not, in or out of time order), outcomes and checkpoints: the mark only moves
    forward in time, never holds impossible quotes, keeps its first outcome, and replaying its events, or resuming
    from its last checkpoint, rebuilds it."""

    def __init__(self) -> None:
        super().__init__()
        self.mark = MarketMark("KX-A")
        self.history = list(self.mark.collect_events())
        self.times: list[datetime] = []

    @rule(quotes=_quotes, minutes=st.integers(-3, 5))
    def observe(self, quotes: Quotes, minutes: int) -> None:
        at = T0 + timedelta(minutes=minutes + len(self.history))
        before = (self.mark.quotes, self.mark.at)
        try:
            recorded = self.mark.observe(quotes, at, None)
        except InvalidMark:
            assert (self.mark.quotes, self.mark.at) == before
            return
        if recorded:
            self.times.append(at)
            assert self.mark.quotes == quotes
        else:
            assert (self.mark.quotes, self.mark.at) == before
        self.history.extend(self.mark.collect_events())

    @rule(result=st.sampled_from(["yes", "no", "void", "maybe"]), minutes=st.integers(0, 5))
    def resolve(self, result: str, minutes: int) -> None:
        before = self.mark.result
        try:
            recorded = self.mark.resolve(result, T0 + timedelta(minutes=minutes + len(self.history)), None)
        except InvalidMark:
            assert self.mark.result == before and (before is not None or result == "maybe")
            return
        assert recorded == (before is None) and self.mark.result == result.upper()
        self.history.extend(self.mark.collect_events())

    @rule(every=st.integers(1, 6))
    def checkpoint(self, every: int) -> None:
        """A checkpoint restates the mark and changes nothing it decides with."""
        before = _view(self.mark)[5:9]
        due = self.mark.version - self.mark.checkpointed_at >= every
        assert self.mark.checkpoint_if_due(every) is due
        assert _view(self.mark)[5:9] == before
        self.history.extend(self.mark.collect_events())
        if due:
            assert self.mark.checkpointed_at == self.mark.version

    @invariant()
    def time_only_moves_forward_and_quotes_are_possible(self) -> None:
        """Forward, except after a step back of the clock by more than ``LATE_READ`` (ADR 0522)."""
        assert all(b > a or a - b > LATE_READ for a, b in pairwise(self.times)), self.times
        self.mark.quotes.check()

    @invariant()
    def replay_equals_resumed_equals_live(self) -> None:
        assert _view(_replay(self.history)) == _view(self.mark)
        resumed = _resumed(self.history)
        assert resumed is None or _view(resumed) == _view(self.mark)


TestMarkMachine = MarkMachine.TestCase


def test_observe_when_quotes_unchanged_then_recorded_again_only_once_the_last_record_is_five_minutes_old() -> None:
    mark = MarketMark("KX-A")
    quotes = Quotes(40, 44, 56, 60)
    assert mark.observe(quotes, T0, None) is True
    assert mark.observe(quotes, T0 + timedelta(minutes=4, seconds=59), None) is False
    assert mark.observe(quotes, T0 + timedelta(minutes=5), None) is True
    assert (mark.quotes, mark.at) == (quotes, T0 + timedelta(minutes=5))
    assert mark.observe(quotes, T0 + timedelta(minutes=6), None) is False


# -------------------------------------------------------------- Kalshi's empty side: bid 0 / ask 100 (ADR 0305)


@pytest.mark.parametrize(("quotes", "side", "price"), [
    (Quotes(0, 40, 60, 100), "YES", 40.0),  # nobody bids YES: the lone ask, not 0 and not 45 (ADR 0329)
    (Quotes(0, 40, 60, 100), "NO", 60.0),
    (Quotes(30, 100, 0, 70), "YES", 30.0),  # nobody offers YES: the lone bid
    (Quotes(98, 100, 0, 2), "YES", 98.0),  # a bond nobody sells: 98, not (98 + 50) / 2 = 74
    (Quotes(0, 3, 97, 100), "YES", 3.0),  # a collapsing market: 3, not (50 + 3) / 2 = 26.5
    (Quotes(0, 100, 0, 100), "YES", None),  # an empty market: no mark at all
])
def test_side_price_when_kalshi_reports_an_empty_side_as_0_or_100_then_read_as_missing(quotes, side, price) -> None:
    assert quotes.side_price(side) == price


def test_quotes_when_built_from_kalshi_empty_side_values_then_equal_to_missing_quotes() -> None:
    assert Quotes(0, 40, 60, 100) == Quotes(None, 40, 60, None)
    assert Quotes(0, 40, 60, 100).side_bid("YES") is None  # nothing to sell YES into


@pytest.mark.parametrize(("quotes", "side", "price"), [
    (Quotes(40, 44, 56, 60), "YES", 42.0),
    (Quotes(40, 44, None, None), "NO", 58.0),  # the NO book from the YES book's complement
    (Quotes(0, 40, 60, 100), "YES", None),  # one side empty: no price to judge an exit on
    (Quotes(0, 40, 60, 100), "NO", None),
    (Quotes(40, None, None, None), "YES", None),
])
def test_two_sided_price_when_a_side_of_the_held_book_is_empty_then_none(quotes, side, price) -> None:
    assert quotes.two_sided_price(side) == price
