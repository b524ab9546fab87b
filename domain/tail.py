"""Tail concentration (trading §3.6): how much of the tail book sits in a few markets."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from paulp.domain.exact import as_written, herfindahl

HHI_LIMIT = 0.3


@dataclass(frozen=True)
class TailConcentration:
    hhi: float
    max_pct: float
    count: int
    total_tail_value: float
    compliant: bool
    market_ids: tuple[str, ...] = ()


def _probability(price: float | None) -> float | None:
    """Portfolio prices may arrive in cents; the thresholds are probabilities (normative: cents/100)."""
    if price is None:
        return None
    return price / 100.0 if price > 1 else price


def is_tail(size: float, price: float | None) -> bool:
    p = _probability(price)
    return size > 0 and (p is None or p < 0.2 or p > 0.8)


def tail_concentration(positions: Iterable[Mapping[str, Any]], threshold: float = HHI_LIMIT) -> TailConcentration:
    """HHI over tail position sizes; compliant iff HHI < threshold (0.3), an empty tail is compliant."""
    tails = [
        (str(p.get("marketId", "")), float(p["size"]))
        for p in positions
        if is_tail(float(p.get("size", 0)), p.get("currentPrice", p.get("price")))
    ]
    if not all(math.isfinite(size) for _, size in tails):  # an unknown share is read as all of it: fail closed
        return TailConcentration(1.0, 100.0, len(tails), math.inf, False, tuple(m for m, _ in tails))
    exact = [as_written(size) for _, size in tails]
    total = sum(exact, Fraction(0))
    if not tails or total <= 0:
        return TailConcentration(0.0, 0.0, 0, 0.0, True)
    # Exact shares (ADR 0452): sizes 3, 9, 10, 16, 32 have an HHI of exactly 0.3, non-compliant; binary 0.2999…93.
    hhi = herfindahl(exact)
    assert hhi is not None  # total > 0 was checked above
    ids = tuple(m for m, _ in tails)
    compliant = hhi < as_written(threshold)
    return TailConcentration(float(hhi), float(max(exact) / total * 100), len(tails), float(total), compliant, ids)
