"""llm-routing §6.2/§6.4: provider failure classification, the router's reaction, per-provider timeouts."""

from typing import Any

from paulp.domain.executor import (
    PROVIDER_TIMEOUT_MS,
    CallResult,
    ProviderError,
    Usage,
    execute_plan,
    provider_http_error,
    provider_timeout,
    routing_action,
)
from paulp.domain.routing import MODELS, ErrorCode, Provider, RouteRequest
from paulp.domain.routing_plan import plan_route
from tests.conformance.checkers._llm_support import FILE, assert_matches, budget_book, expected_of, tolerances
from tests.conformance.registry import Context, checker


def _error(inp: dict[str, Any]) -> ProviderError:
    if inp.get("event") == "timeout":
        return provider_timeout(inp["provider"])
    assert "httpStatus" in inp, f"cannot interpret provider_error input {sorted(inp)}"
    return provider_http_error(inp["provider"], int(inp["httpStatus"]), inp.get("body", ""))


def _observed_reaction(provider: str, err: ProviderError) -> tuple[str, int]:
    """Run a chain where this provider's model fails with ``err``: does the router move on, and retry it?"""
    model_id = next(m for m, spec in MODELS.items() if spec.provider == provider)
    calls: list[str] = []
    reached = False

    def port(m: str) -> CallResult:
        nonlocal reached
        calls.append(m)
        if m == model_id:
            reached = True
            raise err
        if not reached:
            raise RuntimeError("earlier model down")
        return CallResult("ok", Usage(1, 1), 1)

    for run_type in ("general_enrichment", "signal_scanning", "wallet_cluster_synthesis", "ambiguity_score"):
        plan = plan_route(RouteRequest(run_type, 100, 50), {}, budget_book())
        if model_id in plan.attempts and plan.attempts.index(model_id) < len(plan.attempts) - 1:
            execution = execute_plan(plan, port)
            moved_on = execution.success and execution.attempted[-1] != model_id
            return ("fallback_to_next_model" if moved_on else "stop"), calls.count(model_id) - 1
    raise AssertionError(f"no chain tries {model_id} before another model")


@checker(FILE, "provider_error")
def check(case: Any, ctx: Context) -> None:
    inp, exp = case["input"], expected_of(case)
    if not inp:
        table = {str(p): PROVIDER_TIMEOUT_MS[p] for p in Provider}
        assert_matches(table, exp, tolerances(case))
        return
    err = _error(inp)
    action, retries = _observed_reaction(inp["provider"], err)
    assert action == routing_action(ErrorCode(err.code)), f"executor reaction {action} vs policy"
    view: dict[str, Any] = {"errorCode": err.code, "routingAction": action, "sameModelRetries": retries,
                            "provider": inp["provider"], "retryable": err.retryable}
    if "httpStatus" in inp:
        view["httpStatus"] = inp["httpStatus"]
        assert str(inp["httpStatus"]) in err.message, err.message
    assert inp["provider"] in err.message, err.message
    for text in exp.pop("messageContains", []):
        assert text in err.message, f"{text!r} not in {err.message!r}"
    assert_matches(view, exp, tolerances(case))
