"""Cases we derived by hand from the spec (ADRs 0446), kept beside the published sample, never inside it.

``tests/conformance/derived/*.json`` have the vectors' exact format, so the same registered checkers run them;
they are not in ``vectors/`` (a copy of the published sample) and ``PAULP_SPEC_VECTORS`` never points here
by default. A group without a checker, or a file without cases, fails instead of being skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.registry import CHECKERS, Context, load_checkers, load_groups

load_checkers()
DERIVED = Path(__file__).resolve().parent / "derived"


def collect(keep: Callable[[str, str, Any], bool]) -> list[Any]:
    """One pytest param per derived case whose (file, group, case) ``keep`` accepts."""
    params: list[Any] = []
    for path in sorted(DERIVED.glob("*.json")):
        groups = load_groups(path)
        for group, data in groups.items():
            chk = CHECKERS.get((path.name, group))
            if chk is None:
                raise RuntimeError(f"derived {path.name}::{group} has no conformance checker")
            ctx = Context(path.name, group, groups)
            for case_id, case in chk.split(data):
                if keep(path.name, group, case):
                    params.append(pytest.param(chk, case, ctx, id=f"derived/{path.name}::{group}::{case_id}"))
    if not params:
        raise RuntimeError(f"no derived cases selected in {DERIVED}")
    return params


def http_group(case: Any) -> str:
    return str(case.get("group", "")) if isinstance(case, dict) else ""
