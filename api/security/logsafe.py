"""Make user-supplied text safe for one log line (api-and-security §2.8): control characters escaped."""

from __future__ import annotations

MAX_CHARS = 200


def escape(value: str, limit: int = MAX_CHARS) -> str:
    out = []
    for ch in value[:limit]:
        code = ord(ch)
        if code < 0x20 or code == 0x7F or 0x80 <= code < 0xA0 or ch in "\u2028\u2029":
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out) + ("…" if len(value) > limit else "")
