"""Derived cases of every pure group (kalshi signing, hash chain, evidence, llm-routing) through the harness."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.derived_cases import collect

CASES = collect(lambda file, group, case: group != "http_cases")


@pytest.mark.parametrize("chk,case,ctx", CASES)
def test_derived_case(chk: Any, case: Any, ctx: Any) -> None:
    chk.run(case, ctx)
