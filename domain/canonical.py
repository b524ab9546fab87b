"""Canonical JSON (api-and-security §4.7): the one serialisation every hash in Paul P is taken over."""

from __future__ import annotations

import json
import math
from typing import Any


class NonCanonicalValue(ValueError):
    """Raised when a value has no canonical JSON form (NaN, Infinity, unknown type)."""


def _check(value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise NonCanonicalValue(f"non-finite float {value!r} has no canonical JSON form")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise NonCanonicalValue(f"non-string key {k!r}")
            _check(v)
    elif isinstance(value, list | tuple):
        for v in value:
            _check(v)


def _utf8(text: str) -> str:
    """Refuse text with no UTF-8 form: a lone surrogate, which ``json.loads`` makes from ``"\\ud800"`` (ADR 0477)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise NonCanonicalValue(f"lone surrogate {text[e.start]!r} has no UTF-8 form") from None
    return text


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 text, floats in shortest round-trip form (Python's repr)."""
    _check(value)
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except TypeError as e:  # a value of a type JSON has no form for (a datetime, a set, a Decimal)
        raise NonCanonicalValue(str(e)) from None
    return _utf8(text)


def canonical_json_of_parsed(value: Any) -> str:
    """Canonical JSON of a value that came out of ``json.loads``: keys are already strings, so only
    non-finite numbers (which ``json.loads`` accepts as NaN/Infinity) and lone surrogates need refusing."""
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError as e:
        raise NonCanonicalValue(str(e)) from None
    return _utf8(text)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads_strict(text: str | bytes) -> Any:
    """``json.loads`` as RFC 8259 (and the reference's ``JSON.parse``) reads it: Python's extension
    literals ``NaN``, ``Infinity`` and ``-Infinity`` raise ``ValueError`` instead of becoming floats."""
    return json.loads(text, parse_constant=_reject_constant)
