"""llm-routing §8.1: template rendering (literal substitution, conditional blocks)."""

from typing import Any

from paulp.domain.llm_prompts import render
from tests.conformance.checkers._llm_support import FILE, assert_matches, expected_of, tolerances
from tests.conformance.registry import Context, checker


@checker(FILE, "prompt_render")
def check(case: Any, ctx: Context) -> None:
    inp = case["input"]
    assert_matches({"rendered": render(inp["template"], inp["variables"])}, expected_of(case), tolerances(case))
