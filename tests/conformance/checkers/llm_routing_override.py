"""llm-routing §3: override merge, validation and the fail-closed outcome, through the routing wrapper."""

from typing import Any

from paulp.domain.routing import validate_forced_model
from tests.conformance.checkers._llm_support import FILE, assert_matches, check_routed, expected_of, tolerances
from tests.conformance.registry import Context, checker


@checker(FILE, "override")
def check(case: Any, ctx: Context) -> None:
    inp = case["input"]
    if set(inp) == {"forcedModel"}:
        candidate = inp["forcedModel"]
        assert isinstance(candidate, str), f"forcedModel must be text: {candidate!r}"  # 5 is not "invalid", unread
        assert_matches({"valid": validate_forced_model(candidate)}, expected_of(case), tolerances(case))
        return
    assert "call" in inp, f"cannot interpret override input {sorted(inp)}"
    check_routed(case)
