"""Counts and prices in relayed Kalshi events (api-and-security §1.6; ADR 0332), read one way at the door and in
the inbox consumer.

The relay's payload names its numbers in its own camelCase (``filledCount``, ``filledPrice`` in cents;
``fillSize``, ``fillPrice``); a relay passing Kalshi's fields on sends them as Kalshi does since the fixed-point
migration (ADR 0330): a count as a ``*_fp`` string ("10.00"), a price as a ``*_dollars`` string ("0.4400"). Each
number is read from the first of its fields that is present, fixed point first:

- ``order_update`` cumulative fill count: ``fill_count_fp``, ``filledCount`` (an integer or a fixed-point string),
  ``fill_count``; its average fill price: ``fill_price_dollars``, ``filledPrice``, ``fill_price`` (cents);
- ``fill`` size: ``count_fp``, ``fillSize``, ``count``; its price: ``<side>_price_dollars``, ``fillPrice``,
  ``<side>_price`` (cents), where ``<side>`` is the fill's ``side``.

A present field that cannot be read (not a number, negative; a cents field sent as text) is refused
(``RelayedFieldInvalid``), never read as absent and never replaced by the next field. A fraction of a contract is
read exactly; on an order update it is ``FractionalContracts`` when the update is applied (ADR 0331): our orders
hold whole contracts, and it is never rounded.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from paulp.adapters.kalshi.market_fields import FractionalContracts, MarketFieldInvalid, exact_number
from paulp.domain.venue_updates import OrderUpdate, client_order_id

_CENTS_PER_DOLLAR = 100
ORDER_COUNT_FIELDS = ("fill_count_fp", "filledCount", "fill_count")
ORDER_PRICE_FIELDS = ("fill_price_dollars", "filledPrice", "fill_price")
FILL_SIZE_FIELDS = ("count_fp", "fillSize", "count")


class RelayedFieldInvalid(ValueError):
    """Raised when a relayed number is present but cannot be read: ``field`` names it, ``reason`` says why
    (``not_a_number`` | ``negative`` | ``missing``)."""

    code = "invalid_event"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"field {field}: {reason.replace('_', ' ')}")
        self.field, self.reason = field, reason


def _present(payload: dict[str, Any], fields: tuple[str, ...]) -> str | None:
    return next((f for f in fields if payload.get(f) is not None), None)


def _number(payload: dict[str, Any], field: str, *, text: bool) -> Decimal:
    """The field's value exactly; ``text``: a decimal string is allowed (fixed-point fields, relayed counts)."""
    value = payload[field]
    if isinstance(value, str) and not text:
        raise RelayedFieldInvalid(field, "not_a_number")  # cents sent as text: dollars or cents? not guessed
    try:
        number = exact_number(value, field)
    except MarketFieldInvalid:
        raise RelayedFieldInvalid(field, "not_a_number") from None
    if number < 0:
        raise RelayedFieldInvalid(field, "negative")
    return number


def _count(payload: dict[str, Any], fields: tuple[str, ...]) -> tuple[str, Decimal] | None:
    field = _present(payload, fields)
    return None if field is None else (field, _number(payload, field, text=True))


def _price_cents(payload: dict[str, Any], fields: tuple[str, ...]) -> Decimal | None:
    field = _present(payload, fields)
    if field is None:
        return None
    dollars = field.endswith("_dollars")
    return _number(payload, field, text=dollars) * (_CENTS_PER_DOLLAR if dollars else 1)


def order_fill_count(payload: dict[str, Any]) -> Decimal | None:
    """An order update's cumulative fill count, exactly (a fraction kept); None when it carries none."""
    found = _count(payload, ORDER_COUNT_FIELDS)
    return None if found is None else found[1]


def order_fill_price(payload: dict[str, Any]) -> Decimal | None:
    """An order update's average fill price in cents, exactly (an average can be 42.5); None when absent."""
    return _price_cents(payload, ORDER_PRICE_FIELDS)


def read_order_update(payload: dict[str, Any]) -> OrderUpdate:
    """The update as the domain applies it, from a payload whose ids and status the webhook route validated.
    ``FractionalContracts`` when its fill count is not a whole number of contracts (ADR 0331)."""
    found = _count(payload, ORDER_COUNT_FIELDS)
    price = order_fill_price(payload)
    filled: int | None = None
    if found is not None:
        field, count = found
        if count != count.to_integral_value():
            raise FractionalContracts(f"field {field}: {payload[field]!r} is not a whole number of contracts")
        filled = int(count)
    return OrderUpdate(str(payload["orderId"]), str(payload["status"]).strip().lower(), filled,
                       None if price is None else float(price), client_order_id(payload))


def read_fill(payload: dict[str, Any]) -> tuple[Decimal, Decimal]:
    """A relayed fill's (size in contracts, price in cents), both exactly; both are required."""
    side = payload.get("side")
    side = side.strip().lower() if isinstance(side, str) else ""
    size = _count(payload, FILL_SIZE_FIELDS)
    named = side in ("yes", "no")  # Kalshi names a fill's price by its side
    price = _price_cents(payload, (f"{side}_price_dollars", "fillPrice", f"{side}_price") if named
                         else ("fillPrice",))
    if size is None:
        raise RelayedFieldInvalid("fillSize", "missing")
    if price is None:
        raise RelayedFieldInvalid("fillPrice", "missing")
    return size[1], price


def dedupe_count(payload: dict[str, Any]) -> int | str | None:
    """The fill count as the de-duplication key spells it, whichever field carried it: whole counts as the
    integer (``filledCount: 5`` and ``fill_count_fp: "5.00"`` are the same update), a fraction as its digits."""
    count = order_fill_count(payload)
    if count is None:
        return None
    if count == count.to_integral_value():
        return int(count)
    return format(count.normalize(), "f")
