"""Backtest engine (ADR 0265): the bonding strategy, paper fill and exit rules replayed over bars; exits judged
and booked at the held side's two-sided mid, as the live exit monitor judges them (ADR 0323)."""

from __future__ import annotations

import itertools
import statistics
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paulp.domain.backtest import (
    BacktestConfig,
    Bar,
    CloseReason,
    InvalidBacktest,
    exit_price,
    metrics,
    run_backtest,
)
from paulp.domain.marks import Quotes
from tests.support.hypothesis_scale import examples

T0 = datetime(2026, 3, 2, tzinfo=UTC)
TICKERS = ("KXA", "KXB", "KXC", "KXD", "KXE")
FAIR = {t: 0.99 for t in TICKERS}


def bar(hour: int, bid: int | None, ask: int | None, volume: float = 600.0) -> Bar:
    return Bar(end=T0 + timedelta(hours=hour), yes_bid=bid, yes_ask=ask, volume=volume)


def config(**kw: object) -> BacktestConfig:
    return BacktestConfig(**{"strategy": "bonding", "capital": 500.0, "fair_probabilities": FAIR, **kw})  # type: ignore[arg-type]


def scenario() -> dict[str, list[Bar]]:
    """Five bonds at 95/96; hour 1 is the first with > 1000 contracts in 24 h, so all five are bought at
    96 + 1 slippage = 97. B's book drops to 90/91 at hour 2 (mid 90.5 <= stop 97 x 0.97 = 94.09); the rest
    end at hour 3."""
    last_bid = {"KXA": 99, "KXB": 90, "KXC": 98, "KXD": 96, "KXE": 96}
    history: dict[str, list[Bar]] = {}
    for t in TICKERS:
        history[t] = [bar(0, 95, 96), bar(1, 95, 96)]
        history[t].append(bar(2, 90, 91) if t == "KXB" else bar(2, 96, 97))
        history[t].append(bar(3, last_bid[t], last_bid[t] + 1 if last_bid[t] < 99 else None))
    return history


def test_scenario_when_replayed_then_entries_exits_and_metrics_as_worked_by_hand() -> None:
    result = run_backtest(scenario(), config())
    by = {tr.ticker: tr for tr in result.trades}
    # allocation 90 USD per bond (20 % of the 450 bond bucket); limit = cents(0.955) = 96 -> floor(90/0.96) = 93
    assert {tr.contracts for tr in result.trades} == {93}
    assert {tr.entry_cents for tr in result.trades} == {97}
    assert {tr.entered_at for tr in result.trades} == {T0 + timedelta(hours=1)}
    assert (by["KXB"].reason, by["KXB"].exit_cents, by["KXB"].exited_at) == (
        CloseReason.STOP_LOSS_HIT, 90.5, T0 + timedelta(hours=2))  # at the mid, as a paper exit is booked
    assert {t: by[t].reason for t in ("KXA", "KXC", "KXD", "KXE")} == dict.fromkeys(
        ("KXA", "KXC", "KXD", "KXE"), CloseReason.END_OF_DATA)
    assert [by[t].exit_cents for t in ("KXA", "KXC", "KXD", "KXE")] == [99, 98, 96, 96]
    m = result.metrics
    pnls = [(x - 97) * 93 / 100 for x in (90.5, 99, 98, 96, 96)]
    assert (m.trades, m.wins) == (5, 2)
    assert m.pnl == pytest.approx(sum(pnls))
    assert m.expected_value == pytest.approx(sum(pnls) / 5)
    returns = [(x - 97) / 97 for x in (90.5, 99, 98, 96, 96)]
    assert m.sharpe == pytest.approx(statistics.mean(returns) / statistics.stdev(returns), abs=1e-6)
    assert m.max_drawdown == pytest.approx(6.045 / 500, abs=1e-6)  # B's stop first, from the 500 peak
    assert (result.scans, result.period_start, result.period_end) == (4, T0, T0 + timedelta(hours=3))


def test_without_fair_probabilities_then_no_bond_signal_and_nothing_traded() -> None:
    result = run_backtest(scenario(), config(fair_probabilities={}))
    assert (result.signals, result.trades, result.metrics.expected_value) == (0, (), 0.0)


def test_three_bonds_when_allocation_invalid_then_nothing_traded() -> None:
    """HHI of three equal bonds is 1/3 > 0.25: the barbell is invalid and emits nothing (ADR 0163)."""
    history = {t: bars for t, bars in scenario().items() if t in TICKERS[:3]}
    assert run_backtest(history, config()).trades == ()


def test_held_past_168_hours_then_time_exit_at_the_mid_and_bought_again() -> None:
    history = {t: [bar(h, 95, 96) for h in range(172)] for t in TICKERS[:4]}
    result = run_backtest(history, config())
    reasons = sorted((tr.exited_at - T0, tr.reason) for tr in result.trades)
    assert reasons[:4] == [(timedelta(hours=170), CloseReason.TIME_LIMIT_EXCEEDED)] * 4  # held 169 h > 168
    assert reasons[4:] == [(timedelta(hours=171), CloseReason.END_OF_DATA)] * 4  # re-bought at 170
    assert {tr.exit_cents for tr in result.trades if tr.reason is CloseReason.TIME_LIMIT_EXCEEDED} == {95.5}
    assert {tr.exit_cents for tr in result.trades if tr.reason is CloseReason.END_OF_DATA} == {95}  # last bid


def held_b(book_at_hour_2: tuple[int | None, int | None]) -> dict[str, list[Bar]]:
    """The scenario with B's hour-2 book replaced and B ending at 96/97 (all five bought at 97 at hour 1;
    stop 94.09)."""
    history = scenario()
    history["KXB"][2:] = [bar(2, *book_at_hour_2), bar(3, 96, 97)]
    return history


def test_bid_below_the_stop_when_mid_above_it_then_held_as_the_live_monitor_holds() -> None:
    # Arrange: bid 93 is below the 94.09 stop, the 93/96 mid (94.5) is not
    book = (93, 96)
    assert Quotes(*book, None, None).two_sided_price("YES") == 94.5
    # Act
    by = {tr.ticker: tr for tr in run_backtest(held_b(book), config()).trades}
    # Assert
    assert by["KXB"].reason is CloseReason.END_OF_DATA


def test_one_sided_book_when_bid_below_the_stop_then_nothing_decided_in_that_bar() -> None:
    """A bar with no offer has no two-sided price: the monitor lists such a position under noQuote."""
    by = {tr.ticker: tr for tr in run_backtest(held_b((80, None)), config()).trades}
    assert (by["KXB"].reason, by["KXB"].exit_cents) == (CloseReason.END_OF_DATA, 96)  # hour 3's bid


@given(bid=st.one_of(st.none(), st.integers(1, 99)), ask=st.one_of(st.none(), st.integers(1, 99)))
def test_exit_price_when_any_book_then_the_live_monitors_two_sided_price(bid: int | None, ask: int | None) -> None:
    b = bar(0, bid, ask)
    if bid is not None and ask is not None and bid > ask:
        assert exit_price(b) is None  # a crossed bar is no price (marks refuse such quotes outright)
    else:
        assert exit_price(b) == Quotes(bid, ask, None, None).two_sided_price("YES")


def test_no_offer_when_signal_then_skipped_not_filled() -> None:
    history = scenario()
    history["KXA"][1] = Bar(end=T0 + timedelta(hours=1), yes_bid=95, yes_ask=None, volume=600.0, last=95)
    result = run_backtest(history, config())
    assert "KXA" not in {tr.ticker for tr in result.trades} or min(
        tr.entered_at for tr in result.trades if tr.ticker == "KXA") > T0 + timedelta(hours=1)


@pytest.mark.parametrize("bad", [
    {"capital": 0.0}, {"capital": float("nan")}, {"strategy": "weather"}, {"slippage_cents": -1},
    {"fair_probabilities": {"KXA": 1.0}}, {"fair_probabilities": {"KXA": 0}},
])
def test_invalid_config_then_refused_before_running(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidBacktest):
        run_backtest(scenario(), config(**bad))


def test_empty_or_unordered_history_then_refused() -> None:
    with pytest.raises(InvalidBacktest):
        run_backtest({"KXA": []}, config())
    with pytest.raises(InvalidBacktest):
        run_backtest({"KXA": [bar(2, 95, 96), bar(1, 95, 96)]}, config())


def test_metrics_when_no_trades_then_zeros() -> None:
    m = metrics([], 500.0)
    assert (m.trades, m.wins, m.pnl, m.expected_value, m.sharpe, m.max_drawdown) == (0, 0, 0.0, 0.0, 0.0, 0.0)


quote = st.one_of(st.none(), st.integers(1, 99))


@st.composite
def histories(draw: st.DrawFn) -> dict[str, list[Bar]]:
    """Mostly near-certain markets with tight books (so the barbell trades), with gaps, missing quotes,
    falls through the stop and thin periods mixed in."""
    tickers = draw(st.lists(st.sampled_from((*TICKERS, "KXF", "KXG")), min_size=3, max_size=7, unique=True))
    hours = draw(st.integers(1, 30))
    out: dict[str, list[Bar]] = {}
    for t in tickers:
        bars: list[Bar] = []
        for h in range(hours):
            if bars and draw(st.integers(0, 9)) == 0:
                continue  # no candle this period
            bid = draw(st.one_of(st.integers(93, 98), st.integers(93, 98), st.integers(60, 99)))
            ask = draw(st.one_of(st.integers(bid, min(bid + 3, 99)), st.integers(bid, min(bid + 3, 99)),
                                 st.none()))
            bars.append(bar(h, None if draw(st.integers(0, 19)) == 0 else bid, ask,
                            draw(st.floats(0, 3000))))
        out[t] = bars
    return out


@settings(max_examples=examples(150), deadline=None)
@given(history=histories(), fair=st.one_of(st.floats(0.97, 0.999), st.floats(0.5, 0.999)),
       slippage=st.integers(0, 3))
def test_any_history_then_metrics_consistent_positions_never_overlap_and_replay_identical(
        history: dict[str, list[Bar]], fair: float, slippage: int) -> None:
    cfg = config(fair_probabilities={t: fair for t in history}, slippage_cents=slippage)
    result = run_backtest(history, cfg)
    assert result == run_backtest(history, cfg)  # deterministic: same inputs, same result
    m = result.metrics
    assert 0 <= m.wins <= m.trades == len(result.trades)
    assert m.pnl == pytest.approx(sum(tr.pnl_usd for tr in result.trades), abs=1e-5)
    assert m.expected_value == pytest.approx(m.pnl / m.trades if m.trades else 0.0, abs=1e-5)
    assert 0.0 <= m.max_drawdown < 1.0
    for t in history:
        mine = sorted((tr.entered_at, tr.exited_at) for tr in result.trades if tr.ticker == t)
        assert all(a_exit <= b_entry for (_, a_exit), (b_entry, _) in itertools.pairwise(mine))
    for tr in result.trades:
        assert tr.entered_at <= tr.exited_at and 1 <= tr.entry_cents <= 99 and 0 <= tr.exit_cents <= 99
        assert tr.contracts >= 1


def test_record_id_when_exit_rule_changed_then_not_the_record_the_bid_rule_stored() -> None:
    """Re-running a backtest stored under the bid rule must not answer with that record's results (ADR 0323)."""
    from uuid import uuid5

    from paulp.domain.backtest import BacktestRecord
    from paulp.domain.namespace import PAULP_NAMESPACE

    args = ("bonding", "kalshi", "d" * 64, "f" * 64, 500.0, 1)
    bid_rule = uuid5(PAULP_NAMESPACE, "backtest/bonding/kalshi/" + "d" * 64 + "/" + "f" * 64 + "/500.0/1")
    assert BacktestRecord.create_id(*args) == BacktestRecord.create_id(*args) != bid_rule
