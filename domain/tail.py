"""Tail concentration (trading §3.6): how much of the tail book sits in a few markets."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

HHI_LIMIT = 0.3


@dataclass(frozen=True)
class TailConcentration:
    hhi: float
    max_pct: float
    count: int
    total_tail_value: float
    compliant: bool


def _probability(price: float | None) -> float | None:
    """Portfolio prices may arrive in cents; the thresholds are probabilities (normative: cents/100)."""
    if price is None:
        return None
    return price / 100.0 if price > 1 else price


def is_tail(size: float, price: float | None) -> bool:
    p = _probability(price)
    return size > 0 and (p is None or p < 0.2 or p > 0.8)


def tail_concentration(positions: Iterable[Mapping[str, Any]]) -> TailConcentration:
    """HHI over tail position sizes; compliant iff HHI < 0.3, an empty tail is compliant."""
    sizes = [
        float(p["size"])
        for p in positions
        if is_tail(float(p.get("size", 0)), p.get("currentPrice", p.get("price")))
    ]
    total = sum(sizes)
    if not sizes or total <= 0:
        return TailConcentration(0.0, 0.0, 0, 0.0, True)
    shares = [s / total for s in sizes]
    hhi = sum(s * s for s in shares)
    return TailConcentration(hhi, max(shares) * 100, len(sizes), total, hhi < HHI_LIMIT)
