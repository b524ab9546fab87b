"""Executor core and governed call: chain order, no retries, never a call when failed closed, key check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from paulp.adapters.llm.registry import LlmSettings
from paulp.domain.budgets import BudgetBook, derive_budget
from paulp.domain.executor import (
    CallResult,
    ProviderRateLimited,
    ProviderServerError,
    Usage,
    execute_plan,
    provider_http_error,
)
from paulp.domain.governed_call import GovernedRequest, ProviderKeyMissing, governed_call, provider_keys
from paulp.domain.routing import ErrorCode, RouteRequest
from paulp.domain.routing_plan import plan_route

NOW = datetime(2026, 3, 15, 12, tzinfo=UTC)
KEYS = {"ANTHROPIC_API_KEY": "a", "MINIMAX_API_KEY": "m", "MOONSHOT_API_KEY": "k", "GOOGLE_AI_API_KEY": "g"}


def _book(consumed: float = 0.0) -> BudgetBook:
    env = derive_budget().envelopes
    return BudgetBook(env, dict.fromkeys(env, consumed), dict.fromkeys(env, consumed), NOW)


def _never(model_id: str) -> CallResult:
    raise AssertionError(f"provider called for {model_id}")


def test_execute_when_plan_failed_closed_then_port_never_called() -> None:
    plan = plan_route(RouteRequest("ambiguity_score", 1000, 200), {}, _book(consumed=1e9))
    execution = execute_plan(plan, _never)
    assert not execution.success and execution.attempts == ()
    assert execution.failure is not None and execution.failure.code is ErrorCode.BUDGET_EXCEEDED


def test_execute_when_every_model_fails_then_each_tried_once_and_last_error_kept() -> None:
    plan = plan_route(RouteRequest("signal_scanning", 10, 10), {}, _book())
    calls: list[str] = []

    def port(model_id: str) -> CallResult:
        calls.append(model_id)
        raise ProviderRateLimited(f"{model_id} 429")

    execution = execute_plan(plan, port)
    assert calls == list(plan.attempts) and len(set(calls)) == len(calls)
    assert execution.failure is not None and execution.failure.code is ErrorCode.ALL_MODELS_FAILED
    assert execution.failure.retryable and execution.failure.reason == f"{plan.attempts[-1]} 429"
    assert [a.error_code for a in execution.attempts] == [ErrorCode.PROVIDER_RATE_LIMITED] * 4


def test_execute_when_provider_reports_no_cost_then_tokens_priced() -> None:
    plan = plan_route(RouteRequest("ambiguity_score", 1000, 200), {}, _book())
    execution = execute_plan(plan, lambda m: CallResult("x", Usage(1000, 200), 7))
    assert execution.usage is not None and execution.usage.cost_usd == pytest.approx(0.03, rel=1e-9)


def test_http_error_when_unexpected_status_then_server_error_with_trimmed_body() -> None:
    err = provider_http_error("google", 422, "x" * 500)
    assert isinstance(err, ProviderServerError) and "google" in err.message and "422" in err.message
    assert "x" * 201 not in err.message


def test_keys_when_blank_then_missing_in_provider_order() -> None:
    with pytest.raises(ProviderKeyMissing) as err:
        provider_keys({"GOOGLE_AI_API_KEY": " ", "ANTHROPIC_API_KEY": "a"})
    assert err.value.missing_keys == "MINIMAX_API_KEY,MOONSHOT_API_KEY,GOOGLE_AI_API_KEY"


@pytest.mark.parametrize("blank", ["\ufeff", "\u00a0 ", "\u2028\t", "\u3000"])
def test_keys_when_only_js_whitespace_then_missing(blank: str) -> None:
    """§6.1 step 2 trims as the source's String.prototype.trim, which removes a byte-order mark (ADR 0453)."""
    env = {"ANTHROPIC_API_KEY": "a", "MINIMAX_API_KEY": "m", "MOONSHOT_API_KEY": "k", "GOOGLE_AI_API_KEY": blank}
    with pytest.raises(ProviderKeyMissing) as err:
        provider_keys(env)
    assert err.value.missing_keys == "GOOGLE_AI_API_KEY"


def test_keys_when_padded_with_js_whitespace_then_checked_and_sent_trimmed() -> None:
    """The key check and the adapters' settings trim alike: the key that passes the check is the key sent."""
    env = {"ANTHROPIC_API_KEY": "\ufeffsk-ant\n", "MINIMAX_API_KEY": "m\u00a0", "MOONSHOT_API_KEY": "\x1fk",
           "GOOGLE_AI_API_KEY": "g"}
    keys = provider_keys(env)
    assert keys == {"anthropic": "sk-ant", "minimax": "m", "moonshot": "\x1fk", "google": "g"}
    settings = LlmSettings.from_env(env)
    assert {str(p): v for p, v in settings.keys.items()} == keys


def test_governed_call_when_key_missing_then_no_decision_and_no_call() -> None:
    result = governed_call(GovernedRequest("ambiguity_score", {}), {}, _book(), _never, UUID(int=1), NOW, NOW)
    assert not result.success and result.decision is None and result.error is not None
    assert [e.event_type for e in result.audit_events] == ["LLM_PROVIDER_KEY_MISSING"]


def test_governed_call_when_success_then_usage_recorded_and_audited() -> None:
    req = GovernedRequest("resolution_analysis", {"marketTitle": "T", "resolutionCriteria": "C"})
    result = governed_call(req, KEYS, _book(), lambda m: CallResult("{}", Usage(100, 50, 0, 0.0), 9),
                           UUID(int=2), NOW, NOW + timedelta(milliseconds=30))
    assert result.success and result.latency_ms == 30 and result.budget_usage is not None
    assert result.budget_usage.daily_period_key == "2026-03-15"
    assert [e.event_type for e in result.audit_events] == ["LLM_ROUTING_DECISION", "LLM_CALL_COMPLETED"]
    assert result.aggregate is not None and result.aggregate.success


def test_execute_when_answers_were_evidenced_then_each_attempt_keeps_its_hash() -> None:
    # Arrange: the first model's error names the body it was read from, the second answers with its own
    plan = plan_route(RouteRequest("ambiguity_score", 1000, 200), {}, _book())
    failed, answered = "a" * 64, "b" * 64

    def port(model_id: str) -> CallResult:
        if model_id == plan.attempts[0]:
            error = ProviderRateLimited("anthropic API rate limited (HTTP 429): slow down")
            error.evidence_hash = failed
            raise error
        return CallResult("ok", Usage(10, 5), 12, answered)

    # Act
    execution = execute_plan(plan, port)
    # Assert
    assert execution.success
    assert [(a.success, a.evidence_hash) for a in execution.attempts] == [(False, failed), (True, answered)]


def test_execute_when_failure_had_no_answer_then_attempt_has_no_hash() -> None:
    plan = plan_route(RouteRequest("ambiguity_score", 1000, 200), {}, _book())

    def port(model_id: str) -> CallResult:
        raise TimeoutError("no answer")

    execution = execute_plan(plan, port)
    assert not execution.success and all(a.evidence_hash is None for a in execution.attempts)
