"""llm-routing §8.7: adversarial resistance validator."""

from typing import Any

from paulp.domain.governance import adversarial_issues
from tests.conformance.checkers._llm_support import FILE, assert_matches, expected_of, tolerances
from tests.conformance.registry import Context, checker

_INPUT_KEYS = {"score", "reasoning", "confidence"}


def _number(inp: dict[str, Any], key: str) -> float:
    """A JSON number as given: a string, a boolean or null is not read as one (ADR 0483)."""
    value = inp[key]
    assert isinstance(value, int | float) and not isinstance(value, bool), f"{key} is not a number: {value!r}"
    return float(value)


@checker(FILE, "adversarial_validator")
def check(case: Any, ctx: Context) -> None:
    inp = case["input"]
    assert isinstance(inp, dict) and set(inp) == _INPUT_KEYS, \
        f"adversarial_validator input must have exactly {sorted(_INPUT_KEYS)}: {inp!r}"
    assert isinstance(inp["reasoning"], str), f"reasoning is not a string: {inp['reasoning']!r}"
    issues = adversarial_issues(_number(inp, "score"), inp["reasoning"], _number(inp, "confidence"))
    assert_matches({"passed": not issues, "issueCount": len(issues)}, expected_of(case), tolerances(case))
