"""llm-routing §8.4: equivalence grade from score."""

from typing import Any

from paulp.domain.governance import equivalence_grade
from tests.conformance.checkers._llm_support import FILE, assert_matches, expected_of, tolerances
from tests.conformance.registry import Context, checker


@checker(FILE, "equivalence_grade")
def check(case: Any, ctx: Context) -> None:
    inp = case["input"]
    assert set(inp) == {"score"}, f"cannot interpret equivalence_grade input {sorted(inp)}"
    score = inp["score"]
    assert isinstance(score, int | float) and not isinstance(score, bool), f"score must be a number: {score!r}"
    grade = equivalence_grade(float(score))
    assert_matches({"grade": grade}, expected_of(case), tolerances(case))
