"""Order builders shared by the order-lifecycle and venue-update unit tests, kept out of the test modules so
neither imports the other."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from paulp.domain.order_states import OrderState, shortest_path
from paulp.domain.orders import Order

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def new_order(**overrides: Any) -> Order:
    fields: dict[str, Any] = {"signal_id": "sig-1", "strategy": "bonding", "ticker": "TICKER", "side": "YES",
                              "requested_size": 10, "max_price": 55, "now": NOW} | overrides
    return Order.create(**fields)


def placed(state: OrderState, **overrides: Any) -> Order:
    order = new_order(**overrides)
    for target in shortest_path(OrderState.PENDING, state):
        order.transition(target, "placed", NOW)
    order.collect_events()
    return order
