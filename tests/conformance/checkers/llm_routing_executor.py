"""llm-routing §6.1: the governed call (prompt, keys, routing, attempts, audit events)."""

from datetime import timedelta
from typing import Any

from paulp.domain.governed_call import (
    ESTIMATED_OUTPUT_TOKENS,
    GovernedRequest,
    estimate_input_tokens,
    governed_call,
)
from paulp.domain.llm_prompts import PROMPTS, PromptLoadError, load_prompt, render
from tests.conformance.checkers._llm_support import (
    DECISION_ID,
    FILE,
    FIXED_NOW,
    ScriptedPort,
    assert_matches,
    attempt_error_codes,
    budget_book,
    env_of,
    expected_of,
    needles,
    tolerances,
)
from tests.conformance.registry import Context, checker

ALL_KEYS = {"ANTHROPIC_API_KEY": "a", "MINIMAX_API_KEY": "m", "MOONSHOT_API_KEY": "k", "GOOGLE_AI_API_KEY": "g"}
_OUTCOMES = {"success": ["ok"], "failure": ["error"] * 4}
_INPUT_KEYS = {"runType", "attemptOutcomes", "outcome", "usage", "env", "variables", "strategyId", "forceModel",
               "metadata"}


def _estimated_input(run_type: str, variables: dict[str, Any]) -> int:
    """§6.1 step 4's estimate, which an 'ok' attempt reports as its usage by default (meta conventions)."""
    try:
        prompt = load_prompt(run_type)
    except PromptLoadError:
        return 0
    return estimate_input_tokens(prompt.system_prompt, render(prompt.user_prompt_template, variables))


@checker(FILE, "executor")
def check(case: Any, ctx: Context) -> None:
    inp, exp = case["input"], expected_of(case)
    assert not set(inp) - _INPUT_KEYS, f"cannot interpret executor input {sorted(set(inp) - _INPUT_KEYS)}"
    # Only an absent field takes the default: "" is a run type with no prompt, [] a script allowing no call.
    run_type = inp["runType"] if "runType" in inp else next(iter(PROMPTS)).value
    assert isinstance(run_type, str), f"executor runType must be text: {run_type!r}"
    for key, kind in (("strategyId", str), ("forceModel", str), ("metadata", dict), ("variables", dict)):
        value = inp.get(key)
        assert value is None or isinstance(value, kind), f"executor {key} must be {kind.__name__}: {value!r}"
    outcomes = inp["attemptOutcomes"] if "attemptOutcomes" in inp else _OUTCOMES.get(inp.get("outcome", "success"))
    assert outcomes is not None, f"cannot interpret executor input {sorted(inp)}"
    variables = inp.get("variables", {"marketTitle": "T", "resolutionCriteria": "C"})
    port = ScriptedPort(list(outcomes), _estimated_input(run_type, variables), ESTIMATED_OUTPUT_TOKENS,
                        inp.get("usage"))
    env = env_of(inp["env"]) if "env" in inp else ALL_KEYS
    req = GovernedRequest(run_type, variables,
                          strategy_id=inp.get("strategyId"), force_model=inp.get("forceModel"),
                          metadata=inp.get("metadata") or {})
    result = governed_call(req, env, budget_book(), port, DECISION_ID, FIXED_NOW,
                           FIXED_NOW + timedelta(milliseconds=250))
    assert not port.overrun, f"called past the script: {port.called}"
    view: dict[str, Any] = {"success": result.success, "promptHash": result.prompt_hash,
                            "promptVersion": result.prompt_version,
                            "auditEvents": [e.event_type for e in result.audit_events],
                            "attempted": port.called, "executorCalled": bool(port.called), "modelId": result.model_id}
    if result.usage is not None:
        u = result.usage
        view["usage"] = {"inputTokens": u.input_tokens, "outputTokens": u.output_tokens,
                         "cachedTokens": u.cached_tokens, "costUsd": u.cost_usd}
    if result.execution is not None:
        view["attemptErrorCodes"] = attempt_error_codes(result.execution)
    if result.error is not None:
        view.update(errorCode=result.error.code, retryable=result.error.retryable, message=result.error.message)
    # The meta note: messages are checked where messageContains lists them (the returned error's message, or
    # the stored decision's failure reason, as the routed groups read it).
    texts = [t for t in (result.error.message if result.error else None,
                         result.decision.failure_reason if result.decision else None) if t]
    for needle in needles(exp.pop("messageContains", [])):
        assert any(needle in t for t in texts), f"{needle!r} not in {texts}"
    if "auditEvent" in exp:
        event = next((e for e in result.audit_events if e.event_type == exp["auditEvent"]), None)
        assert event is not None, f"no {exp['auditEvent']} in {view['auditEvents']}"
        view["auditEvent"] = event.event_type
        view["payloadKeys"] = list(event.payload)
        view["payload"] = dict(event.payload)
    assert_matches(view, exp, tolerances(case))
