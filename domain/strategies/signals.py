"""Signal → order (trading §6.3): one unified signal shape and the order it asks for.

Normative single path: SignalAccepted → dedupe (§1.8) → OrderCreated → lifecycle; this module only
builds the values that path carries.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from paulp.domain.errors import DomainError
from paulp.domain.prices import prob_to_cents
from paulp.domain.strategies.bonding_signals import BondingSignal
from paulp.domain.strategies.weather import STRATEGY as WEATHER_STRATEGY
from paulp.domain.strategies.weather import VENUE as WEATHER_VENUE
from paulp.domain.strategies.weather import WeatherSignal

CAPITAL_MULTIPLE = 20  # the source reports capital as 20 * the suggested size
EXECUTABLE_VENUES = frozenset({"kalshi"})


class SignalNotExecutable(DomainError):
    """Raised when a signal names a venue Paul P cannot trade (polymarket) or a price outside 1..99 cents."""

    code = "SIGNAL_NOT_EXECUTABLE"


@dataclass(frozen=True)
class UnifiedSignal:
    signal_id: str
    strategy_type: str
    market_id: str
    venue: str
    side: str
    model_probability: float
    market_price: float
    edge: float
    suggested_size: float
    kelly_fraction: float | None
    capital: float
    confidence: float
    generated_at: datetime
    expires_at: datetime
    context: Mapping[str, Any] = field(default_factory=dict)
    action: str = "BUY"

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at


@dataclass(frozen=True)
class OrderIntent:
    """What an accepted signal asks the lifecycle to create: contracts and a limit in cents."""

    signal_id: str
    strategy: str
    market_id: str
    side: str
    quantity: int
    limit_price: int


def from_bonding(sig: BondingSignal) -> UnifiedSignal:
    return UnifiedSignal(
        signal_id=sig.signal_id,
        strategy_type=sig.strategy,
        market_id=sig.market_id,
        venue=sig.venue,
        side=sig.side,
        model_probability=sig.fair_probability,
        market_price=sig.market_price,
        edge=sig.fair_probability - sig.market_price,
        suggested_size=sig.target_size,
        kelly_fraction=sig.kelly_fraction,
        capital=sig.target_size * CAPITAL_MULTIPLE,
        confidence=sig.confidence,
        generated_at=sig.created_at,
        expires_at=sig.expires_at,
        context={
            "signalType": sig.signal_type,
            "tailType": None if sig.tail_type is None else sig.tail_type.value,
            "expectedEdge": sig.expected_edge,
            "metadata": dict(sig.metadata),
        },
    )


def from_weather(sig: WeatherSignal) -> UnifiedSignal:
    fc = sig.forecast
    return UnifiedSignal(
        signal_id=sig.signal_id,
        strategy_type=WEATHER_STRATEGY,
        market_id=sig.market_id,
        venue=WEATHER_VENUE,
        side=sig.edge.side,
        model_probability=sig.edge.model_probability,
        market_price=sig.edge.market_price,
        edge=sig.edge.edge,
        suggested_size=sig.target_size,
        kelly_fraction=sig.sizing.adjusted_fraction,
        capital=sig.target_size * CAPITAL_MULTIPLE,
        confidence=sig.edge.confidence,
        generated_at=sig.created_at,
        expires_at=sig.expires_at,
        context={"forecast": {"mean": fc.mean, "stdDev": fc.std_dev, "sampleSize": fc.sample_size}},
    )


def order_intent(signal: UnifiedSignal, adjusted_size: float | None = None) -> OrderIntent:
    """quantity = risk-adjusted size, else the suggested one (whole contracts); limit = round(price * 100)."""
    if signal.venue not in EXECUTABLE_VENUES:
        raise SignalNotExecutable(f"venue {signal.venue!r} is not executable")
    limit = prob_to_cents(signal.market_price)
    if not 1 <= limit <= 99:
        raise SignalNotExecutable(f"limit price {limit} outside 1..99 cents")
    size = signal.suggested_size if adjusted_size is None else adjusted_size
    return OrderIntent(signal.signal_id, signal.strategy_type, signal.market_id, signal.side, math.floor(size), limit)
