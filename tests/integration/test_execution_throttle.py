"""The execution throttle (trading §5.1-5.2) is the execution service's, one per venue and mode: its limits bind
every strategy's orders together, not each strategy's on its own (ADR 0307)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from paulp.domain.execution_policy import ExecutionMode
from paulp.domain.throttle import ExecutionThrottle, throttle_scope
from tests.integration.helpers import MARKET, signal
from tests.integration.kalshi_system import System

pytestmark = pytest.mark.integration


def test_execute_when_two_strategies_order_in_the_same_mode_at_once_then_one_spacing_binds_both(system: System):
    # Arrange: bonding and weather both trade PAPER (1 s minimum spacing, §5.1)
    pipeline = system.container.pipeline(MARKET)
    # Act: a bonding order, then a weather order in the same instant
    first = pipeline.process(signal("throttle-bonding", "KXTEST-A", size=30))
    second = pipeline.process(replace(signal("throttle-weather", "KXTEST-B", size=30), strategy="weather"))
    # Assert: the paper policy's spacing counts across strategies
    assert first.state == "FILLED", first
    assert second.state == "REJECTED", second
    assert "Order spacing: 1000ms required, only 0ms elapsed" in (second.last_error or "")
    # a second later the same weather order goes through, counted on the same PAPER throttle
    system.container.clock.sleep(1.0)
    third = pipeline.process(replace(signal("throttle-weather-2", "KXTEST-C", size=30), strategy="weather"))
    assert third.state == "FILLED", third
    throttle = system.container.orders.get_or_none(ExecutionThrottle.id_for(throttle_scope(ExecutionMode.PAPER)))
    assert throttle is not None
    state = throttle.current(system.container.clock.now())
    assert (state.orders_this_minute, state.volume_today) == (2, 2 * 30 * 42)


def test_throttle_scope_when_modes_differ_then_separate_throttles_per_venue_and_mode():
    assert throttle_scope(ExecutionMode.PAPER) == "kalshi/PAPER"
    assert ExecutionThrottle.id_for(throttle_scope(ExecutionMode.LIVE)) != ExecutionThrottle.id_for(
        throttle_scope(ExecutionMode.PAPER))
