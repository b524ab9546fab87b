"""Durations and deadlines are measured with ``time.monotonic`` (ADR 0522): the wall clock (``time.time``,
``time.time_ns``) is read only where another party's wall clock is the point, each named here with why."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2]
LAYERS = ("domain", "projections", "adapters", "api")
ALLOWED = {
    ("api/routers/webhooks.py", "time"): "the relay's signed timestamp is its wall clock (replay window, §2.7)",
    ("adapters/kalshi/signing.py", "time_ns"): "Kalshi checks KALSHI-ACCESS-TIMESTAMP against its wall clock",
    ("api/routing_wiring.py", "time_ns"): "uuid7's time prefix (ids need uniqueness, not order)",
    ("api/jobs.py", "time"): "temp files' ages from their mtimes, which are wall-clock times (ADR 0524)",
}


def wall_clock_reads() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for layer in LAYERS:
        for path in (SRC / layer).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if (isinstance(node, ast.Attribute) and node.attr in ("time", "time_ns")
                        and isinstance(node.value, ast.Name) and node.value.id == "time"):
                    found.add((str(path.relative_to(SRC)), node.attr))
    return found


def test_wall_clock_when_read_outside_the_named_places_then_fails() -> None:
    assert wall_clock_reads() <= set(ALLOWED), sorted(wall_clock_reads() - set(ALLOWED))
