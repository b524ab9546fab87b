"""Deterministic identifiers (trading §10): the same inputs give the same id on every machine and run.

The text form of each part follows JavaScript's ``String(value)`` so ids match the ones the
original system minted (and the acceptance vectors) byte for byte.
"""

from __future__ import annotations

import math
from decimal import Decimal
from uuid import UUID, uuid5

from paulp.domain.errors import DomainError
from paulp.domain.namespace import PAULP_NAMESPACE

IdPart = str | int | float | bool | Decimal | None

FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193
_MASK32 = 0xFFFFFFFF


class UnsupportedIdPart(DomainError):
    """Raised when a part has no defined text form (only text, numbers, booleans and null do)."""

    code = "UNSUPPORTED_ID_PART"


def fnv1a32(text: str) -> int:
    """FNV-1a 32-bit over UTF-16 code units, as the source hashed JavaScript strings."""
    data = text.encode("utf-16-le", "surrogatepass")
    h = FNV_OFFSET
    for i in range(0, len(data), 2):
        h ^= data[i] | (data[i + 1] << 8)
        h = (h * FNV_PRIME) & _MASK32
    return h


def _js_digits(digits: str, point: int, negative: bool) -> str:
    """Lay out significant ``digits`` with decimal exponent ``point`` as ECMAScript Number::toString."""
    k = len(digits)
    if k <= point <= 21:
        body = digits + "0" * (point - k)
    elif 0 < point <= 21:
        body = f"{digits[:point]}.{digits[point:]}"
    elif -6 < point <= 0:
        body = "0." + "0" * (-point) + digits
    else:
        exp = point - 1
        sign = "+" if exp >= 0 else "-"
        mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
        body = f"{mantissa}e{sign}{abs(exp)}"
    return f"-{body}" if negative else body


def _format_decimal(value: Decimal) -> str:
    if value.is_zero():
        return "0"
    sign, digit_tuple, exponent = value.normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    return _js_digits(digits, len(digits) + exponent, bool(sign))


def format_number(value: float | int | Decimal) -> str:
    """Shortest round-trip text; integral values without a fraction (10 -> "10", -2 -> "-2")."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise UnsupportedIdPart(f"non-finite number {value} has no id text")
        return _format_decimal(value)
    if isinstance(value, int):
        if abs(value) <= 2**53:  # exact as a double: JavaScript prints the same digits
            return str(value)
        value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    # repr() is the shortest round-trip form; Decimal reads it exactly.
    return _format_decimal(Decimal(repr(value)))


def part_text(part: IdPart) -> str:
    """Text of one part: null -> "", booleans true/false, numbers as JavaScript prints them."""
    if part is None:
        return ""
    if isinstance(part, bool):
        return "true" if part else "false"
    if isinstance(part, str):
        return part
    if isinstance(part, int | float | Decimal):
        return format_number(part)
    raise UnsupportedIdPart(f"id part of type {type(part).__name__} has no defined text form")


def deterministic_id(prefix: str, *parts: IdPart) -> str:
    """``prefix-<fnv(s)><fnv(s|count|prefix)>`` with ``s`` the parts joined by "|"."""
    s = "|".join(part_text(p) for p in parts)
    a = fnv1a32(s)
    b = fnv1a32(f"{s}|{len(parts)}|{prefix}")
    return f"{prefix}-{a:08x}{b:08x}"


def order_id(
    signal_id: str | None,
    strategy: str,
    ticker: str,
    side: str,
    requested_size: float,
    max_price: float,
    resubmit_count: int = 0,
) -> str:
    """Lifecycle order id (§1.8); a replacement appends its resubmit number (§1.5), the original does not."""
    parts: list[IdPart] = [signal_id, strategy, ticker, side, requested_size, max_price]
    if resubmit_count:
        parts.append(resubmit_count)
    return deterministic_id("order", *parts)


def execution_fallback_id(market_id: str, side: str, requested_size: float, max_price: float, timestamp: str) -> str:
    """Venue client id when an execution request arrives without one; unique, not idempotent (has time)."""
    return deterministic_id("kalshi_order", market_id, side, requested_size, max_price, timestamp)


def fallback_signal_id(
    strategy: str, market_id: str, side: str, action: str, generated_at: str, expires_at: str
) -> str:
    return deterministic_id("signal", strategy, market_id, side, action, generated_at, expires_at)


def helper_signal_id(strategy: str, market: str, venue: str, side: str, action: str, iso_now: str) -> str:
    """One part joined by "|" beforehand, as the source did (count = 1)."""
    return deterministic_id("sig", "|".join((strategy, market, venue, side, action, iso_now)))


def violation_id(signal_id: str, market_id: str, error: str, iso_now: str) -> str:
    return deterministic_id("viol", signal_id, market_id, error, iso_now)


def scan_id(bond_count: int, tail_count: int, iso_now: str) -> str:
    return deterministic_id("scan", bond_count, tail_count, iso_now)


def order_aggregate_id(order_id_text: str) -> UUID:
    """Aggregate id of an order: a duplicate signal lands on the same aggregate, so the store refuses it."""
    return uuid5(PAULP_NAMESPACE, f"order/{order_id_text}")
