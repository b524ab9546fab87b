"""Governor position-drift check (trading §7, expected vs broker); feeds the breaker (§2.3).

Sizes are read exactly and the bands judged on the exact percentage, as reconciliation does (ADR 0362): with
floats, 3.15 held against 3 expected computed 4.99999 % and missed the 5 % halt."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

from paulp.domain.reconciliation import exact

CRITICAL_PCT = Fraction(5)
WARNING_PCT = Fraction(2)


class DriftSeverity(StrEnum):
    NONE = "none"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class PositionDrift:
    market_id: str
    side: str
    expected: float
    broker: float
    drift_pct: float
    severity: DriftSeverity


@dataclass(frozen=True)
class DriftReport:
    drifts: tuple[PositionDrift, ...]
    max_drift_pct: float
    critical_count: int
    warning_count: int

    @property
    def verified(self) -> bool:
        return self.critical_count == 0 and self.warning_count == 0

    @property
    def recommendation(self) -> str:
        if self.critical_count:
            return "HALT"
        return "CAUTION" if self.warning_count else "NORMAL"


def _key(p: Mapping[str, Any]) -> tuple[str, str]:
    return str(p["marketId"]), str(p.get("side", "")).upper()


def _severity(pct: Fraction) -> DriftSeverity:
    if pct >= CRITICAL_PCT:
        return DriftSeverity.CRITICAL
    if pct >= WARNING_PCT:
        return DriftSeverity.WARNING
    return DriftSeverity.NONE


def exact_drift_pct(expected: Fraction, broker: Fraction) -> Fraction:
    if expected > 0:
        return abs(expected - broker) * 100 / expected
    return Fraction(100 if broker > 0 else 0)


def drift_pct(expected: float, broker: float) -> float:
    return float(exact_drift_pct(Fraction(exact(expected)), Fraction(exact(broker))))


def check_drift(expected: Iterable[Mapping[str, Any]], broker: Iterable[Mapping[str, Any]]) -> DriftReport:
    """Orphan broker positions count as 100 % (the source left them out of the maximum)."""
    exp = {_key(p): Fraction(exact(p.get("size", 0))) for p in expected}
    brk = {_key(p): Fraction(exact(p.get("size", 0))) for p in broker}
    drifts: list[PositionDrift] = []
    for key in sorted(exp.keys() | brk.keys()):
        e, b = exp.get(key, Fraction(0)), brk.get(key, Fraction(0))
        if key not in exp and b <= 0:
            continue
        pct = exact_drift_pct(e, b)
        drifts.append(PositionDrift(key[0], key[1], float(e), float(b), float(pct), _severity(pct)))
    return DriftReport(
        drifts=tuple(drifts),
        max_drift_pct=max((d.drift_pct for d in drifts), default=0.0),
        critical_count=sum(d.severity is DriftSeverity.CRITICAL for d in drifts),
        warning_count=sum(d.severity is DriftSeverity.WARNING for d in drifts),
    )
