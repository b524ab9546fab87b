"""llm-routing §6.1: the governed call (prompt, keys, routing, attempts, audit events)."""

from datetime import timedelta
from typing import Any

from paulp.domain.governed_call import GovernedRequest, governed_call
from paulp.domain.llm_prompts import PROMPTS
from tests.conformance.checkers._llm_support import (
    DECISION_ID,
    FILE,
    FIXED_NOW,
    ScriptedPort,
    assert_matches,
    budget_book,
    expected_of,
    tolerances,
)
from tests.conformance.registry import Context, checker

ALL_KEYS = {"ANTHROPIC_API_KEY": "a", "MINIMAX_API_KEY": "m", "MOONSHOT_API_KEY": "k", "GOOGLE_AI_API_KEY": "g"}
_OUTCOMES = {"success": ["ok"], "failure": ["error"] * 4}


@checker(FILE, "executor")
def check(case: Any, ctx: Context) -> None:
    inp, exp = case["input"], expected_of(case)
    run_type = inp.get("runType") or next(iter(PROMPTS)).value
    outcomes = inp.get("attemptOutcomes") or _OUTCOMES.get(inp.get("outcome", "success"))
    assert outcomes is not None, f"cannot interpret executor input {sorted(inp)}"
    port = ScriptedPort(list(outcomes), 0, 0, inp.get("usage"))
    env = inp.get("env", ALL_KEYS)
    req = GovernedRequest(run_type, inp.get("variables", {"marketTitle": "T", "resolutionCriteria": "C"}),
                          strategy_id=inp.get("strategyId"), force_model=inp.get("forceModel"))
    result = governed_call(req, env, budget_book(), port, DECISION_ID, FIXED_NOW,
                           FIXED_NOW + timedelta(milliseconds=250))
    assert not port.overrun, f"called past the script: {port.called}"
    view: dict[str, Any] = {"success": result.success, "promptHash": result.prompt_hash,
                            "promptVersion": result.prompt_version,
                            "auditEvents": [e.event_type for e in result.audit_events],
                            "attempted": port.called, "executorCalled": bool(port.called), "modelId": result.model_id}
    if result.error is not None:
        view.update(errorCode=result.error.code, retryable=result.error.retryable, message=result.error.message)
    if "auditEvent" in exp:
        event = next((e for e in result.audit_events if e.event_type == exp["auditEvent"]), None)
        assert event is not None, f"no {exp['auditEvent']} in {view['auditEvents']}"
        view["auditEvent"] = event.event_type
        view["payloadKeys"] = list(event.payload)
    assert_matches(view, exp, tolerances(case))
