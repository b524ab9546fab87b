"""Registry mapping (vector file, group) to a checker that runs one case against real code.

Checkers live in ``tests/conformance/checkers/<file>_<group>.py`` and register themselves
with :func:`checker`. The harness imports every module in that folder, so adding a checker
never means editing a shared list.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SHARED_VECTORS = ROOT.parent / "shared" / "spec" / "vectors"
BUNDLED_VECTORS = Path(__file__).resolve().parent / "vectors"  # copy of the published sample

# Top-level keys that describe a file rather than hold cases.
DESCRIPTIVE_KEYS = frozenset({"meta", "title", "format", "description"})

CaseFn = Callable[[Any, "Context"], None]
SplitFn = Callable[[Any], Iterable[tuple[str, Any]]]


@dataclass(frozen=True)
class Context:
    """What a checker may need besides its case: the whole file (for shared defaults)."""

    file: str
    group: str
    document: Any


@dataclass(frozen=True)
class Checker:
    file: str
    group: str
    run: CaseFn
    split: SplitFn


CHECKERS: dict[tuple[str, str], Checker] = {}


def default_split(data: Any) -> Iterator[tuple[str, Any]]:
    """Split a group into cases: list items by id/name/case, dict entries by key."""
    if isinstance(data, list):
        for i, item in enumerate(data):
            label = None
            if isinstance(item, dict):
                label = item.get("id") or item.get("case") or item.get("name")
            yield f"{i:03d}-{label}" if label else f"{i:03d}", item
    elif isinstance(data, dict):
        yield from ((str(k), v) for k, v in data.items())
    else:
        yield "value", data


def split_sections(data: Any, label_key: str | None = None) -> Iterator[tuple[str, Any]]:
    """Dict group -> one case per list item (``section/NNN[-label]``) and one per other section;
    ``*_note`` sections are prose for humans and are not cases. Non-dict data becomes a failing case."""
    if not isinstance(data, dict):
        yield "unsupported-shape", ("unknown", data)
        return
    for section, cases in data.items():
        if section.endswith("_note"):
            continue
        if isinstance(cases, list):
            for i, case in enumerate(cases):
                label = case.get(label_key) if label_key and isinstance(case, dict) else None
                yield f"{section}/{i:03d}" + (f"-{label}" if label else ""), (section, case)
        else:
            yield section, (section, cases)


# Prose the vector formats allow on any case, never an expectation: ``source_behaviour`` records what the reference
# did where it differs (trading meta.conventions.expected_vs_source), ``basis`` / ``origin`` where a case came from
# (api format, llm-routing meta); a ``note`` string inside an ``expected*`` object is commentary (the sample has
# them in three groups). Removed before a checker sees the case, so a checker that refuses fields it cannot
# interpret refuses real unknowns only, not a note the hidden set adds to a group whose sample had none.
CASE_PROSE = frozenset({"source_behaviour", "basis", "origin"})


def without_prose(case: Any) -> Any:
    """``case`` (a case dict, a ``(section, case, ...)`` tuple or a ``{"section", "case", ...}`` wrapper as the
    splitters make) without the annotations of ``CASE_PROSE`` and without ``note`` strings inside its
    ``expected*`` objects; anything else as it is."""
    if isinstance(case, tuple) and len(case) >= 2:
        return case[0], without_prose(case[1]), *case[2:]
    if not isinstance(case, dict):
        return case
    if "section" in case and "case" in case:
        # the wrapper of the clv, account_skill, execution_policy and execution_quality splitters: the vector's own
        # case is inside it, so its annotations are too (they reached the strict clv checkers: ADR 0482)
        return {**case, "case": without_prose(case["case"])}
    if "section" in case and isinstance(case.get("data"), dict):
        # the api splitters' wrapper: {"section", "data": the vector's case or record, ...}
        return {**case, "data": without_prose(case["data"])}
    out: dict[str, Any] = {}
    for key, value in case.items():
        if key in CASE_PROSE:
            continue
        if key.startswith("expected") and isinstance(value, dict) and isinstance(value.get("note"), str):
            value = {k: v for k, v in value.items() if k != "note"}
        out[key] = value
    return out


def checker(file: str, group: str, split: SplitFn = default_split) -> Callable[[CaseFn], CaseFn]:
    """Register ``fn(case, ctx)`` as the checker of every case of ``file``'s ``group`` (it sees each case
    ``without_prose``)."""

    def register(fn: CaseFn) -> CaseFn:
        key = (file, group)
        if key in CHECKERS:
            raise RuntimeError(f"two checkers registered for {file}::{group}")
        CHECKERS[key] = Checker(file, group, lambda case, ctx: fn(without_prose(case), ctx), split)
        return fn

    return register


def vectors_dir() -> Path:
    """$PAULP_SPEC_VECTORS, else ../shared/spec/vectors beside the checkout, else the bundled sample."""
    if os.environ.get("PAULP_SPEC_VECTORS"):
        return Path(os.environ["PAULP_SPEC_VECTORS"]).resolve()
    return (SHARED_VECTORS if SHARED_VECTORS.is_dir() else BUNDLED_VECTORS).resolve()


def load_groups(path: Path) -> dict[str, Any]:
    """Return {group: data} for one vector file (dict of groups, or list of cases with 'group')."""
    doc = json.loads(path.read_text())
    if isinstance(doc, dict):
        return {k: v for k, v in doc.items() if k not in DESCRIPTIVE_KEYS}
    if isinstance(doc, list):
        groups: dict[str, list[Any]] = {}
        for case in doc:
            if not isinstance(case, dict) or "group" not in case:
                raise ValueError(f"{path.name}: list case without a 'group': {case!r:.200}")
            groups.setdefault(case["group"], []).append(case)
        return groups
    raise ValueError(f"{path.name}: unsupported top-level JSON type {type(doc).__name__}")


def load_checkers() -> None:
    from tests.conformance import checkers

    for mod in pkgutil.iter_modules(checkers.__path__):
        importlib.import_module(f"{checkers.__name__}.{mod.name}")
