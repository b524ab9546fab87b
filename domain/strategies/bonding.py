"""Bonding + barbell strategy (trading §6.1): near-certain bonds funded 90 %, cheap tails 10 %."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from paulp.domain.errors import DomainError
from paulp.domain.exact import as_written
from paulp.domain.exact import as_written_decimal as _dec
from paulp.domain.exact import herfindahl as exact_herfindahl

MAX_SPREAD = 0.05
MIN_BOND_VOLUME = 1000.0
MAX_PAYOFF_MULTIPLE = 50.0
TAIL_WIN_PROBABILITY = 0.1  # expected-return model: a tail pays off one time in ten
BOND_LOSS_FRACTION = 0.1  # drawdown model: a bond loses a tenth of its allocation
EVENT_HEDGE_WORDS = ("war", "crisis", "default", "collapse", "disaster", "emergency", "shutdown")
REGIME_WORDS = ("fed", "interest rate", "recession", "inflation", "gdp", "unemployment", "macro")


class TailType(StrEnum):
    EVENT_HEDGE = "event_hedge"
    REGIME_TAIL = "regime_tail"
    DIVERSIFIER = "diversifier"


class InvalidBarbellConfig(DomainError):
    """Raised when bucket percentages or caps are outside 0..100 or capital is negative."""

    code = "INVALID_BARBELL_CONFIG"


@dataclass(frozen=True)
class BarbellConfig:
    bond_pct: float = 90.0
    tail_pct: float = 10.0
    min_bond_probability: float = 0.93
    min_event_hedge_pct: float = 30.0
    max_herfindahl: float = 0.25
    max_single_bond_pct: float = 20.0
    max_single_tail_pct: float = 40.0

    def __post_init__(self) -> None:
        pcts = (self.bond_pct, self.tail_pct, self.max_single_bond_pct, self.max_single_tail_pct)
        if any(not 0 <= p <= 100 for p in pcts):
            raise InvalidBarbellConfig(f"percentages must be within 0..100: {pcts}")


@dataclass(frozen=True)
class BondQuote:
    market_id: str
    venue: str
    probability: float
    volume_24h: float
    spread: float


@dataclass(frozen=True)
class Bond:
    market_id: str
    probability: float
    expected_yield: float


@dataclass(frozen=True)
class Tail:
    market_id: str
    probability: float
    tail_type: TailType
    payoff_multiple: float


@dataclass(frozen=True)
class BondPosition:
    bond: Bond
    allocation: float


@dataclass(frozen=True)
class TailPosition:
    tail: Tail
    allocation: float


@dataclass(frozen=True)
class ExpectedReturn:
    bond_return: float
    tail_return: float
    total_return: float
    max_drawdown: float


@dataclass(frozen=True)
class BarbellAllocation:
    total_capital: float
    bond_allocation: float
    tail_allocation: float
    bond_positions: tuple[BondPosition, ...]
    tail_positions: tuple[TailPosition, ...]
    herfindahl_index: float
    event_hedge_pct: float
    validation_errors: tuple[str, ...]

    @property
    def is_valid(self) -> bool:
        return not self.validation_errors


def bond_yield(probability: float) -> float:
    return (1 - probability) / probability


def filter_bonds(quotes: Iterable[BondQuote], config: BarbellConfig = BarbellConfig()) -> list[Bond]:
    """Kalshi bonds at or above the floor with a tight spread and real volume, best yield first."""
    bonds = [
        Bond(q.market_id, q.probability, bond_yield(q.probability))
        for q in quotes
        if q.venue == "kalshi"
        and q.probability >= config.min_bond_probability
        and q.spread < MAX_SPREAD
        and q.volume_24h > MIN_BOND_VOLUME
    ]
    return sorted(bonds, key=lambda b: b.expected_yield, reverse=True)


def tail_type(description: str = "", tags: Sequence[str] = (), category: str = "") -> TailType:
    """Event hedges are read from description/tags only; regime words may also come from the category."""
    text = " ".join([description, *tags]).lower()
    if any(w in text for w in EVENT_HEDGE_WORDS):
        return TailType.EVENT_HEDGE
    if any(w in f"{text} {category.lower()}" for w in REGIME_WORDS):
        return TailType.REGIME_TAIL
    return TailType.DIVERSIFIER


def payoff_multiple(probability: float) -> float:
    if not 0 < probability < 1:
        return 1.0
    return min(1 / probability, MAX_PAYOFF_MULTIPLE)


def herfindahl(amounts: Sequence[float]) -> float:
    total = sum(amounts)
    if total <= 0:
        return 0.0
    return sum((a / total) ** 2 for a in amounts)


def _bucket(capital: float, pct: float) -> Decimal:
    return _dec(capital) * _dec(pct) / 100


def _fill(bucket: Decimal, cap_pct: float, count: int) -> list[Decimal]:
    """Give each item min(remaining, cap) until the bucket is spent; leftover stays undeployed. Counted in
    decimal: in binary 899.1 - 5 x 179.82 leaves 5.7e-14, which would open a sixth position (ADR 0343)."""
    cap, remaining, out = bucket * _dec(cap_pct) / 100, bucket, []
    for _ in range(count):
        if remaining <= 0:
            break
        amount = min(remaining, cap)
        out.append(amount)
        remaining -= amount
    return out


def allocate(
    capital: float, bonds: Sequence[Bond], tails: Sequence[Tail], config: BarbellConfig = BarbellConfig()
) -> BarbellAllocation:
    if capital < 0:
        raise InvalidBarbellConfig(f"capital must not be negative: {capital}")
    bond_exact, tail_exact = _bucket(capital, config.bond_pct), _bucket(capital, config.tail_pct)
    bond_bucket, tail_bucket = float(bond_exact), float(tail_exact)
    bond_amounts = _fill(bond_exact, config.max_single_bond_pct, len(bonds))
    bond_positions = tuple(BondPosition(b, float(a)) for b, a in zip(bonds, bond_amounts, strict=False))
    ordered = [t for t in tails if t.tail_type is TailType.EVENT_HEDGE]
    ordered += [t for t in tails if t.tail_type is not TailType.EVENT_HEDGE]
    tail_amounts = _fill(tail_exact, config.max_single_tail_pct, len(ordered))
    tail_positions = tuple(TailPosition(t, float(a)) for t, a in zip(ordered, tail_amounts, strict=False))
    # The HHI exactly (ADR 0459), the hedge share in decimal (ADR 0444): a hedge filling 40 % of a 19.7 bucket is
    # 40 %, not binary's 39.99999999999999, so a configured 40 % minimum is met.
    hhi_exact = exact_herfindahl(Fraction(a) for a in bond_amounts + tail_amounts) or Fraction(0)
    hedged = sum((a for t, a in zip(ordered, tail_amounts, strict=False) if t.tail_type is TailType.EVENT_HEDGE),
                 Decimal(0))
    hedge_exact = hedged / tail_exact * 100 if tail_exact > 0 else Decimal(0)
    hhi, hedge_pct = float(hhi_exact), float(hedge_exact)
    errors: list[str] = []
    if hhi_exact > as_written(config.max_herfindahl):
        errors.append(f"Herfindahl index {hhi:.4f} exceeds maximum {config.max_herfindahl}")
    if tails and hedge_exact < _dec(config.min_event_hedge_pct):
        errors.append(f"Event hedge {hedge_pct:.1f}% below minimum {config.min_event_hedge_pct}%")
    if not bond_positions:
        errors.append("No bond candidates available")
    return BarbellAllocation(
        capital, bond_bucket, tail_bucket, bond_positions, tail_positions, hhi, hedge_pct, tuple(errors)
    )


def validate(
    total_capital: float,
    bond_allocation: float,
    herfindahl_index: float,
    event_hedge_pct: float,
    bond_probabilities: Sequence[float],
    config: BarbellConfig = BarbellConfig(),
) -> list[str]:
    """Stand-alone check; unlike allocate it wants event hedges even when there are no tails."""
    errors: list[str] = []
    # Decimal (ADR 0444): 8 900 of 10 000 is 89 %, one point from 90, not a binary crumb past it.
    bond_exact = _dec(bond_allocation) / _dec(total_capital) * 100 if total_capital > 0 else Decimal(0)
    bond_pct = float(bond_exact)
    if abs(bond_exact - _dec(config.bond_pct)) > 1:
        errors.append(f"Bond allocation {bond_pct:.1f}% differs from target {config.bond_pct}%")
    if herfindahl_index > config.max_herfindahl:
        errors.append(f"Herfindahl index {herfindahl_index:.4f} exceeds maximum {config.max_herfindahl}")
    if event_hedge_pct < config.min_event_hedge_pct:
        errors.append(f"Event hedge {event_hedge_pct:.1f}% below minimum {config.min_event_hedge_pct}%")
    low = [p for p in bond_probabilities if p < config.min_bond_probability]
    if low:
        errors.append(f"{len(low)} bond(s) below minimum probability {config.min_bond_probability}")
    return errors


def expected_return(
    bonds: Sequence[tuple[float, float]], tails: Sequence[tuple[float, float]], capital: float
) -> ExpectedReturn:
    """Bonds as (allocation, yield), tails as (allocation, payoff multiple)."""
    bond_return = sum(a * y for a, y in bonds)
    win = TAIL_WIN_PROBABILITY
    tail_return = sum(win * a * m - (1 - win) * a for a, m in tails)
    exposed = BOND_LOSS_FRACTION * sum(a for a, _ in bonds) + sum(a for a, _ in tails)
    drawdown = exposed / capital if capital > 0 else 0.0
    return ExpectedReturn(bond_return, tail_return, bond_return + tail_return, drawdown)


def allocation_return(allocation: BarbellAllocation) -> ExpectedReturn:
    return expected_return(
        [(p.allocation, p.bond.expected_yield) for p in allocation.bond_positions],
        [(p.allocation, p.tail.payoff_multiple) for p in allocation.tail_positions],
        allocation.total_capital,
    )
