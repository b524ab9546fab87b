"""Position reconciliation (trading §7): internal fills against what the venue says we hold.

Keys are ``(marketId, SIDE)`` tuples: the source joined them with '-' and split on the first '-',
which truncated every ticker that itself contains '-' (normative resolution of §7).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from paulp.domain.errors import DomainError
from paulp.domain.order_states import OrderState

CRITICAL_PCT = 5.0
MAJOR_PCT = 2.0
MINOR_PCT = 0.1

# Orders that still hold a position: FILLED leaves the set on reconciliation, so counting only
# FILLED would turn every reconciled order into a venue orphan (normative resolution of §7).
POSITION_HOLDING_STATES = frozenset({OrderState.FILLED, OrderState.RECONCILED, OrderState.RECONCILIATION_DRIFT})

PositionKey = tuple[str, str]


class InvalidPosition(DomainError):
    """Raised when a position or filled order has no market, an unknown side or a negative size."""

    code = "INVALID_POSITION"


class DriftSeverity(StrEnum):
    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


class RunStatus(StrEnum):
    OK = "ok"
    DRIFT_DETECTED = "drift_detected"
    MAJOR_DRIFT = "major_drift"
    CRITICAL_DRIFT = "critical_drift"


_STATUS_FOR = {
    DriftSeverity.CRITICAL: RunStatus.CRITICAL_DRIFT,
    DriftSeverity.MAJOR: RunStatus.MAJOR_DRIFT,
    DriftSeverity.MINOR: RunStatus.DRIFT_DETECTED,
    DriftSeverity.NONE: RunStatus.OK,
}
_RANK = {s: i for i, s in enumerate(DriftSeverity)}


def position_key(market_id: str, side: str) -> PositionKey:
    """Normalise a key: venues report side in lower case, the lifecycle in upper case."""
    norm = side.strip().upper()
    if not market_id or norm not in ("YES", "NO"):
        raise InvalidPosition(f"bad position key ({market_id!r}, {side!r})")
    return market_id, norm


@dataclass(frozen=True)
class Position:
    market_id: str
    side: str
    size: float
    avg_price: float | None = None

    @property
    def key(self) -> PositionKey:
        return position_key(self.market_id, self.side)


@dataclass(frozen=True)
class FilledOrder:
    """What reconciliation needs of an order: its market, side, state and fill."""

    market_id: str
    side: str
    state: str
    filled_size: float
    avg_fill_price: float | None


@dataclass(frozen=True)
class PositionDrift:
    market_id: str
    side: str
    internal_size: float
    venue_size: float
    drift: float
    drift_pct: float
    severity: DriftSeverity

    def to_dict(self) -> dict[str, Any]:
        return {
            "marketId": self.market_id,
            "side": self.side,
            "internalSize": self.internal_size,
            "venueSize": self.venue_size,
            "drift": self.drift,
            "driftPct": self.drift_pct,
            "severity": self.severity.value,
        }


@dataclass(frozen=True)
class ReconciliationRun:
    internal_count: int
    venue_count: int
    drifts: tuple[PositionDrift, ...]

    @property
    def matched(self) -> int:
        return sum(d.severity is DriftSeverity.NONE for d in self.drifts)

    @property
    def recorded_drifts(self) -> tuple[PositionDrift, ...]:
        """The drifts a run records: every key whose severity is not none."""
        return tuple(d for d in self.drifts if d.severity is not DriftSeverity.NONE)

    @property
    def drift_count(self) -> int:
        return len(self.recorded_drifts)

    @property
    def total_absolute_drift(self) -> float:
        return sum(abs(d.drift) for d in self.drifts)

    @property
    def max_drift_pct(self) -> float:
        return max((abs(d.drift_pct) for d in self.drifts), default=0.0)

    @property
    def status(self) -> RunStatus:
        return run_status(d.severity for d in self.drifts)

    @property
    def alert_severity(self) -> str | None:
        """Alert for the risk governor: critical drift → critical, major → warning (breaker per §2.3)."""
        return alert_for(self.status)


def drift_pct(internal: float, venue: float) -> float:
    """Signed drift in percent of the internal size; an orphan venue position counts as 100 %."""
    if internal > 0:
        return (venue - internal) / internal * 100
    return 100.0 if venue > 0 else 0.0


def drift_severity(pct: float) -> DriftSeverity:
    magnitude = abs(pct)
    if magnitude >= CRITICAL_PCT:
        return DriftSeverity.CRITICAL
    if magnitude >= MAJOR_PCT:
        return DriftSeverity.MAJOR
    if magnitude > MINOR_PCT:
        return DriftSeverity.MINOR
    return DriftSeverity.NONE


def run_status(severities: Iterable[DriftSeverity | str]) -> RunStatus:
    worst = max((DriftSeverity(s) for s in severities), key=_RANK.__getitem__, default=DriftSeverity.NONE)
    return _STATUS_FOR[worst]


def alert_for(status: RunStatus) -> str | None:
    if status is RunStatus.CRITICAL_DRIFT:
        return "critical"
    if status is RunStatus.MAJOR_DRIFT:
        return "warning"
    return None


def compare(market_id: str, side: str, internal: float, venue: float) -> PositionDrift:
    """Severity by |driftPct| (§7), except that a size that is not a whole number of contracts is critical
    whatever its percentage: our orders hold whole contracts, so no position of ours can be one (ADR 0331)."""
    pct = drift_pct(internal, venue)
    fraction = not (float(internal).is_integer() and float(venue).is_integer())
    severity = DriftSeverity.CRITICAL if fraction else drift_severity(pct)
    return PositionDrift(market_id, side, internal, venue, venue - internal, pct, severity)


def _sizes(positions: Iterable[Position]) -> dict[PositionKey, float]:
    sizes: dict[PositionKey, float] = {}
    for p in positions:
        if p.size < 0:
            raise InvalidPosition(f"negative size {p.size} for {p.market_id}")
        sizes[p.key] = sizes.get(p.key, 0.0) + p.size
    return sizes


def reconcile(internal_positions: Sequence[Position], venue_positions: Sequence[Position]) -> ReconciliationRun:
    """Compare every key of the union; the caller skips the run when a fetch failed (flagged in §7)."""
    internal = _sizes(internal_positions)
    venue = _sizes(venue_positions)
    drifts = tuple(
        compare(key[0], key[1], internal.get(key, 0.0), venue.get(key, 0.0))
        for key in sorted(internal.keys() | venue.keys())
    )
    return ReconciliationRun(len(internal_positions), len(venue_positions), drifts)


def internal_positions(orders: Iterable[FilledOrder]) -> list[Position]:
    """Group position-holding orders by key: size Σ filled, average price weighted by size."""
    totals: dict[PositionKey, tuple[float, float, bool]] = {}
    for order in orders:
        if order.state not in POSITION_HOLDING_STATES or order.filled_size <= 0:
            continue
        key = position_key(order.market_id, order.side)
        size, notional, priced = totals.get(key, (0.0, 0.0, True))
        price = order.avg_fill_price
        totals[key] = (
            size + order.filled_size,
            notional + (price or 0.0) * order.filled_size,
            priced and price is not None,
        )
    return [
        Position(key[0], key[1], size, notional / size if priced else None)
        for key, (size, notional, priced) in sorted(totals.items())
    ]
