"""Governor position-drift check (trading §7, expected vs broker); feeds the breaker (§2.3)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

CRITICAL_PCT = 5.0
WARNING_PCT = 2.0


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


def _severity(pct: float) -> DriftSeverity:
    if pct >= CRITICAL_PCT:
        return DriftSeverity.CRITICAL
    if pct >= WARNING_PCT:
        return DriftSeverity.WARNING
    return DriftSeverity.NONE


def drift_pct(expected: float, broker: float) -> float:
    if expected > 0:
        return abs(expected - broker) / expected * 100
    return 100.0 if broker > 0 else 0.0


def check_drift(expected: Iterable[Mapping[str, Any]], broker: Iterable[Mapping[str, Any]]) -> DriftReport:
    """Orphan broker positions count as 100 % (the source left them out of the maximum)."""
    exp = {_key(p): float(p.get("size", 0)) for p in expected}
    brk = {_key(p): float(p.get("size", 0)) for p in broker}
    drifts: list[PositionDrift] = []
    for key in sorted(exp.keys() | brk.keys()):
        e, b = exp.get(key, 0.0), brk.get(key, 0.0)
        if key not in exp and b <= 0:
            continue
        pct = drift_pct(e, b)
        drifts.append(PositionDrift(key[0], key[1], e, b, pct, _severity(pct)))
    return DriftReport(
        drifts=tuple(drifts),
        max_drift_pct=max((d.drift_pct for d in drifts), default=0.0),
        critical_count=sum(d.severity is DriftSeverity.CRITICAL for d in drifts),
        warning_count=sum(d.severity is DriftSeverity.WARNING for d in drifts),
    )
