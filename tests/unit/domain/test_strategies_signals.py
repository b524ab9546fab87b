"""Signal -> order (trading §6.3): unified shape, expiry and the order intent."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from paulp.domain.strategies.bonding import Bond, Tail, TailType, allocate, bond_yield
from paulp.domain.strategies.bonding_signals import BondingSignal, bonding_signals
from paulp.domain.strategies.signals import SignalNotExecutable, from_bonding, from_weather, order_intent
from paulp.domain.strategies.weather import Forecast, weather_edge, weather_signal

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _tail_signal() -> BondingSignal:
    bonds = [Bond(f"b{i}", 0.95, bond_yield(0.95)) for i in range(5)]
    tails = [Tail(f"t{i}", 0.0567, TailType.EVENT_HEDGE, 17.6) for i in range(3)]
    alloc = allocate(10_000, bonds, tails)
    return next(s for s in bonding_signals(alloc, NOW) if s.market_id == "t0")


def test_from_bonding_when_tail_then_edge_is_fair_minus_price_and_capital_twenty_times_size() -> None:
    unified = from_bonding(_tail_signal())

    assert unified.edge == pytest.approx(0.0567 * 0.5)
    assert unified.capital == unified.suggested_size * 20
    assert unified.context["tailType"] == "event_hedge"


def test_order_intent_when_price_has_half_cent_then_limit_rounds_half_up_in_binary() -> None:
    intent = order_intent(from_bonding(_tail_signal()))

    assert intent.limit_price == 6  # 0.0567 * 100 = 5.67 -> 6
    assert intent.quantity == 400


def test_order_intent_when_venue_is_polymarket_then_not_executable() -> None:
    with pytest.raises(SignalNotExecutable) as err:
        order_intent(replace(from_bonding(_tail_signal()), venue="polymarket"))
    assert err.value.code == "SIGNAL_NOT_EXECUTABLE"


def test_is_expired_when_now_reaches_expiry_then_expired() -> None:
    unified = from_bonding(_tail_signal())

    assert not unified.is_expired(NOW + timedelta(hours=23))
    assert unified.is_expired(NOW + timedelta(hours=24))


def test_from_weather_when_no_side_then_edge_is_magnitude_and_side_kept() -> None:
    fc = Forecast(70, 5, 30, 0, 0, "normal")
    edge = weather_edge(fc, "above", 80, 0.30)
    assert edge is not None
    sig = weather_signal("M", fc, edge, 300, NOW)
    assert sig is not None

    unified = from_weather(sig)

    assert (unified.side, unified.edge > 0) == ("NO", True)
    assert unified.expires_at - unified.generated_at == timedelta(hours=12)
