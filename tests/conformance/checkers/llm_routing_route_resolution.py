"""llm-routing §1.3: route class and resolution source of a routing call (env overrides merged first)."""

from typing import Any

from paulp.domain.routing import merge_env_overrides, resolve_route
from tests.conformance.checkers._llm_support import FILE, assert_matches, expected_of, request_from, tolerances
from tests.conformance.registry import Context, checker


@checker(FILE, "route_resolution")
def check(case: Any, ctx: Context) -> None:
    inp = dict(case["input"])
    env = inp.pop("env", {})
    call = inp.pop("call", inp)
    route_class, source = resolve_route(merge_env_overrides(request_from(call), env))
    assert_matches({"routeClass": route_class, "resolutionSource": source}, expected_of(case), tolerances(case))
