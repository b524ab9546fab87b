"""Backtests over recorded market history: the bonding strategy, the paper fill and the exit monitor's rules
replayed bar by bar, so a phase gate can ask whether the strategy made money on data it never saw live
(api-and-security §6.2 ``P2_BACKTEST_QUALITY``).

Pure: history, fair probabilities and configuration in, trades and metrics out. Nothing here knows files,
clocks or the log; the same inputs always give the same result (ADR 0265).
"""

from __future__ import annotations

import hashlib
import itertools
import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.canonical import canonical_json
from paulp.domain.clock import iso_utc
from paulp.domain.errors import DomainError
from paulp.domain.exits import ExitPricing, evaluate_exit, holding_hours
from paulp.domain.namespace import PAULP_NAMESPACE
from paulp.domain.order_workflow import requested_size_from_target
from paulp.domain.prices import prob_to_cents
from paulp.domain.strategies.bonding import allocate
from paulp.domain.strategies.bonding_signals import (
    CatalogueMarket,
    bond_candidates,
    bonding_signals,
    tail_candidates,
)

VOLUME_WINDOW = timedelta(hours=24)
EXIT_PRICE_RULE = "two-sided-mid"  # part of a record's identity: results under another exit price rule differ
MAX_CONTRACT_CENTS = 99


class InvalidBacktest(DomainError):
    """Raised for a backtest that cannot be run as asked (no bars, bad capital, a fair probability outside
    (0, 1)): refused before anything is computed or stored."""

    code = "INVALID_BACKTEST"


@dataclass(frozen=True)
class Bar:
    """One period of a market's history; quotes in cents (None = no bid / no offer in that period)."""

    end: datetime
    yes_bid: int | None
    yes_ask: int | None
    last: int | None = None
    volume: float = 0.0

    @property
    def mid(self) -> float | None:
        if self.yes_bid is not None and self.yes_ask is not None and self.yes_bid <= self.yes_ask:
            return (self.yes_bid + self.yes_ask) / 2
        return None


@dataclass(frozen=True)
class BacktestConfig:
    strategy: str
    capital: float
    slippage_cents: int = 1  # the paper policy's (execution_policy.POLICIES[PAPER])
    fair_probabilities: Mapping[str, float] = field(default_factory=dict)


class CloseReason(StrEnum):
    STOP_LOSS_HIT = "STOP_LOSS_HIT"
    TAKE_PROFIT_HIT = "TAKE_PROFIT_HIT"
    TIME_LIMIT_EXCEEDED = "TIME_LIMIT_EXCEEDED"
    END_OF_DATA = "END_OF_DATA"  # still open when the history ends: sold at the last bid seen (0 if none)


def exit_price(bar: Bar) -> float | None:
    """The price the exit rules judge a held YES position on in ``bar``, and book a fired rule at: the live
    monitor's (``Quotes.two_sided_price``, ADR 0305): the side's mid when it is both bid and offered, else None
    and nothing is decided in that bar. Paper exits are booked at that observed price (trading §3.5; ADR 0323)."""
    return bar.mid


@dataclass(frozen=True)
class Trade:
    ticker: str
    signal_type: str
    contracts: int
    entry_cents: int
    entered_at: datetime
    exit_cents: float  # a two-sided mid may be half a cent
    exited_at: datetime
    reason: CloseReason

    @property
    def pnl_usd(self) -> float:
        return (self.exit_cents - self.entry_cents) * self.contracts / 100

    @property
    def cost_usd(self) -> float:
        return self.entry_cents * self.contracts / 100


@dataclass(frozen=True)
class BacktestMetrics:
    trades: int
    wins: int
    pnl: float
    expected_value: float  # mean PnL per closed trade, USD (0 when nothing traded)
    sharpe: float  # mean / sample std of per-trade returns (PnL / cost); 0 under 2 trades or no dispersion
    max_drawdown: float  # largest fall of capital + realised PnL from its running peak, fraction of the peak


@dataclass(frozen=True)
class BacktestResult:
    period_start: datetime
    period_end: datetime
    scans: int
    signals: int
    skipped_no_offer: int
    trades: tuple[Trade, ...]
    metrics: BacktestMetrics


@dataclass
class _Open:
    ticker: str
    signal_type: str
    contracts: int
    entry_cents: int
    entered_at: datetime


def _as_of(bars: Sequence[Bar], t: datetime) -> Sequence[Bar]:
    """The bars ended by ``t``: a binary search, since bars are in strictly increasing time (``_check``)."""
    return bars[:bisect_right(bars, t, key=_end)]


def _end(bar: Bar) -> datetime:
    return bar.end


def catalogue_at(history: Mapping[str, Sequence[Bar]], t: datetime) -> list[CatalogueMarket]:
    """The catalogue the scan would have read at ``t``: markets with a bar in the last 24 h, priced as the
    live scan prices Kalshi's catalogue (two-sided mid, else last trade), volume summed over 24 h."""
    markets: list[CatalogueMarket] = []
    for ticker, bars in history.items():
        seen = _as_of(bars, t)
        recent = seen[bisect_right(seen, t - VOLUME_WINDOW, key=_end):]
        if not recent:
            continue
        last = seen[-1]
        mid = last.mid
        cents = mid if mid is not None else last.last
        if cents is None or not 0 < cents < 100:
            continue
        spread = (last.yes_ask - last.yes_bid) / 100 if mid is not None else 1.0  # type: ignore[operator]
        markets.append(CatalogueMarket(
            market_id=ticker, active=True, yes_price=cents / 100, average_spread=spread,
            peak_volume_24h=sum(b.volume for b in recent), volume=sum(b.volume for b in seen)))
    return markets


def _bar_at(bars: Sequence[Bar], t: datetime) -> Bar | None:
    seen = _as_of(bars, t)
    return seen[-1] if seen else None


def run_backtest(history: Mapping[str, Sequence[Bar]], config: BacktestConfig) -> BacktestResult:
    """Scan at every bar end in time order: first the exit rules on what is held, judged and booked at the
    two-sided mid as the live monitor judges and books paper exits (``exit_price``), then the strategy's
    signals on the catalogue as of that moment, each bought at the offer plus the paper slippage; at most one
    open position per market. Whatever is open when the history ends is sold at the last bid seen."""
    _check(history, config)
    times = sorted({b.end for bars in history.values() for b in bars})
    held: dict[str, _Open] = {}
    closed: list[Trade] = []
    signals = skipped = 0
    for t in times:
        for ticker, pos in list(held.items()):
            bar = _bar_at(history[ticker], t)
            price = None if bar is None or bar.end != t else exit_price(bar)
            if price is None:
                continue  # no new two-sided quote this period: nothing to act on (the monitor's noQuote)
            decision = evaluate_exit(pos.entry_cents, price, holding_hours(pos.entered_at, t), pos.contracts,
                                     ExitPricing.OBSERVED)
            if decision is not None:
                closed.append(_close(pos, decision.exit_price, t, CloseReason(decision.reason.value)))
                del held[ticker]
        found = _signals_at(history, config, t)
        signals += len(found)
        for ticker, signal_type, usd, price in found:
            if ticker in held:
                continue
            bar = _bar_at(history[ticker], t)
            if bar is None or bar.yes_ask is None:
                skipped += 1
                continue
            fill = min(bar.yes_ask + config.slippage_cents, MAX_CONTRACT_CENTS)
            limit = prob_to_cents(price)
            contracts = requested_size_from_target(usd, limit) if 1 <= limit <= 99 else 0
            if contracts >= 1:
                held[ticker] = _Open(ticker, signal_type, contracts, fill, t)
    for ticker, pos in held.items():
        bids = [b for b in history[ticker] if b.yes_bid is not None and b.end >= pos.entered_at]
        exit_cents, at = (bids[-1].yes_bid or 0, bids[-1].end) if bids else (0, times[-1])
        closed.append(_close(pos, exit_cents, max(at, pos.entered_at), CloseReason.END_OF_DATA))
    closed.sort(key=lambda tr: (tr.exited_at, tr.ticker))
    return BacktestResult(times[0], times[-1], len(times), signals, skipped, tuple(closed),
                          metrics(closed, config.capital))


def _signals_at(history: Mapping[str, Sequence[Bar]], config: BacktestConfig,
                t: datetime) -> list[tuple[str, str, float, float]]:
    catalogue = catalogue_at(history, t)
    allocation = allocate(config.capital, bond_candidates(catalogue), tail_candidates(catalogue))
    return [(s.market_id, s.signal_type, s.target_size, s.market_price)
            for s in bonding_signals(allocation, t, config.fair_probabilities)]


def _close(pos: _Open, exit_cents: float, at: datetime, reason: CloseReason) -> Trade:
    return Trade(pos.ticker, pos.signal_type, pos.contracts, pos.entry_cents, pos.entered_at, exit_cents, at,
                 reason)


def _check(history: Mapping[str, Sequence[Bar]], config: BacktestConfig) -> None:
    if config.strategy != "bonding":
        raise InvalidBacktest(f"no backtest is defined for strategy {config.strategy!r} (only bonding)")
    if not math.isfinite(config.capital) or config.capital <= 0:
        raise InvalidBacktest(f"capital must be a positive number, got {config.capital}")
    if config.slippage_cents < 0:
        raise InvalidBacktest(f"slippage must not be negative, got {config.slippage_cents}")
    for ticker, p in config.fair_probabilities.items():
        if not (isinstance(p, int | float) and 0 < p < 1):
            raise InvalidBacktest(f"fair probability for {ticker} must be in (0, 1), got {p!r}")
    if not any(history.values()):
        raise InvalidBacktest("the history has no bars")
    for ticker, bars in history.items():
        if any(a.end >= b.end for a, b in itertools.pairwise(bars)):
            raise InvalidBacktest(f"bars of {ticker} are not in strictly increasing time order")


def metrics(trades: Iterable[Trade], capital: float) -> BacktestMetrics:
    done = sorted(trades, key=lambda tr: (tr.exited_at, tr.ticker))
    pnls = [tr.pnl_usd for tr in done]
    returns = [tr.pnl_usd / tr.cost_usd for tr in done if tr.cost_usd > 0]
    total = math.fsum(pnls)
    return BacktestMetrics(
        trades=len(done), wins=sum(1 for p in pnls if p > 0), pnl=round(total, 6),
        expected_value=round(total / len(done), 6) if done else 0.0,
        sharpe=round(_sharpe(returns), 6), max_drawdown=round(_max_drawdown(pnls, capital), 6))


def _sharpe(returns: Sequence[float]) -> float:
    if len(returns) < 2:
        return 0.0
    mean = math.fsum(returns) / len(returns)
    var = math.fsum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    return mean / math.sqrt(var) if var > 0 else 0.0


def _max_drawdown(pnls: Sequence[float], capital: float) -> float:
    equity = peak = capital
    worst = 0.0
    for p in pnls:
        equity += p
        peak = max(peak, equity)
        if peak > 0:
            worst = max(worst, (peak - equity) / peak)
    return worst


class BacktestRecord(Aggregate):
    """A completed backtest as the gates read it (api-and-security "Gate inputs: backtest results").

    Its id is derived from what was run (strategy, name, the data's and the fair probabilities' hashes,
    capital, slippage): re-running the same backtest finds the record instead of storing a second copy, so
    repeating a good run cannot move the 30-day mean the gate takes."""

    class Completed(Aggregate.Created):
        strategy: str
        name: str
        period_start: datetime
        period_end: datetime
        trades: int
        wins: int
        pnl: float
        expected_value: float
        sharpe: float
        max_drawdown: float
        completed_at: datetime
        data_hash: str
        fair_hash: str
        capital: float
        slippage_cents: int
        scans: int
        signals: int
        skipped_no_offer: int
        trade_log: list[dict[str, Any]]

    @staticmethod
    def create_id(strategy: str, name: str, data_hash: str, fair_hash: str, capital: float,
                  slippage_cents: int) -> UUID:
        """Exits judged at the mid give another result from the same inputs than the bid did (ADR 0323): a run
        now is a new record, not the one the bid rule stored."""
        return uuid5(PAULP_NAMESPACE, f"backtest/{strategy}/{name}/{data_hash}/{fair_hash}/{capital!r}/"
                                      f"{slippage_cents}/exits-at-{EXIT_PRICE_RULE}")

    @event(Completed)
    def __init__(self, strategy: str, name: str, period_start: datetime, period_end: datetime, trades: int,
                 wins: int, pnl: float, expected_value: float, sharpe: float, max_drawdown: float,
                 completed_at: datetime, data_hash: str, fair_hash: str, capital: float, slippage_cents: int,
                 scans: int, signals: int, skipped_no_offer: int, trade_log: list[dict[str, Any]]) -> None:
        self.strategy, self.name = strategy, name
        self.trades, self.wins, self.pnl, self.expected_value = trades, wins, pnl, expected_value
        self.completed_at = completed_at


def fair_hash(fair: Mapping[str, float]) -> str:
    """SHA-256 of the fair probabilities' canonical JSON (the empty mapping included)."""
    return hashlib.sha256(canonical_json(dict(fair)).encode()).hexdigest()


def new_record(result: BacktestResult, config: BacktestConfig, name: str, data_hash: str,
               completed_at: datetime) -> BacktestRecord:
    m = result.metrics
    log = [{"ticker": t.ticker, "signalType": t.signal_type, "contracts": t.contracts,
            "entryCents": t.entry_cents, "enteredAt": iso_utc(t.entered_at), "exitCents": t.exit_cents,
            "exitedAt": iso_utc(t.exited_at), "reason": t.reason.value, "pnl": round(t.pnl_usd, 6)}
           for t in result.trades]
    fh = fair_hash(config.fair_probabilities)
    return BacktestRecord(
        strategy=config.strategy, name=name, period_start=result.period_start, period_end=result.period_end,
        trades=m.trades, wins=m.wins, pnl=m.pnl, expected_value=m.expected_value, sharpe=m.sharpe,
        max_drawdown=m.max_drawdown, completed_at=completed_at, data_hash=data_hash, fair_hash=fh,
        capital=config.capital, slippage_cents=config.slippage_cents, scans=result.scans,
        signals=result.signals, skipped_no_offer=result.skipped_no_offer, trade_log=log)
