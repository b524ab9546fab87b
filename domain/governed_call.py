"""The governed call (llm-routing §6.1): prompt, fail-closed key check, routing, attempts, audit events."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from paulp.domain.budgets import BudgetUsage
from paulp.domain.executor import CallPort, Execution, Usage, execute_plan
from paulp.domain.js_text import js_trim
from paulp.domain.llm_prompts import UNKNOWN, PromptLoadError, load_prompt, render
from paulp.domain.routing import ErrorCode, RouteRequest, RoutingError
from paulp.domain.routing_decision import (
    AuditEvent,
    DecisionRecord,
    RoutingDecision,
    decide,
    routing_audit_events,
)
from paulp.domain.routing_plan import BudgetGate, Failure, plan_route

ESTIMATED_OUTPUT_TOKENS = 500
PROVIDER_KEY_VARS: tuple[tuple[str, str], ...] = (
    ("anthropic", "ANTHROPIC_API_KEY"),
    ("minimax", "MINIMAX_API_KEY"),
    ("moonshot", "MOONSHOT_API_KEY"),
    ("google", "GOOGLE_AI_API_KEY"),
)


class ProviderKeyMissing(RoutingError):
    """Raised when any of the four provider keys is absent or blank: fail closed before routing."""

    code = ErrorCode.PROVIDER_KEY_MISSING

    def __init__(self, missing: list[str]) -> None:
        super().__init__(f"Missing required LLM provider API keys: {', '.join(missing)}")
        self.missing_keys = ",".join(missing)


def provider_keys(env: Mapping[str, str]) -> dict[str, str]:
    """All four keys, trimmed as the source trims (ADR 0453), whichever model the call would use."""
    keys = {provider: js_trim(env.get(var) or "") for provider, var in PROVIDER_KEY_VARS}
    missing = [var for provider, var in PROVIDER_KEY_VARS if not keys[provider]]
    if missing:
        raise ProviderKeyMissing(missing)
    return keys


def estimate_input_tokens(system_prompt: str, user_prompt: str) -> int:
    """ceil(chars / 4); Python counts code points where the source counted UTF-16 units (ADR 0186)."""
    return math.ceil((len(system_prompt) + len(user_prompt)) / 4)


@dataclass(frozen=True)
class GovernedRequest:
    run_type: str
    variables: Mapping[str, object]
    strategy_id: str | None = None
    force_model: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GovernedResult:
    success: bool
    routing_decision_id: str
    prompt_hash: str
    prompt_version: str
    latency_ms: int
    audit_events: list[AuditEvent]
    content: str | None = None
    model_id: str | None = None
    usage: Usage | None = None
    error: Failure | None = None
    execution: Execution | None = None
    decision: DecisionRecord | None = None
    budget_usage: BudgetUsage | None = None
    aggregate: RoutingDecision | None = None  # unsaved: the service saves it

    @property
    def retryable(self) -> bool:
        return self.error.retryable if self.error else False


def governed_call(req: GovernedRequest, env: Mapping[str, str], budget: BudgetGate, call: CallPort,
                  decision_id: UUID, started_at: datetime, finished_at: datetime) -> GovernedResult:
    """§6.1 steps 1-8; ids and both clock readings are inputs so this stays pure."""
    latency = int((finished_at - started_at).total_seconds() * 1000)
    try:
        prompt = load_prompt(req.run_type)
    except PromptLoadError as err:
        failure = Failure(ErrorCode.PROMPT_LOAD_ERROR, err.message, err.message)
        return GovernedResult(False, str(decision_id), UNKNOWN, UNKNOWN, latency, [], error=failure)
    try:
        provider_keys(env)
    except ProviderKeyMissing as err:
        missing = AuditEvent("LLM_PROVIDER_KEY_MISSING", "llm_call", req.run_type, {
            "runType": req.run_type, "missingKeys": err.missing_keys, "errorMessage": err.message})
        failure = Failure(ErrorCode.PROVIDER_KEY_MISSING, err.message, err.message)
        return GovernedResult(False, str(decision_id), prompt.hash, prompt.version, latency, [missing], error=failure)
    user = render(prompt.user_prompt_template, req.variables)
    request = RouteRequest(req.run_type, estimate_input_tokens(prompt.system_prompt, user),
                           ESTIMATED_OUTPUT_TOKENS, strategy_id=req.strategy_id, force_model=req.force_model,
                           metadata=dict(req.metadata))
    execution = execute_plan(plan_route(request, env, budget), call)
    aggregate = decide(decision_id, execution, started_at, finished_at)
    record = aggregate.record()
    audit = routing_audit_events(record)
    usage_fact = None
    if execution.success and execution.usage is not None and record.budget_category is not None:
        usage_fact = BudgetUsage.recorded(str(decision_id), record.budget_category, execution.usage.cost_usd,
                                          finished_at)
        audit.append(AuditEvent("LLM_CALL_COMPLETED", "llm_call", req.run_type, {
            "runType": req.run_type, "modelId": execution.resolved_model_id, "latencyMs": latency,
            "costUsd": execution.usage.cost_usd, "inputTokens": execution.usage.input_tokens,
            "outputTokens": execution.usage.output_tokens, "promptVersion": prompt.version,
            "promptHash": prompt.hash}))
    elif execution.failure is not None:
        audit.append(AuditEvent("LLM_CALL_FAILED", "llm_call", req.run_type, {
            "runType": req.run_type, "errorCode": str(execution.failure.code),
            "errorMessage": execution.failure.message, "promptVersion": prompt.version,
            "promptHash": prompt.hash, "latencyMs": latency}))
    return GovernedResult(execution.success, str(decision_id), prompt.hash, prompt.version, latency, audit,
                          content=execution.content, model_id=execution.resolved_model_id,
                          usage=execution.usage, error=execution.failure, execution=execution, decision=record,
                          budget_usage=usage_fact, aggregate=aggregate)
