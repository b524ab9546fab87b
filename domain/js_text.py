"""Text trimming as the reference's JavaScript does it, for the places the spec says "trimmed" of a source value."""

from __future__ import annotations

# ECMAScript WhiteSpace (TAB, VT, FF, SP, NBSP, ZWNBSP/BOM, every Zs) and LineTerminator (LF, CR, LS, PS): the set
# String.prototype.trim removes. Python's str.strip() differs: it keeps U+FEFF and also removes U+001C-U+001F, U+0085.
JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def js_trim(value: str) -> str:
    """``value.trim()`` in the reference: a key saved with a byte-order mark is blank, not a one-character key."""
    return value.strip(JS_WHITESPACE)
