"""llm-routing §4: deterministic_hard_control never reaches a model."""

from typing import Any

from paulp.domain.routing import RUN_TYPE_TABLE, RouteClass, parse_run_type
from tests.conformance.checkers._llm_support import FILE, assert_matches, check_routed, expected_of, tolerances
from tests.conformance.registry import Context, checker


@checker(FILE, "hard_control")
def check(case: Any, ctx: Context) -> None:
    inp = case["input"]
    if "runTypes" in inp:
        assert set(inp) == {"runTypes"} and isinstance(inp["runTypes"], list), \
            f"cannot interpret hard_control input {sorted(inp)}"
        hits = [rt for rt in inp["runTypes"]
                if RUN_TYPE_TABLE[parse_run_type(rt)][0] is RouteClass.DETERMINISTIC_HARD_CONTROL]
        assert_matches({"anyMapsToHardControl": bool(hits), "mapsToHardControl": hits}, expected_of(case),
                       tolerances(case))
        return
    assert "call" in inp, f"cannot interpret hard_control input {sorted(inp)}"
    check_routed(case)
