"""The clock and calendar a vector file states in ``meta.conventions``, read from the file itself.

The harness strips ``meta`` from the groups it hands a checker (``registry.DESCRIPTIVE_KEYS``), so a checker that
looked in ``ctx.document`` for it found nothing and fell back to a literal (ADR 0496). Every time-relative trading
checker reads its "now" here instead, so a vector file with another ``now`` or ``current_year`` is checked at that
moment, not at a date copied into the code.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from paulp.domain.clock import from_iso_utc
from tests.conformance.registry import Context, vectors_dir

# "2026-03-01T12:00:00.000Z (a Sunday) unless a vector gives offsets; ...": the leading instant is the clock.
_INSTANT = re.compile(r"\s*(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2}))")


def _conventions(file: str) -> dict[str, Any]:
    """The file's ``meta.conventions``; a file without them cannot say when its vectors happen, so it is refused
    rather than given a date of ours."""
    return _conventions_at(str(vectors_dir() / file))


@functools.cache
def _conventions_at(path: str) -> dict[str, Any]:
    """Keyed by the resolved path, so pointing $PAULP_SPEC_VECTORS elsewhere is never answered from the cache."""
    doc = json.loads(Path(path).read_text())
    meta = doc.get("meta") if isinstance(doc, dict) else None
    conventions = meta.get("conventions") if isinstance(meta, dict) else None
    assert isinstance(conventions, dict), f"{path} states no meta.conventions to read the vectors' clock from"
    return conventions


def parse_instant(text: str) -> datetime:
    """The leading ISO-8601 instant of a conventions string, as an aware datetime (a trailing remark is prose)."""
    match = _INSTANT.match(text)
    assert match, f"cannot read an instant from {text!r}"
    moment = from_iso_utc(match[1])
    assert moment.tzinfo is not None, f"instant without an offset: {text!r}"
    return moment


def now(ctx: Context) -> datetime:
    """``meta.conventions.now`` of the context's file: the instant time-relative vectors are evaluated at."""
    text = _conventions(ctx.file).get("now")
    assert isinstance(text, str), f"{ctx.file} meta.conventions states no 'now'"
    return parse_instant(text)


def current_year(ctx: Context) -> int:
    """``meta.conventions.current_year``, else the year of its ``now`` (the same calendar, stated once)."""
    year = _conventions(ctx.file).get("current_year")
    if year is None:
        return now(ctx).year
    assert isinstance(year, int) and not isinstance(year, bool), f"current_year {year!r} is not a year"
    return year
