"""llm-routing §6.2/§6.4: provider failure classification, the router's reaction, per-provider timeouts."""

import json
from typing import Any

from paulp.adapters.llm.base import network_error, parse_error
from paulp.domain.executor import (
    PROVIDER_TIMEOUT_MS,
    CallResult,
    ProviderError,
    Usage,
    execute_plan,
    provider_http_error,
    provider_timeout,
    routing_action,
    timeout_ms,
)
from paulp.domain.routing import MODELS, ErrorCode, Provider, RouteRequest
from paulp.domain.routing_plan import plan_route
from tests.conformance.checkers._json_numbers import json_int
from tests.conformance.checkers._llm_support import (
    FILE,
    NETWORK_EVENTS,
    PARSE_EVENTS,
    assert_matches,
    budget_book,
    expected_of,
    needles,
    tolerances,
)
from tests.conformance.registry import Context, checker

_INPUT_KEYS = {"provider", "httpStatus", "body", "event"}


def _error(inp: dict[str, Any]) -> ProviderError:
    assert not set(inp) - _INPUT_KEYS, f"cannot interpret provider_error input {sorted(set(inp) - _INPUT_KEYS)}"
    event = inp.get("event")
    if event == "timeout":
        return provider_timeout(inp["provider"])
    if event in NETWORK_EVENTS:
        return network_error(Provider(inp["provider"]), ConnectionError(event))
    if event in PARSE_EVENTS:
        return parse_error(Provider(inp["provider"]), str(event))
    assert event is None and "httpStatus" in inp, f"cannot interpret provider_error input {inp}"
    status, body = json_int(inp["httpStatus"]), inp.get("body", "")
    # §6.2 maps failing statuses; "429" is not read as 429 (429.0 is: the same JSON number, ADR 0486), and a 2xx
    # is no failure at all.
    assert isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599 \
        and not 200 <= status <= 299, f"httpStatus must be a failing HTTP status (an integer): {status!r}"
    assert isinstance(body, str | dict | list), f"body must be text or JSON: {body!r}"
    return provider_http_error(inp["provider"], status,
                               body if isinstance(body, str) else json.dumps(body, separators=(",", ":")))


_RUN_TYPES = ("general_enrichment", "signal_scanning", "wallet_cluster_synthesis", "ambiguity_score")


def _observed_reaction(provider: str, err: ProviderError) -> tuple[str, int]:
    """Run a chain where this provider's model fails with ``err``: does the router move on, and retry it?

    A model that is last in every chain (Cloudflare) has no next model: moving on is then observed as the
    chain ending in ALL_MODELS_FAILED after exactly one call of it, its attempt recorded with ``err``'s code."""
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

    plans = [plan_route(RouteRequest(rt, 100, 50), {}, budget_book()) for rt in _RUN_TYPES]
    mid = next((p for p in plans if model_id in p.attempts and p.attempts.index(model_id) < len(p.attempts) - 1),
               None)
    if mid is not None:
        execution = execute_plan(mid, port)
        _assert_attempt_code(execution.attempts, model_id, err)
        moved_on = execution.success and execution.attempted[-1] != model_id
        return ("fallback_to_next_model" if moved_on else "stop"), calls.count(model_id) - 1
    last = next((p for p in plans if p.attempts and p.attempts[-1] == model_id), None)
    assert last is not None, f"no chain tries {model_id}"
    execution = execute_plan(last, port)
    _assert_attempt_code(execution.attempts, model_id, err)
    assert calls.count(model_id) == 1, f"{model_id} called {calls.count(model_id)} times: {calls}"
    failure = execution.failure
    code = None if failure is None else failure.code
    assert code == ErrorCode.ALL_MODELS_FAILED, f"chain ending at {model_id} ended with {code}, not ALL_MODELS_FAILED"
    return "fallback_to_next_model", 0


def _assert_attempt_code(attempts: Any, model_id: str, err: ProviderError) -> None:
    codes = [a.error_code for a in attempts if a.model_id == model_id]
    assert codes == [err.code], f"attempt codes of {model_id}: {codes} != [{err.code}]"


def _timeout_table() -> dict[str, Any]:
    """The §6.4 table as the reference has it (Cloudflare none), plus both sides as keys of their own: the
    reference's value and the timeout Paul P's adapters apply (the recommended 60 s, ADR 0183)."""
    view: dict[str, Any] = {str(p): PROVIDER_TIMEOUT_MS[p] for p in Provider}
    for p in Provider:
        view[f"reference{str(p).capitalize()}"] = PROVIDER_TIMEOUT_MS[p]
        view[f"recommended{str(p).capitalize()}"] = timeout_ms(p)
    return view


@checker(FILE, "provider_error")
def check(case: Any, ctx: Context) -> None:
    inp = case["input"]
    if not inp:
        table = _timeout_table()
        assert_matches(table, expected_of(case, carried=table), tolerances(case))
        return
    exp = expected_of(case)
    err = _error(inp)
    action, retries = _observed_reaction(inp["provider"], err)
    assert action == routing_action(ErrorCode(err.code)), f"executor reaction {action} vs policy"
    view: dict[str, Any] = {"errorCode": err.code, "routingAction": action, "sameModelRetries": retries,
                            "provider": inp["provider"], "retryable": err.retryable}
    if "httpStatus" in inp:
        view["httpStatus"] = inp["httpStatus"]
        assert str(json_int(inp["httpStatus"])) in err.message, err.message
    assert inp["provider"] in err.message, err.message
    for text in needles(exp.pop("messageContains", [])):  # one string or a list; never its characters
        assert text in err.message, f"{text!r} not in {err.message!r}"
    assert_matches(view, exp, tolerances(case))
