"""trading.json::deterministic_ids_notes — each note's stated rule is checked against ``part_text``.

Notes are prose; a note whose rule this checker cannot read fails rather than passing unread.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from paulp.domain.ids import deterministic_id, part_text
from tests.conformance.registry import Context, checker

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")


def split(data: Any) -> Iterator[tuple[str, Any]]:
    assert isinstance(data, dict), "deterministic_ids_notes must be an object of notes"
    yield from ((str(k), (str(k), v)) for k, v in data.items())


def _undefined(text: str) -> None:
    assert "empty" in text.lower() or '""' in text or "''" in text, f"undefined note without its rule: {text!r}"
    assert part_text(None) == ""
    assert deterministic_id("x", "a", None, "b") == deterministic_id("x", "a", "", "b")


def _numbers(text: str) -> None:
    numbers = _NUMBER.findall(text)
    assert numbers, f"number note names no examples: {text!r}"
    for token in numbers:
        value = float(token)
        assert part_text(value) == token, f"{value!r} -> {part_text(value)!r}, note says {token!r}"
        if value.is_integer():
            assert part_text(int(value)) == token


_MISSING = re.compile(r"\b(undefined|null|missing|absent|none)\b", re.IGNORECASE)
_BOOLEANS = re.compile(r"\bbooleans?\b|\btrue\s*/\s*false\b", re.IGNORECASE)


def _booleans(text: str) -> None:
    assert (part_text(True), part_text(False)) == ("true", "false"), "booleans must read true/false"


@checker("trading.json", "deterministic_ids_notes", split=split)
def check(case: tuple[str, Any], ctx: Context) -> None:
    """A note is checked by what it states, not by its key: a missing/null/undefined part (must say it reads as
    empty), number examples (each must print as written), booleans. A note stating none of these fails."""
    key, text = case
    assert isinstance(text, str), f"note {key!r} is not text: {text!r}"
    rules = []
    if _MISSING.search(text) or key == "undefined_part":
        rules.append(_undefined)
    if _NUMBER.search(text) or key == "number_formatting":
        rules.append(_numbers)
    if _BOOLEANS.search(text):
        rules.append(_booleans)
    assert rules, f"note {key!r} states no rule this checker can read: {text!r}"
    for rule in rules:
        rule(text)
