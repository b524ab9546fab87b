"""Price semantics (trading spec §0, §4.7): one canonical probability view of every venue's quotes.

CLV and strategies consume only normalised values, so venue mechanics (token pairs, order books,
fees, void risk) are resolved here once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import TypeVar

from paulp.domain.exact import as_written_decimal as _d

KALSHI_TAKER_FEE_BPS = 107
MISSING_QUOTE_CENTS = 50
# Kalshi reports an empty side of a book as a bid of 0 and an ask of 100 cents: neither is a price (§0: 1..99).
NO_BID_CENTS = 0
NO_ASK_CENTS = 100
# A book with an empty side, as a spread check reads it: the whole 0..100 range (fail closed; ADR 0305).
NO_QUOTE_SPREAD = 1.0
_Cents = TypeVar("_Cents", int, float)


def half_up(x: float) -> int:
    """Round half up, ``floor(x + 0.5)`` in binary floating point (spec §0; never banker's rounding)."""
    return math.floor(x + 0.5)


def cents_to_prob(cents: float) -> float:
    """Venue cents to probability."""
    return cents / 100


def prob_to_cents(prob: float) -> int:
    """Probability to venue cents: ``floor(prob*100 + 0.5)`` evaluated in binary floating point."""
    return half_up(prob * 100)


def fixed(value: float, places: int) -> str:
    """Format like JavaScript's ``toFixed``: exact binary value, ties away from zero."""
    quantum = Decimal(1).scaleb(-places)
    return str(Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP))


def venue_quote(cents: _Cents | None) -> _Cents | None:
    """A venue quote as the domain reads it: None when that side of the book is empty (ADR 0305).

    The one reading of Kalshi's empty side (bid 0, ask 100) for every place quotes enter: marks, exits,
    execution (paper fills, limit prices, spread checks), backtests. Values outside 0..100 are left for the
    caller's own validation to refuse."""
    if cents is None or cents in (NO_BID_CENTS, NO_ASK_CENTS):
        return None
    return cents


def execution_mid(bid: float | None, ask: float | None) -> float:
    """Mid for execution (§5.3): a missing side counts as 50 cents."""
    safe_bid = MISSING_QUOTE_CENTS if bid is None else bid
    safe_ask = MISSING_QUOTE_CENTS if ask is None else ask
    return (safe_bid + safe_ask) / 2


class Mechanics(StrEnum):
    BINARY_TOKEN = "binary_token"  # noqa: S105 - a mechanics name, not a secret
    ORDERBOOK_BINARY = "orderbook_binary"
    MULTI_OUTCOME = "multi_outcome"
    FEE_ADJUSTED = "fee_adjusted"
    VOID_RISK = "void_risk"


class ClvBasis(StrEnum):
    P_MID = "p_mid"
    P_YES = "p_yes"
    LAST_TRADE = "last_trade"


@dataclass(frozen=True)
class RawPrice:
    """Quotes as a venue gives them, in probability units; which fields matter depends on mechanics."""

    mechanics: str
    yes_price: float | None = None
    no_price: float | None = None
    yes_bid: float | None = None
    yes_ask: float | None = None
    no_bid: float | None = None
    no_ask: float | None = None
    outcome_prices: tuple[float, ...] | None = None
    taker_fee_bps: float | None = None
    void_probability: float | None = None


@dataclass(frozen=True)
class NormalizedPrice:
    p_yes: float
    p_no: float
    p_mid: float
    spread: float
    vig: float
    clv_basis: ClvBasis
    is_valid: bool
    warnings: tuple[str, ...]


def _invalid(warning: str) -> NormalizedPrice:
    return NormalizedPrice(0.5, 0.5, 0.5, 0.0, 0.0, ClvBasis.P_MID, False, (warning,))


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _binary_token(raw: RawPrice) -> NormalizedPrice:
    y, n = _or(raw.yes_price, 0.5), _or(raw.no_price, 0.5)
    total_d = _d(y) + _d(n)
    total = float(total_d)
    warnings: list[str] = []
    if total_d < Decimal("0.98"):
        warnings.append(f"Token sum {fixed(total, 4)} < 0.98: potential arbitrage")
    elif total_d > Decimal("1.02"):
        warnings.append(f"Token sum {fixed(total, 4)} > 1.02: high vig")
    return NormalizedPrice(
        p_yes=y, p_no=n, p_mid=(y + (1 - n)) / 2, spread=float(abs(_d(y) - (1 - _d(n)))), vig=float(total_d - 1),
        clv_basis=ClvBasis.P_MID, is_valid=Decimal("0.98") <= total_d <= Decimal("1.05"), warnings=tuple(warnings),
    )


def _orderbook_binary(raw: RawPrice) -> NormalizedPrice:
    yb, ya = _or(raw.yes_bid, 0.0), _or(raw.yes_ask, 1.0)
    nb, na = _or(raw.no_bid, 0.0), _or(raw.no_ask, 1.0)
    warnings: list[str] = []
    if yb > ya:
        warnings.append("YES bid > ask: crossed book")
    if nb > na:
        warnings.append("NO bid > ask: crossed book")
    asks = _d(ya) + _d(na)
    if asks < 1:
        warnings.append(f"YES ask + NO ask = {fixed(float(asks), 4)} < 1.0: potential arbitrage")
    p_yes, p_no = (yb + ya) / 2, (nb + na) / 2
    spread = _d(ya) - _d(yb)
    return NormalizedPrice(
        p_yes=p_yes, p_no=p_no, p_mid=(p_yes + (1 - p_no)) / 2, spread=float(spread), vig=p_yes + p_no - 1.0,
        clv_basis=ClvBasis.P_MID, is_valid=yb <= ya and nb <= na and spread < Decimal("0.20"),
        warnings=tuple(warnings),
    )


def _multi_outcome(raw: RawPrice) -> NormalizedPrice:
    prices: Sequence[float] = raw.outcome_prices or ()
    if len(prices) < 2:
        return _invalid(f"Multi-outcome market with {len(prices)} outcomes")
    total_d = sum((_d(p) for p in prices), Decimal(0))
    if total_d <= 0:
        # Nothing to normalise by (a new market quoting every outcome at 0 divided by zero): |sum - 1| >= 1 is
        # invalid under §4.7 anyway, so it takes the invalid 0.5/0.5 shape of the table's other degenerate rows.
        return _invalid(f"Multi-outcome sum {fixed(float(total_d), 4)} cannot be normalised")
    total = float(total_d)
    best = max(p / total for p in prices)
    off = abs(total_d - 1)
    warnings = (f"Multi-outcome sum {fixed(total, 4)} deviates >5% from 1.0",) if off > Decimal("0.05") else ()
    return NormalizedPrice(
        p_yes=best, p_no=1 - best, p_mid=best, spread=0.0, vig=float(total_d - 1),
        clv_basis=ClvBasis.P_YES, is_valid=off <= Decimal("0.10"), warnings=warnings,
    )


def _fee_adjusted(raw: RawPrice) -> NormalizedPrice:
    yb, ya = _or(raw.yes_bid, 0.0), _or(raw.yes_ask, 1.0)
    fee_d = _d(_or(raw.taker_fee_bps, KALSHI_TAKER_FEE_BPS)) / 10000
    fee = float(fee_d)
    effective_ask, effective_bid = _d(ya) + fee_d, _d(yb) - fee_d
    mid = (yb + ya) / 2
    warnings = (f"Effective YES ask {fixed(float(effective_ask), 4)} > 1.0 after fees",) if effective_ask > 1 else ()
    return NormalizedPrice(
        p_yes=mid, p_no=1 - mid, p_mid=mid, spread=float(_d(ya) - _d(yb) + 2 * fee_d), vig=2 * fee,
        clv_basis=ClvBasis.P_MID, is_valid=effective_bid >= 0 and effective_ask <= Decimal("1.05"), warnings=warnings,
    )


def _void_risk(raw: RawPrice) -> NormalizedPrice:
    v = _or(raw.void_probability, 0.0)
    y, n = _or(raw.yes_price, 0.5), _or(raw.no_price, 0.5)
    warnings = (f"High void probability: {fixed(v * 100, 1)}%",) if v > 0.1 else ()
    p_yes, p_no = y * (1 - v), n * (1 - v)
    return NormalizedPrice(
        p_yes=p_yes, p_no=p_no, p_mid=(p_yes + p_no) / 2, spread=abs(y - (1 - n)), vig=y + n - 1.0,
        clv_basis=ClvBasis.P_MID, is_valid=v < 0.5, warnings=warnings,
    )


_NORMALIZERS = {
    Mechanics.BINARY_TOKEN: _binary_token,
    Mechanics.ORDERBOOK_BINARY: _orderbook_binary,
    Mechanics.MULTI_OUTCOME: _multi_outcome,
    Mechanics.FEE_ADJUSTED: _fee_adjusted,
    Mechanics.VOID_RISK: _void_risk,
}


def normalize_price(raw: RawPrice) -> NormalizedPrice:
    """Canonical view of one market's quotes; unknown mechanics give an invalid 0.5/0.5 price."""
    try:
        mechanics = Mechanics(raw.mechanics)
    except ValueError:
        return _invalid(f"Unknown mechanics type: {raw.mechanics}")
    numbers = [raw.yes_price, raw.no_price, raw.yes_bid, raw.yes_ask, raw.no_bid, raw.no_ask, raw.taker_fee_bps,
               raw.void_probability, *(raw.outcome_prices or ())]
    if any(v is not None and not math.isfinite(v) for v in numbers):
        return _invalid("Non-finite price input")  # fail closed: the decimal bands cannot judge NaN/inf
    return _NORMALIZERS[mechanics](raw)


def detect_mechanics(venue: str, has_orderbook: bool, outcome_count: int, void_history: bool) -> Mechanics:
    """Classify a market (§4.7 order: void history, >2 outcomes, kalshi, order book, token pair)."""
    if void_history:
        return Mechanics.VOID_RISK
    if outcome_count > 2:
        return Mechanics.MULTI_OUTCOME
    if venue == "kalshi":
        return Mechanics.FEE_ADJUSTED
    if has_orderbook:
        return Mechanics.ORDERBOOK_BINARY
    return Mechanics.BINARY_TOKEN
