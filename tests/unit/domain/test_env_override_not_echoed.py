"""An environment override that is not a known model id or route class is refused naming the variable, never
quoting its value (api-and-security §8, llm-routing §3.2; ADR 0514).

Both variables are secrets in the runbook (``wrangler secret put``) and ``SecretStr`` in Settings. A value that is
not a manifest id is typically something pasted into the wrong variable (a provider key). It went into the failed
plan's message and reason, which are persisted on the routing decision, so into the audit chain, the decisions
view, NATS and ``paulp llm route``. A caller's own ``forceModel`` is its input and is still quoted.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from paulp.domain.budgets import BudgetBook, derive_budget
from paulp.domain.routing import ErrorCode, RouteRequest
from paulp.domain.routing_plan import plan_route

PASTED = "sk-ant-api03-pasted-into-the-wrong-variable-7c9e"
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _book() -> BudgetBook:
    envelopes = derive_budget().envelopes
    return BudgetBook(envelopes, dict.fromkeys(envelopes, 0.0), dict.fromkeys(envelopes, 0.0), NOW)


@pytest.mark.parametrize(("variable", "code"), [("LLM_ROUTING_FORCE_MODEL", ErrorCode.INVALID_FORCED_MODEL),
                                                ("LLM_ROUTING_FORCE_ROUTE_CLASS",
                                                 ErrorCode.INVALID_FORCED_ROUTE_CLASS)])
def test_plan_when_env_override_is_not_a_known_value_then_failure_names_the_variable_not_the_value(
        variable: str, code: ErrorCode) -> None:
    # Act
    plan = plan_route(RouteRequest("general_enrichment", 100, 50), {variable: PASTED}, _book())
    # Assert: the same fail-closed plan, its persisted texts without the value
    assert plan.failure is not None and plan.failure.code == code
    persisted = f"{plan.failure.message} {plan.failure.reason} {plan!r}"
    assert PASTED not in persisted and PASTED[:12] not in persisted, persisted
    assert variable in plan.failure.message


def test_plan_when_call_forces_an_unknown_model_then_the_callers_value_is_still_quoted() -> None:
    plan = plan_route(RouteRequest("general_enrichment", 100, 50, force_model="openai:gpt-4"), {}, _book())
    assert plan.failure is not None and plan.failure.message == "Invalid forced model: openai:gpt-4"
