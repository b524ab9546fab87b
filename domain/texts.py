"""Free text an operator types (actors, reasons, notes): one rule for every command that records it."""

from __future__ import annotations

from collections.abc import Callable


def bounded_text(value: object, field: str, limit: int, error: Callable[[str], Exception]) -> str:
    """Trimmed, non-empty and at most ``limit`` characters, else ``error``: a blank actor or reason would make the
    audit trail say nothing, and an unbounded one lets a paste flood the log."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise error(f"{field} required")
    if len(text) > limit:
        raise error(f"{field} longer than {limit} characters")
    return text
