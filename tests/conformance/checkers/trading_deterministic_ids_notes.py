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
    assert "empty" in text.lower(), f"undefined note without its rule: {text!r}"
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
    if "true/false" in text or "booleans" in text:
        assert (part_text(True), part_text(False)) == ("true", "false")


NOTES = {"undefined_part": _undefined, "number_formatting": _numbers}


@checker("trading.json", "deterministic_ids_notes", split=split)
def check(case: tuple[str, Any], ctx: Context) -> None:
    key, text = case
    run = NOTES.get(key)
    assert run is not None and isinstance(text, str), f"note {key!r} has no interpretation: {text!r}"
    run(text)
