"""Leaf sensitivity: does each checker notice when one stated expectation is wrong?

Every leaf under a case's ``expect*`` keys (sample and derived) is changed in turn (a bool flipped, a number moved
well outside any tolerance, a string altered, a list shortened) and the case is run again. A case that still passes
names an expectation its checker does not assert: prose, or a gap to close (ADRs 0488-0491). Run by hand:

    python -m tests.conformance.probes.leaf_sensitivity [--file trading.json] [--group kelly] [--sample-only]
        [--per-section N] [--every N] [--include-served] [--facts] [--out report.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.probes.common import served_databases, set_at
from tests.conformance.registry import CHECKERS, Context, load_checkers, load_groups, vectors_dir
from tests.conformance.test_checker_expected_subsets import SLOW_GROUPS, _target, _with_target

DERIVED = Path(__file__).resolve().parents[1] / "derived"
# Keys whose change legitimately keeps the verdict: a wider tolerance accepts more, a note is commentary.
NOT_EXPECTATIONS = frozenset({"relTolerance", "absTolerance", "tolerance", "float_tolerance", "note", "notes"})
# Lists read as "each of these must appear": one fewer item checks less, it is not a wrong statement.
SUBSET_LISTS = ("Contains", "contains", "includes", "Includes")


def _changed(value: Any, others: set[str] | frozenset[str] = frozenset()) -> list[tuple[str, Any]]:
    """The wrong values tried for one leaf (a list also gets its last item dropped; a string is also swapped for
    another value the group states at the same place, which a keyword-reading checker must tell apart)."""
    if isinstance(value, str):
        swaps = sorted(o for o in others if o != value)[:1]
        return [("suffix", value + "_WRONG") if value else ("nonempty", "WRONG")] + [("swap", o) for o in swaps]
    if isinstance(value, bool):
        return [("flip", not value)]
    if isinstance(value, int):
        return [("+7", value + 7)]
    if isinstance(value, float):
        return [("x1.5+0.37", value * 1.5 + 0.37)]
    if isinstance(value, str):
        return [("suffix", value + "_WRONG") if value else ("nonempty", "WRONG")]
    if value is None:
        return [("null->str", "WRONG")]
    if isinstance(value, list) and value:
        return [("drop-last", value[:-1])]
    if isinstance(value, list):
        return [("empty->one", ["WRONG"])]
    if isinstance(value, dict) and not value:
        return [("empty->one", {"WRONG": 1})]
    return []


def _leaves(obj: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every (path, value) worth changing: scalars, lists as a whole, and the items of lists and dicts."""
    if isinstance(obj, dict):
        if not obj:
            yield path, obj
        for key, value in obj.items():
            if key not in NOT_EXPECTATIONS:
                yield from _leaves(value, (*path, key))
    elif isinstance(obj, list):
        if not (path and isinstance(path[-1], str) and path[-1].endswith(SUBSET_LISTS)):
            yield path, obj
        for i, value in enumerate(obj):
            yield from _leaves(value, (*path, i))
    else:
        yield path, obj


def _shape(path: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple("*" if isinstance(p, int) else p for p in path)


# In a case with no ``expect*`` key the whole case states facts (a transition table row, a chain record, a
# policy); with --facts each of its leaves is changed, but for these labels.
FACT_LABELS = frozenset({"basis", "name", "section", "case", "note", "notes", "description"})


def _expectation_leaves(target: Any, facts: bool) -> list[tuple[tuple[Any, ...], Any]] | None:
    """The (path, value) pairs to change, or None when the case is not probed."""
    if isinstance(target, dict):
        tops = [k for k in target if k.startswith("expect")]
        if tops:
            return [leaf for top in tops for leaf in _leaves(target[top], (top,))]
        if not facts:
            return None
        return [leaf for key, value in target.items() if key not in FACT_LABELS for leaf in _leaves(value, (key,))]
    if facts and isinstance(target, list | str | int | float):
        return list(_leaves(target, ()))
    return None


def probe(files: list[str] | None, groups: list[str] | None, sample_only: bool, per_section: int,
          include_served: bool, facts: bool = False, every: int = 1) -> dict[str, Any]:
    load_checkers()
    report: dict[str, Any] = {"insensitive": [], "crashes": [], "groups": {}}
    folders = [(vectors_dir(), "sample")] + ([] if sample_only else [(DERIVED, "derived")])
    for folder, tag in folders:
        for path in sorted(folder.glob("*.json")):
            if files and path.name not in files:
                continue
            document = load_groups(path)
            for group, data in document.items():
                chk = CHECKERS.get((path.name, group))
                if chk is None or (groups and group not in groups):
                    continue
                if group in SLOW_GROUPS and not include_served:
                    continue
                ctx = Context(path.name, group, document)
                stats: Counter[str] = Counter()
                seen: Counter[str] = Counter()
                strings: dict[tuple[Any, ...], set[str]] = {}
                for _, case in chk.split(data):
                    for leaf_path, value in _expectation_leaves(_target(case), facts) or []:
                        if isinstance(value, str):
                            strings.setdefault(_shape(leaf_path), set()).add(value)
                started = time.perf_counter()
                for index, (case_id, case) in enumerate(chk.split(data)):
                    if index % every:
                        continue
                    section = case_id.split("/")[0] if "/" in case_id else "-"
                    seen[section] += 1
                    if per_section and seen[section] > per_section:
                        continue
                    target = _target(case)
                    leaves = _expectation_leaves(target, facts)
                    if leaves is None:
                        stats["cases-not-probed"] += 1
                        continue
                    try:
                        chk.run(case, ctx)
                    except (Exception, pytest.fail.Exception):
                        stats["cases-failing-unchanged"] += 1
                        continue
                    stats["cases"] += 1
                    for leaf_path, value in leaves:
                        for how, wrong in _changed(value, strings.get(_shape(leaf_path), set())):
                            stats["mutations"] += 1
                            try:
                                chk.run(_with_target(case, set_at(target, leaf_path, wrong)), ctx)
                            except (AssertionError, pytest.fail.Exception):
                                stats["caught"] += 1
                                continue
                            except Exception as e:  # noticed, but by a crash rather than a verdict
                                stats[f"crash:{type(e).__name__}"] += 1
                                report["crashes"].append({
                                    "where": f"{tag}/{path.name}::{group}::{case_id}",
                                    "path": "/".join(str(p) for p in leaf_path), "how": how,
                                    "error": f"{type(e).__name__}: {str(e)[:200]}",
                                })
                                continue
                            stats["insensitive"] += 1
                            shown = f"<{type(value).__name__}>" if isinstance(value, list | dict) else value
                            report["insensitive"].append({
                                "where": f"{tag}/{path.name}::{group}::{case_id}",
                                "path": "/".join(str(p) for p in leaf_path), "how": how, "value": shown,
                            })
                stats_out = dict(stats, seconds=round(time.perf_counter() - started, 1))
                report["groups"][f"{tag}/{path.name}::{group}"] = stats_out
                print(f"{tag}/{path.name}::{group}: {stats_out}", file=sys.stderr, flush=True)
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", action="append", help="vector file name (repeatable), default all")
    ap.add_argument("--group", action="append", help="group name (repeatable), default all")
    ap.add_argument("--sample-only", action="store_true")
    ap.add_argument("--per-section", type=int, default=0, help="at most N cases per section (0: all)")
    ap.add_argument("--include-served", action="store_true", help="also the groups served over HTTP (slow)")
    ap.add_argument("--facts", action="store_true", help="also change every leaf of a case with no expect* key")
    ap.add_argument("--every", type=int, default=1, help="only every Nth case of a group (a spread sample)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    with served_databases() if args.include_served else contextlib.nullcontext():
        report = probe(args.file, args.group, args.sample_only, args.per_section, args.include_served, args.facts,
                       args.every)
    if args.out:
        args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    by_group = Counter(item["where"].split("::")[0] + "::" + item["where"].split("::")[1]
                       for item in report["insensitive"])
    print(f"{len(report['insensitive'])} insensitive mutations")
    for where, n in by_group.most_common():
        print(f"  {n:5d}  {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
