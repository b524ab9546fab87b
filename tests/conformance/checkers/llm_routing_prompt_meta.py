"""llm-routing §8.1: prompt versions (and hashes) per scoring run type."""

from typing import Any

from paulp.domain.llm_prompts import load_prompt
from tests.conformance.checkers._llm_support import FILE, assert_matches, expected_of, tolerances
from tests.conformance.registry import Context, checker


@checker(FILE, "prompt_meta")
def check(case: Any, ctx: Context) -> None:
    assert not case["input"], f"cannot interpret prompt_meta input {sorted(case['input'])}"
    exp = expected_of(case)
    assert exp, "prompt_meta lists run types"
    actual: dict[str, Any] = {}
    for run_type, value in exp.items():
        prompt = load_prompt(run_type)
        actual[run_type] = ({"version": prompt.version, "hash": prompt.hash} if isinstance(value, dict)
                            else prompt.version)
    assert_matches(actual, exp, tolerances(case))
