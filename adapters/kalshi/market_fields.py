"""A Kalshi market object's prices and counts, read one way wherever a market enters (ADR 0321).

Kalshi sends each price twice, as whole cents (``yes_bid``: 42) and as a fixed-point dollar string
(``yes_bid_dollars``: "0.4200"), and each count as an integer and a fixed-point string (``volume_24h_fp``:
"1250.00"); the integer fields are being withdrawn. The fixed-point field is read first, exactly (Decimal),
and the integer field only when it is absent. A price that is not a whole cent or lies outside 0..1 dollars
is refused, never rounded: the execution side works in whole cents 1..99 (trading §0).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from paulp.adapters.kalshi.client_errors import VenueResponseInvalid
from paulp.domain.prices import venue_quote

_CENTS_PER_DOLLAR = 100


class MarketFieldInvalid(VenueResponseInvalid):
    """Raised when a market's price or count field cannot be read exactly (not a whole cent, out of range)."""


def _decimal(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise MarketFieldInvalid(f"market field {field}: {value!r} is not a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise MarketFieldInvalid(f"market field {field}: {value!r} is not a number") from None
    if not number.is_finite():
        raise MarketFieldInvalid(f"market field {field}: {value!r} is not a number")
    return number


def price_cents(raw: dict[str, Any], name: str) -> int | None:
    """``<name>_dollars`` (preferred) or ``<name>`` in whole cents 0..100; None when the market sends neither."""
    dollars = raw.get(f"{name}_dollars")
    if dollars is not None:
        cents = _decimal(dollars, f"{name}_dollars") * _CENTS_PER_DOLLAR
        field = f"{name}_dollars"
    elif raw.get(name) is not None:
        cents, field = _decimal(raw[name], name), name
    else:
        return None
    if cents != cents.to_integral_value():
        raise MarketFieldInvalid(f"market field {field}: {raw[field]!r} is not a whole cent")
    if not 0 <= cents <= _CENTS_PER_DOLLAR:
        raise MarketFieldInvalid(f"market field {field}: {raw[field]!r} is outside 0..1 dollars")
    return int(cents)


def quote_cents(raw: dict[str, Any], name: str) -> int | None:
    """A bid or ask as the domain reads it: an empty side of the book (0 / 100) is no quote (ADR 0305)."""
    return venue_quote(price_cents(raw, name))


def last_price_cents(raw: dict[str, Any]) -> int | None:
    """The last traded YES price, 1..99; None when nothing has traded (Kalshi sends 0)."""
    cents = price_cents(raw, "last_price")
    return cents if cents is not None and 0 < cents < _CENTS_PER_DOLLAR else None


def count(raw: dict[str, Any], name: str) -> float | None:
    """``<name>_fp`` (preferred) or ``<name>`` as a number of contracts (fractional ones exist); None when absent."""
    field = f"{name}_fp" if raw.get(f"{name}_fp") is not None else name
    if raw.get(field) is None:
        return None
    number = _decimal(raw[field], field)
    if number < 0:
        raise MarketFieldInvalid(f"market field {field}: {raw[field]!r} is negative")
    return float(number)
