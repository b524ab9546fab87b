"""Kalshi's prices, money and contract counts, read one way wherever a Kalshi object enters (ADRs 0321, 0330).

Kalshi sends each price twice, as whole cents (``yes_bid``: 42) and as a fixed-point dollar string
(``yes_bid_dollars``: "0.4200"), and each count as an integer and a fixed-point string (``position_fp``:
"10.00"); the integer fields are being withdrawn. The fixed-point field is read first, exactly (Decimal),
and the integer field only when it is absent. A present field that cannot be read is refused, never read as
0. A price that is not a whole cent or lies outside 0..1 dollars is refused, never rounded: the execution side
works in whole cents 1..99 (trading §0). A count our books hold in whole contracts (an order's) is refused when
Kalshi sends a fraction of one (``FractionalContracts``); counts that are not ours to hold are kept exactly.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from paulp.adapters.kalshi.client_errors import VenueResponseInvalid
from paulp.domain.prices import venue_quote

_CENTS_PER_DOLLAR = 100
# money: ``*_dollars`` (Trade API v2 today), ``*_fixed`` (fills in older SDKs), the legacy integer cents
_MONEY_SUFFIXES = ("_dollars", "_fixed", "")


class MarketFieldInvalid(VenueResponseInvalid):
    """Raised when a price, money or count field cannot be read exactly (not a number, not a whole cent, out of
    range)."""


class FractionalContracts(MarketFieldInvalid):
    """Raised when a count we hold in whole contracts (an order's) comes as a fraction of one: never rounded."""

    code = "venue_fractional_contracts"

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} (evidence {self.evidence_hash})" if self.evidence_hash else text


def exact_number(value: Any, field: str) -> Decimal:
    """A JSON number or a decimal string, exactly; refused when it is neither (a bool, NaN, text)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise MarketFieldInvalid(f"field {field}: {value!r} is not a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise MarketFieldInvalid(f"field {field}: {value!r} is not a number") from None
    if not number.is_finite():
        raise MarketFieldInvalid(f"field {field}: {value!r} is not a number")
    return number


def _first(raw: dict[str, Any], name: str, suffixes: tuple[str, ...]) -> str | None:
    return next((f"{name}{s}" for s in suffixes if raw.get(f"{name}{s}") is not None), None)


def whole_cents(value: Any, field: str, *, dollars: bool) -> int:
    """One price in whole cents 0..100, from a dollar string or legacy cents; refused when not exactly that."""
    cents = exact_number(value, field) * (_CENTS_PER_DOLLAR if dollars else 1)
    if cents != cents.to_integral_value():
        raise MarketFieldInvalid(f"field {field}: {value!r} is not a whole cent")
    if not 0 <= cents <= _CENTS_PER_DOLLAR:
        raise MarketFieldInvalid(f"field {field}: {value!r} is outside 0..1 dollars")
    return int(cents)


def price_cents(raw: dict[str, Any], name: str) -> int | None:
    """``<name>_dollars`` (preferred; ``_fixed`` in older fill objects) or ``<name>`` in whole cents 0..100; None
    when the object sends neither."""
    field = _first(raw, name, _MONEY_SUFFIXES)
    return None if field is None else whole_cents(raw[field], field, dollars=field != name)


def quote_cents(raw: dict[str, Any], name: str) -> int | None:
    """A bid or ask as the domain reads it: an empty side of the book (0 / 100) is no quote (ADR 0305)."""
    return venue_quote(price_cents(raw, name))


def last_price_cents(raw: dict[str, Any]) -> int | None:
    """The last traded YES price, 1..99; None when nothing has traded (Kalshi sends 0)."""
    cents = price_cents(raw, "last_price")
    return cents if cents is not None and 0 < cents < _CENTS_PER_DOLLAR else None


def money_cents(raw: dict[str, Any], name: str) -> Decimal | None:
    """A sum of money (a fill cost, a PnL) in cents, exactly, sub-cent kept: ``<name>_dollars`` (or ``_fixed``)
    first, else the legacy integer cents ``<name>``; None when the object sends none of them."""
    field = _first(raw, name, _MONEY_SUFFIXES)
    if field is None:
        return None
    return exact_number(raw[field], field) * (_CENTS_PER_DOLLAR if field != name else 1)


def contracts(raw: dict[str, Any], name: str, *, signed: bool = False) -> Decimal | None:
    """``<name>_fp`` (preferred) or ``<name>`` as an exact number of contracts, a fraction kept; None when
    absent. Negative only where ``signed`` (a position: negative is NO)."""
    field = _first(raw, name, ("_fp", ""))
    if field is None:
        return None
    number = exact_number(raw[field], field)
    if number < 0 and not signed:
        raise MarketFieldInvalid(f"field {field}: {raw[field]!r} is negative")
    return number


def whole_contracts(raw: dict[str, Any], name: str) -> int | None:
    """A count we hold in whole contracts (an order's): ``FractionalContracts`` for "10.50", never rounded."""
    number = contracts(raw, name)
    if number is None:
        return None
    if number != number.to_integral_value():
        field = _first(raw, name, ("_fp", ""))
        raise FractionalContracts(f"field {field}: {raw[str(field)]!r} is not a whole number of contracts")
    return int(number)


def count(raw: dict[str, Any], name: str) -> float | None:
    """``<name>_fp`` (preferred) or ``<name>`` as a number of contracts (fractional ones exist); None when absent."""
    number = contracts(raw, name)
    return None if number is None else float(number)


def book_level(level: Any, field: str, *, fixed_point: bool) -> tuple[int, Decimal]:
    """One ``[price, count]`` level of an order book: (whole cents, exact contracts; a fraction is depth, kept)."""
    if not isinstance(level, list | tuple) or len(level) < 2:
        raise MarketFieldInvalid(f"field {field}: level {level!r} is not [price, count]")
    size = exact_number(level[1], field)
    if size < 0:
        raise MarketFieldInvalid(f"field {field}: level {level!r} has a negative count")
    return whole_cents(level[0], field, dollars=fixed_point), size
