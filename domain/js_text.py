"""Text handling as the reference's JavaScript does it: trim(), String(number), JSON.stringify and \\s / i-flag regular
expressions."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal

# ECMAScript WhiteSpace (TAB, VT, FF, SP, NBSP, ZWNBSP/BOM, every Zs) and LineTerminator (LF, CR, LS, PS): the set
# String.prototype.trim removes. Python's str.strip() differs: it keeps U+FEFF and also removes U+001C-U+001F, U+0085.
JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def js_trim(value: str) -> str:
    """``value.trim()`` in the reference: a key saved with a byte-order mark is blank, not a one-character key."""
    return value.strip(JS_WHITESPACE)


# JavaScript's \s is exactly the trim() set above; Python's \s (for str) keeps out U+FEFF and takes in U+001C-U+001F
# and U+0085, so a pattern written with \s is compiled with this class instead.
JS_SPACE_CLASS = "[" + "".join(f"\\u{ord(c):04x}" for c in JS_WHITESPACE) + "]"


def js_regex(pattern: str) -> re.Pattern[str]:
    """A source pattern with the ``i`` flag and no ``u`` flag, as JavaScript matches it.

    Without ``u``, case-insensitive JavaScript never folds a non-ASCII character onto an ASCII one (U+017F long s
    is not ``s``, U+0131 dotless i and U+0130 are not ``i``), which Python's IGNORECASE does; the ASCII flag keeps
    folding to ASCII letters, and ``\\s`` is rewritten to JavaScript's whitespace set.
    """
    return re.compile(pattern.replace(r"\s", JS_SPACE_CLASS), re.ASCII | re.IGNORECASE)


def js_sum(values: Iterable[float]) -> float:
    """``values.reduce((a, b) => a + b, 0)``: one rounded IEEE addition at a time, left to right.

    From Python 3.12 the builtin ``sum`` compensates float rounding (Neumaier), so a mean taken with it is not the
    reference's: four confidences 0.37, 0.7, 0.61 and 0.72 would average 0.6 and pass the drift sweep, where the
    reference gets 0.5999999999999999 and fails it.
    """
    total = 0.0
    for value in values:
        total += value
    return total


def js_number_text(value: float) -> str:
    """``String(n)`` for a finite double (ECMAScript Number::toString): plain decimals from 1e-7 up to 1e21.

    Python's repr gives the same shortest digits but switches to exponent form at other places (1e-05, 1e+16).
    """
    if value == 0:
        return "0"
    if value < 0:
        return "-" + js_number_text(-value)
    _sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int), f"not a finite number: {value!r}"
    digits = "".join(map(str, digit_tuple))
    k = len(digits)
    n = exponent + k  # the decimal point sits n digits from the left of the digit string
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"


_JSON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _js_json_string(text: str) -> str:
    """QuoteJSONString: the short escapes, other controls and lone surrogates as lower-case ``\\uXXXX``."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in _JSON_ESCAPES:
            out.append(_JSON_ESCAPES[ch])
        elif code < 0x20 or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _is_array_index(key: str) -> bool:
    """An ECMAScript array index ("0", "17"; not "01", not "-1", below 2**32 - 1): such keys come first."""
    return key.isascii() and key.isdigit() and (key == "0" or key[0] != "0") and int(key) < 2**32 - 1


def _js_key_order(keys: list[str]) -> list[str]:
    """OrdinaryOwnPropertyKeys: array-index keys ascending, then the other keys in insertion order."""
    indices = sorted((k for k in keys if _is_array_index(k)), key=int)
    return indices + [k for k in keys if not _is_array_index(k)]


def js_json_stringify(value: object) -> str:
    """``JSON.stringify(value)`` of a parsed-JSON value, byte for byte: no spaces, keys in JavaScript's order
    (not sorted), numbers as ``String(n)`` (1.0 is ``1``, 1e-05 is ``0.00001``), non-finite numbers ``null``.

    Python's ``json.dumps`` differs in number text and escapes lone surrogates raw; a hash over the reference's
    text must be taken over this one. A value JSON has no form for is written as its ``str`` (a hash never fails).
    """
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _js_json_string(value)
    if isinstance(value, int):
        return js_number_text(float(value)) if abs(value) >= 2**53 else str(value)
    if isinstance(value, float):
        return js_number_text(value) if math.isfinite(value) else "null"
    if isinstance(value, Mapping):
        items = {str(k): v for k, v in value.items()}
        return "{" + ",".join(f"{_js_json_string(k)}:{js_json_stringify(items[k])}"
                              for k in _js_key_order(list(items))) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(js_json_stringify(v) for v in value) + "]"
    return _js_json_string(str(value))
