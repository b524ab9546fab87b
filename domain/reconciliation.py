"""Position reconciliation (trading §7): internal fills against what the venue says we hold.

Keys are ``(marketId, SIDE)`` tuples: the source joined them with '-' and split on the first '-',
which truncated every ticker that itself contains '-' (normative resolution of §7).

Sizes are exact ``Decimal`` contracts: Kalshi counts them in fixed point ("40.50", ADRs 0330/0331), and in
binary floating point 3.15 - 3 is 0.1499…, so a 5 % drift graded as major. Severity is decided on the exact
percentage (a ``Fraction``); the figures a run reports are turned into JSON numbers only at the edge
(``json_number``), so stored reports keep their shape (ADR 0362).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction
from typing import Any

from paulp.domain.errors import DomainError
from paulp.domain.exact import as_decimal
from paulp.domain.order_states import OrderState

CRITICAL_PCT = Fraction(5)
MAJOR_PCT = Fraction(2)
MINOR_PCT = Fraction(1, 10)
ZERO = Decimal(0)

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


Number = Decimal | int | float


def exact(value: Number | str) -> Decimal:
    """A size as the exact decimal it was written as: a float by its shortest repr (the text it was read from),
    never its binary expansion. Refused (``InvalidPosition``) when it is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        raise InvalidPosition(f"size {value!r} is not a number")
    try:
        number = as_decimal(value)
    except InvalidOperation:
        raise InvalidPosition(f"size {value!r} is not a number") from None
    if not number.is_finite():
        raise InvalidPosition(f"size {value!r} is not a finite number")
    return number


def json_number(value: Decimal) -> int | float:
    """A figure as a report shows it: a whole number as an int, else the nearest float."""
    return int(value) if value == value.to_integral_value() else float(value)


@dataclass(frozen=True)
class Position:
    market_id: str
    side: str
    size: Decimal
    avg_price: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", exact(self.size))

    @property
    def key(self) -> PositionKey:
        return position_key(self.market_id, self.side)


@dataclass(frozen=True)
class FilledOrder:
    """What reconciliation needs of an order: its market, side, state and fill."""

    market_id: str
    side: str
    state: str
    filled_size: Decimal
    avg_fill_price: float | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "filled_size", exact(self.filled_size))


@dataclass(frozen=True)
class PositionDrift:
    market_id: str
    side: str
    internal_size: Decimal
    venue_size: Decimal
    drift: Decimal
    drift_pct: Decimal
    severity: DriftSeverity

    def to_dict(self) -> dict[str, Any]:
        return {
            "marketId": self.market_id,
            "side": self.side,
            "internalSize": json_number(self.internal_size),
            "venueSize": json_number(self.venue_size),
            "drift": json_number(self.drift),
            "driftPct": json_number(self.drift_pct),
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
    def total_absolute_drift(self) -> Decimal:
        return sum((abs(d.drift) for d in self.drifts), ZERO)

    @property
    def max_drift_pct(self) -> Decimal:
        return max((abs(d.drift_pct) for d in self.drifts), default=ZERO)

    @property
    def status(self) -> RunStatus:
        return run_status(d.severity for d in self.drifts)

    @property
    def alert_severity(self) -> str | None:
        """Alert for the risk governor: critical drift → critical, major → warning (breaker per §2.3)."""
        return alert_for(self.status)


def exact_drift_pct(internal: Number, venue: Number) -> Fraction:
    """Signed drift in percent of the internal size, exactly; an orphan venue position counts as 100 %."""
    held, reported = Fraction(exact(internal)), Fraction(exact(venue))
    if held > 0:
        return (reported - held) * 100 / held
    return Fraction(100) if reported > 0 else Fraction(0)


def drift_pct(internal: Number, venue: Number) -> Decimal:
    """``exact_drift_pct`` as a Decimal (28 significant digits), for the report."""
    pct = exact_drift_pct(internal, venue)
    return Decimal(pct.numerator) / Decimal(pct.denominator)


def drift_severity(pct: Fraction | Number) -> DriftSeverity:
    """The §7 band of |driftPct|; a float is read as the decimal it prints as, so 4.99 is 4.99."""
    magnitude = abs(pct if isinstance(pct, Fraction) else Fraction(exact(pct)))
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


def compare(market_id: str, side: str, internal: Number, venue: Number) -> PositionDrift:
    """Severity by |driftPct| (§7) on the exact sizes: a fraction of a contract is graded like any other drift
    and a fractional position equal on both sides is matched (ADR 0362, replacing ADR 0331's "a fraction is
    critical")."""
    held, reported = exact(internal), exact(venue)
    severity = drift_severity(exact_drift_pct(held, reported))
    return PositionDrift(market_id, side, held, reported, reported - held, drift_pct(held, reported), severity)


def _sizes(positions: Iterable[Position]) -> dict[PositionKey, Decimal]:
    sizes: dict[PositionKey, Decimal] = {}
    for p in positions:
        if p.size < 0:
            raise InvalidPosition(f"negative size {p.size} for {p.market_id}")
        sizes[p.key] = sizes.get(p.key, ZERO) + p.size
    return sizes


def reconcile(internal_positions: Sequence[Position], venue_positions: Sequence[Position]) -> ReconciliationRun:
    """Compare every key of the union; the caller skips the run when a fetch failed (flagged in §7)."""
    internal = _sizes(internal_positions)
    venue = _sizes(venue_positions)
    drifts = tuple(
        compare(key[0], key[1], internal.get(key, ZERO), venue.get(key, ZERO))
        for key in sorted(internal.keys() | venue.keys())
    )
    return ReconciliationRun(len(internal_positions), len(venue_positions), drifts)


def internal_positions(orders: Iterable[FilledOrder]) -> list[Position]:
    """Group position-holding orders by key: size Σ filled, average price weighted by size."""
    totals: dict[PositionKey, tuple[Decimal, float, bool]] = {}
    for order in orders:
        if order.state not in POSITION_HOLDING_STATES or order.filled_size <= 0:
            continue
        key = position_key(order.market_id, order.side)
        size, notional, priced = totals.get(key, (ZERO, 0.0, True))
        price = order.avg_fill_price
        totals[key] = (
            size + order.filled_size,
            notional + (price or 0.0) * float(order.filled_size),
            priced and price is not None,
        )
    return [
        Position(key[0], key[1], size, notional / float(size) if priced else None)
        for key, (size, notional, priced) in sorted(totals.items())
    ]
