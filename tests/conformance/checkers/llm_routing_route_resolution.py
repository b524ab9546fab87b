"""llm-routing §1.3: route class and resolution source of a routing call (env overrides merged first).

A call the routing wrapper refuses (§1.1 unknown run type or alias, §3.2 invalid override, §4 hard control) is
also described by the wrapper's fail-closed verdict in the vocabulary of the other llm checkers
(``errorCode``, ``retryable``, ``message``); §6.3's order decides which code wins.
"""

from typing import Any

from paulp.domain.routing import RoutingError, merge_env_overrides, resolve_route
from paulp.domain.routing_plan import plan_route
from tests.conformance.checkers._llm_support import (
    FILE,
    assert_matches,
    budget_book,
    env_of,
    expected_of,
    needles,
    request_from,
    tolerances,
)
from tests.conformance.registry import Context, checker


def resolution_view(call: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    req = request_from(call)
    view: dict[str, Any] = {}
    refused: RoutingError | None = None
    try:
        route_class, source = resolve_route(merge_env_overrides(req, env))
        view.update(routeClass=route_class, resolutionSource=source)
    except RoutingError as err:
        refused = err
    plan = plan_route(req, env, budget_book())
    failure = plan.failure
    assert refused is None or failure is not None, f"resolution refused ({refused}) but the wrapper planned a call"
    view.update(budgetCategory=plan.budget_category, overrideUsed=plan.override_used)
    if failure is not None:
        view.update(errorCode=str(failure.code), retryable=failure.retryable, message=failure.message)
    return view


@checker(FILE, "route_resolution")
def check(case: Any, ctx: Context) -> None:
    inp = dict(case["input"])
    env = env_of(inp.pop("env", None))
    call = inp.pop("call", inp)
    assert call is inp or not inp, f"route_resolution fields beside the call, not interpretable: {sorted(inp)}"
    exp = expected_of(case)
    view = resolution_view(call, env)
    for needle in needles(exp.pop("messageContains", [])):
        assert needle in str(view.get("message")), f"{needle!r} not in {view.get('message')!r}"
    assert_matches(view, exp, tolerances(case))
