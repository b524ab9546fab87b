"""Derived http_cases, admin endpoint matrix: every admin endpoint x {no auth, wrong token, right token, wrong
method, Turnstile, IP allowlist, malformed JSON} against the real app on a fresh database per case."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.derived_cases import collect, http_group

CASES = collect(lambda file, group, case: group == "http_cases" and http_group(case) == "admin_matrix")


@pytest.mark.parametrize("chk,case,ctx", CASES)
def test_derived_http_case(chk: Any, case: Any, ctx: Any) -> None:
    chk.run(case, ctx)
