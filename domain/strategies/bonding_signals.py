"""Bonding + barbell candidates from the market catalogue and signals from an allocation (trading §6.1)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from paulp.domain.ids import helper_signal_id
from paulp.domain.sizing import kelly_size
from paulp.domain.strategies.bonding import (
    BarbellAllocation,
    BarbellConfig,
    Bond,
    BondQuote,
    Tail,
    TailType,
    filter_bonds,
    payoff_multiple,
    tail_type,
)

STRATEGY = "bonding_barbell"
VENUE = "kalshi"  # the source forces every barbell candidate onto Kalshi
SIGNAL_TTL = timedelta(hours=24)
BOND_CANDIDATE_LIMIT = 50
TAIL_CANDIDATE_LIMIT = 30
MAX_TAIL_PRICE = 0.20
MIN_TAIL_VOLUME = 500.0
TAIL_CATEGORIES = frozenset({"politics", "economics", "weather", "geopolitics"})
TAIL_DESCRIPTION_WORDS = ("crisis", "emergency", "war", "collapse")
TAIL_FAIR_MULTIPLIER = 1.5
MAX_BOND_KELLY_PCT = 20.0
MAX_TAIL_KELLY_PCT = 40.0


@dataclass(frozen=True)
class CatalogueMarket:
    market_id: str
    active: bool
    yes_price: float
    average_spread: float
    peak_volume_24h: float
    volume: float
    category: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class BondingSignal:
    signal_id: str
    market_id: str
    signal_type: str  # bond | tail
    tail_type: TailType | None
    target_size: float
    kelly_fraction: float
    expected_edge: float
    market_price: float
    fair_probability: float
    confidence: float
    created_at: datetime
    expires_at: datetime
    metadata: Mapping[str, float | bool] = field(default_factory=dict)
    strategy: str = STRATEGY
    venue: str = VENUE
    side: str = "YES"


def bond_candidates(
    catalogue: Iterable[CatalogueMarket], config: BarbellConfig = BarbellConfig()
) -> list[Bond]:
    """Top 50 active near-certain markets by volume, then the bond filter (best yield first)."""
    eligible = [
        m
        for m in catalogue
        if m.active
        and m.yes_price >= config.min_bond_probability
        and m.average_spread < 0.05
        and m.peak_volume_24h > 1000
    ]
    top = sorted(eligible, key=lambda m: m.volume, reverse=True)[:BOND_CANDIDATE_LIMIT]
    quotes = [BondQuote(m.market_id, VENUE, m.yes_price, m.peak_volume_24h, m.average_spread) for m in top]
    return filter_bonds(quotes, config)


def _tail_eligible(m: CatalogueMarket) -> bool:
    themed = m.category.lower() in TAIL_CATEGORIES or any(
        w in m.description.lower() for w in TAIL_DESCRIPTION_WORDS
    )
    return m.active and m.yes_price < MAX_TAIL_PRICE and m.volume > MIN_TAIL_VOLUME and themed


def tail_candidates(catalogue: Iterable[CatalogueMarket]) -> list[Tail]:
    top = sorted(filter(_tail_eligible, catalogue), key=lambda m: m.volume, reverse=True)
    return [
        Tail(m.market_id, m.yes_price, tail_type(m.description, m.tags, m.category), payoff_multiple(m.yes_price))
        for m in top[:TAIL_CANDIDATE_LIMIT]
    ]


def bonding_signals(
    allocation: BarbellAllocation,
    now: datetime,
    fair_probabilities: Mapping[str, float] | None = None,
    historical_returns: Sequence[float] | None = None,
) -> list[BondingSignal]:
    """Bonds need a supplied fair probability to show edge; tails are always emitted.

    An invalid allocation emits nothing (the spec's recommendation; the source emitted anyway).
    """
    if not allocation.is_valid:
        return []
    fair = fair_probabilities or {}
    capital = allocation.total_capital
    meta: dict[str, float | bool] = {
        "herfindahlIndex": allocation.herfindahl_index,
        "eventHedgePct": allocation.event_hedge_pct,
        "barbellValid": allocation.is_valid,
    }
    iso = now.isoformat()
    signals: list[BondingSignal] = []
    for bp in allocation.bond_positions:
        p = bp.bond.probability
        f = fair.get(bp.bond.market_id, p)
        k = kelly_size(f, p, "YES", capital, MAX_BOND_KELLY_PCT, historical_returns)
        if k.has_edge:
            sid = helper_signal_id(STRATEGY, bp.bond.market_id, VENUE, "YES", "BUY", iso)
            signals.append(
                BondingSignal(sid, bp.bond.market_id, "bond", None, bp.allocation, k.adjusted_fraction,
                              k.expected_edge, p, f, k.confidence_adjustment, now, now + SIGNAL_TTL, meta)
            )
    for tp in allocation.tail_positions:
        p = tp.tail.probability
        f = fair.get(tp.tail.market_id, p * TAIL_FAIR_MULTIPLIER)
        k = kelly_size(f, p, "YES", capital, MAX_TAIL_KELLY_PCT, historical_returns)
        sid = helper_signal_id(STRATEGY, tp.tail.market_id, VENUE, "YES", "BUY", iso)
        signals.append(
            BondingSignal(sid, tp.tail.market_id, "tail", tp.tail.tail_type, tp.allocation, k.adjusted_fraction,
                          k.expected_edge, p, f, k.confidence_adjustment, now, now + SIGNAL_TTL, meta)
        )
    return signals
