"""Conformance harness: every case of every vector file runs against the real code.

A group without a checker is reported by ``test_group_has_no_checker`` (strict xfail), so a
missing group is visible in every run and never silently skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conformance.registry import CHECKERS, Context, load_checkers, load_groups, vectors_dir

load_checkers()


def _files() -> list[Path]:
    folder = vectors_dir()
    files = sorted(folder.glob("*.json"))
    if not files:
        raise RuntimeError(f"no vector files in {folder} (set PAULP_SPEC_VECTORS)")
    return files


def _collect() -> tuple[list[Any], list[Any]]:
    cases, missing = [], []
    for path in _files():
        doc_groups = load_groups(path)
        for group, data in doc_groups.items():
            chk = CHECKERS.get((path.name, group))
            if chk is None:
                missing.append(pytest.param(path.name, group, id=f"{path.name}::{group}"))
                continue
            ctx = Context(path.name, group, doc_groups)
            for case_id, case in chk.split(data):
                cases.append(pytest.param(chk, case, ctx, id=f"{path.name}::{group}::{case_id}"))
    return cases, missing


CASES, MISSING = _collect()


@pytest.mark.parametrize("chk,case,ctx", CASES)
def test_vector_case(chk: Any, case: Any, ctx: Context) -> None:
    chk.run(case, ctx)


if MISSING:

    @pytest.mark.xfail(strict=True, reason="vector group not implemented yet")
    @pytest.mark.parametrize("file,group", MISSING)
    def test_group_has_no_checker(file: str, group: str) -> None:
        raise AssertionError(f"{file}::{group} has no conformance checker")

else:

    def test_every_vector_group_has_a_checker() -> None:
        assert CASES and not MISSING
