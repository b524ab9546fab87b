"""JSON has one number type: ``10`` and ``10.0`` are the same value to the reference (JavaScript), and a vector
generator may write either (ADR 0486). Checkers read integer fields through :func:`json_int`."""

from __future__ import annotations

import math
from typing import Any


def json_int(value: Any) -> Any:
    """``value`` as an int when it is a JSON number with an integer value (``10`` or ``10.0``); anything else
    (``10.5``, ``"10"``, ``true``, ``null``) unchanged, so the caller's own check still refuses it."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value
