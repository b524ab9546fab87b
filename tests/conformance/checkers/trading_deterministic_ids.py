"""trading.json::deterministic_ids — each case runs through ``deterministic_id`` (§10); order ids also
through ``Order.create`` so the aggregate really carries the vector's id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paulp.domain.ids import IdPart, deterministic_id, order_aggregate_id
from paulp.domain.orders import Order
from tests.conformance.checkers import _conventions as conventions
from tests.conformance.registry import Context, checker

UNDEFINED = "<undefined>"  # deterministic_ids_notes.undefined_part: a missing value, text "" like null


def part(value: Any) -> IdPart:
    if value == UNDEFINED:
        return None
    assert value is None or isinstance(value, str | int | float | bool), f"uninterpretable part {value!r}"
    return value


@checker("trading.json", "deterministic_ids")
def check(case: Mapping[str, Any], ctx: Context) -> None:
    prefix, expected = case["prefix"], case["expected_id"]
    parts = [part(p) for p in case["parts"]]
    assert deterministic_id(prefix, *parts) == expected, f"{deterministic_id(prefix, *parts)} != {expected}"
    if prefix == "order" and _order_shaped(parts):
        signal_id, strategy, ticker, side, size, price = parts
        assert isinstance(strategy, str) and isinstance(ticker, str) and isinstance(side, str)
        assert isinstance(size, int | float) and isinstance(price, int | float)
        order = Order.create(signal_id=None if signal_id is None else str(signal_id), strategy=strategy,
                             ticker=ticker, side=side, requested_size=int(size), max_price=price,
                             now=conventions.now(ctx))
        assert order.order_id == expected, order.order_id
        assert order.id == order_aggregate_id(expected)


def _order_shaped(parts: list[IdPart]) -> bool:
    """Parts an order can be created from (§1.8: a text or whole-number signal id, text strategy, ticker and side,
    a whole contract count, a numeric price); other "order" parts (a null strategy, 10.5 contracts) are checked
    through ``deterministic_id`` alone."""
    if len(parts) != 6:
        return False
    signal_id, strategy, ticker, side, size, price = parts
    return (
        (signal_id is None or (isinstance(signal_id, str | int) and not isinstance(signal_id, bool)))
        and all(isinstance(p, str) for p in (strategy, ticker, side))
        and isinstance(size, int | float) and not isinstance(size, bool) and float(size).is_integer()
        and isinstance(price, int | float) and not isinstance(price, bool)
    )
