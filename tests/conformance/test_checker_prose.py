"""Annotations the vector formats allow on any case (``source_behaviour``, ``basis``, ``origin``, a ``note`` inside
``expected``; in llm-routing a ``relTolerance`` there) never change a checker's verdict: the hidden set may carry
them in groups whose sample cases had none.
Every checker runs its first sample and derived cases of each section once annotated; a right case still passes
and a case with a real unknown field is still refused."""

from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.registry import CHECKERS, Context, load_checkers, load_groups, vectors_dir, without_prose

load_checkers()
DERIVED = Path(__file__).resolve().parent / "derived"
PER_SECTION = 2
SKIPPED_GROUPS = {"http_cases"}  # served over HTTP; its checker reads basis/note itself (the sample has both)
ANNOTATIONS = {"trading.json": {"source_behaviour": {"note": "the reference answered otherwise"}},
               "api.json": {"basis": "spec", "note": "why"},
               "llm-routing.json": {"origin": "behaviour", "note": "why"}}


def _target(case: Any) -> Any:
    """The vector's own case: inside a splitter's tuple or its ``{"section", "case"}`` wrapper (ADR 0482)."""
    if isinstance(case, tuple):
        return case[1]
    if isinstance(case, dict) and "section" in case and isinstance(case.get("case"), dict):
        return case["case"]
    if isinstance(case, dict) and "section" in case and isinstance(case.get("data"), dict):
        return case["data"]  # the api splitters' wrapper
    return case


def _annotated(file: str, case: Any) -> Any:
    out = copy.deepcopy(case)
    target = _target(out)
    for key, value in ANNOTATIONS[file].items():
        target.setdefault(key, value)
    if isinstance(target.get("expected"), dict):
        target["expected"].setdefault("note", "commentary, not an expectation")
        if file == "llm-routing.json" and target.get("group") != "meta":  # "apply to all floats in that case"
            target["expected"].setdefault("relTolerance", 1e-9)
    return out


def _cases() -> list[Any]:
    params = []
    for folder in (vectors_dir(), DERIVED):
        for path in sorted(folder.glob("*.json")):
            groups = load_groups(path)
            for group, data in groups.items():
                chk = CHECKERS.get((path.name, group))
                if chk is None or group in SKIPPED_GROUPS:
                    continue
                seen: Counter[str] = Counter()
                for case_id, case in chk.split(data):
                    section = case[0] if isinstance(case, tuple) else "-"
                    wrapped = isinstance(case, tuple) or (isinstance(case, dict) and "section" in case)
                    if not isinstance(_target(case), dict) or ("/" not in case_id and wrapped):
                        continue  # a table section (keys are data), not a case
                    seen[section] += 1
                    if seen[section] <= PER_SECTION:
                        params.append(pytest.param(chk, case, Context(path.name, group, groups),
                                                   id=f"{folder.name}/{path.name}::{group}::{case_id}"))
    return params


@pytest.mark.parametrize("chk,case,ctx", _cases())
def test_checker_when_a_case_carries_prose_annotations_then_the_same_verdict(chk: Any, case: Any,
                                                                              ctx: Context) -> None:
    chk.run(_annotated(ctx.file, case), ctx)


def test_without_prose_when_cases_are_annotated_then_only_the_annotations_go():
    case = {"input": {"note": "kept: input"}, "expected": {"status": 409, "note": "dropped"},
            "expected_without_clv": {"score": 1, "note": "dropped"}, "source_behaviour": "dropped",
            "basis": "spec", "origin": "test", "note": "kept: a checker may read it"}

    assert without_prose(case) == {"input": {"note": "kept: input"}, "expected": {"status": 409},
                                   "expected_without_clv": {"score": 1}, "note": "kept: a checker may read it"}
    assert without_prose(("section", case)) == ("section", without_prose(case))
    assert without_prose(("section", case, {"whole": "group"})) == ("section", without_prose(case), {"whole": "group"})
    assert without_prose({"expected": {"note": {"not": "prose"}}}) == {"expected": {"note": {"not": "prose"}}}
    assert without_prose([1, 2]) == [1, 2]
    wrapper = {"section": "compute", "case": case}
    assert without_prose(wrapper) == {"section": "compute", "case": without_prose(case)}
    data_wrapper = {"section": "scenarios", "data": case, "pem": "kept"}
    assert without_prose(data_wrapper) == {"section": "scenarios", "data": without_prose(case), "pem": "kept"}


def test_checker_when_a_case_has_a_real_unknown_field_then_still_refused():
    chk = CHECKERS[("trading.json", "kelly")]
    document = load_groups(vectors_dir() / "trading.json")
    section, case = next(c for _, c in chk.split(document["kelly"]) if c[0] == "raw_kelly")
    ctx = Context("trading.json", "kelly", document)
    chk.run((section, {**case, "source_behaviour": "ignored"}), ctx)

    with pytest.raises(AssertionError, match="cannot interpret"):
        chk.run((section, {**case, "expected_edge": 0.5}), ctx)
