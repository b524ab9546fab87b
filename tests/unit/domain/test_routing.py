"""Routing policy: resolution precedence, overrides fail closed, hard control, cost, plan order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paulp.domain.budgets import BudgetBook, derive_budget
from paulp.domain.routing import (
    CHAINS,
    GEMINI,
    KIMI,
    LLAMA,
    MODELS,
    OPUS,
    ErrorCode,
    InvalidForcedModel,
    InvalidForcedRouteClass,
    ManifestLookupError,
    ResolutionSource,
    RouteClass,
    RouteRequest,
    RunType,
    UnknownRunType,
    attempt_order,
    cost_usd,
    decision_hash,
    merge_env_overrides,
    model_spec,
    parse_model_id,
    resolve_route,
)
from paulp.domain.routing_plan import plan_route

NOW = datetime(2026, 3, 15, 12, tzinfo=UTC)


def _book(consumed: float = 0.0) -> BudgetBook:
    envelopes = derive_budget().envelopes
    return BudgetBook(envelopes, dict.fromkeys(envelopes, consumed), dict.fromkeys(envelopes, consumed), NOW)


def test_resolve_when_premium_run_type_with_strategy_then_premium_safety_critical() -> None:
    # Arrange
    req = RouteRequest("ambiguity_score", 10, 10, strategy_id="smart-money-core")
    # Act
    result = resolve_route(req)
    # Assert
    assert result == (RouteClass.PREMIUM_COGNITION, ResolutionSource.SAFETY_CRITICAL)


def test_resolve_when_strategy_has_both_markers_then_smart_money_wins() -> None:
    result = resolve_route(RouteRequest("general_enrichment", 1, 1, strategy_id="XVSIGNAL-Smart-Money"))
    assert result == (RouteClass.SYNTHESIS_LONG_CONTEXT, ResolutionSource.STRATEGY_SPECIFIC)


def test_resolve_when_underscore_strategy_then_default_low_cost() -> None:
    assert resolve_route(RouteRequest("general_enrichment", 1, 1, strategy_id="smart_money")) == (
        RouteClass.CHEAP_ENRICHMENT, ResolutionSource.DEFAULT_LOW_COST)


def test_resolve_when_unknown_run_type_then_raises_unknown_run_type() -> None:
    with pytest.raises(UnknownRunType) as err:
        resolve_route(RouteRequest("rule_interpretation", 1, 1))
    assert err.value.code == "UNKNOWN_RUN_TYPE" and not err.value.retryable


@given(st.sampled_from(list(RunType)), st.booleans(), st.one_of(st.none(), st.text(max_size=20)))
def test_resolve_when_repeated_then_same_class_and_never_hard_control(rt: RunType, stakes: bool,
                                                                      sid: str | None) -> None:
    req = RouteRequest(rt, 100, 50, strategy_id=sid, is_highest_stakes=stakes)
    first, second = resolve_route(req), resolve_route(req)
    assert first == second
    assert first[0] is not RouteClass.DETERMINISTIC_HARD_CONTROL


def test_merge_when_both_env_values_invalid_then_invalid_forced_model_first() -> None:
    env = {"LLM_ROUTING_FORCE_MODEL": "x:y", "LLM_ROUTING_FORCE_ROUTE_CLASS": "nope"}
    with pytest.raises(InvalidForcedModel):
        merge_env_overrides(RouteRequest("general_enrichment", 1, 1), env)


def test_merge_when_call_forces_unknown_class_then_invalid_forced_route_class() -> None:
    with pytest.raises(InvalidForcedRouteClass):
        merge_env_overrides(RouteRequest("general_enrichment", 1, 1, force_route_class="gold"), {})


def test_merge_when_env_class_and_no_reason_then_reason_defaults() -> None:
    merged = merge_env_overrides(RouteRequest("general_enrichment", 1, 1),
                                 {"LLM_ROUTING_FORCE_ROUTE_CLASS": "scanner_fastpath"})
    assert merged.force_route_class == "scanner_fastpath"
    assert merged.override_reason == "environment forced route-class override"


def test_plan_when_env_kill_switch_then_hard_control_forbidden_and_no_attempts() -> None:
    plan = plan_route(RouteRequest("signal_scanning", 1, 1, force_model=OPUS),
                      {"LLM_ROUTING_FORCE_ROUTE_CLASS": "deterministic_hard_control"}, _book())
    assert plan.failure is not None and plan.failure.code is ErrorCode.DETERMINISTIC_HARD_CONTROL_FORBIDDEN
    assert plan.attempts == () and plan.selected_model_id is None and plan.projected_cost_usd == 0


def test_plan_when_call_forces_unknown_model_then_fails_closed_with_zero_cost() -> None:
    plan = plan_route(RouteRequest("ambiguity_score", 1000, 100, force_model="anthropic:opus-9"), {}, _book())
    assert plan.failure is not None and plan.failure.code is ErrorCode.INVALID_FORCED_MODEL
    assert plan.override_used and plan.resolution_source is ResolutionSource.FORCED_OVERRIDE
    assert plan.projected_cost_usd == 0 and plan.attempts == ()


def test_plan_when_call_forces_unknown_model_under_env_class_then_unmerged_class_and_callers_reason() -> None:
    # §3.3: the failed decision keeps the class resolved from the un-merged input and the caller's (absent) reason.
    plan = plan_route(RouteRequest("ambiguity_score", 1000, 100, force_model="anthropic:opus-9"),
                      {"LLM_ROUTING_FORCE_ROUTE_CLASS": "cheap_enrichment"}, _book())
    assert plan.failure is not None and plan.failure.code is ErrorCode.INVALID_FORCED_MODEL
    assert plan.route_class is RouteClass.PREMIUM_COGNITION and plan.override_reason is None
    assert plan.override_used and plan.resolution_source is ResolutionSource.FORCED_OVERRIDE


def test_plan_when_unknown_run_type_then_unknown_run_type_and_no_category() -> None:
    plan = plan_route(RouteRequest("rule_interpretation", 1, 1), {}, _book())
    assert plan.failure is not None and plan.failure.code is ErrorCode.UNKNOWN_RUN_TYPE
    assert plan.budget_category is None and plan.attempts == ()


def test_plan_when_budget_exhausted_then_budget_exceeded_keeps_selected_model() -> None:
    plan = plan_route(RouteRequest("ambiguity_score", 1000, 200), {}, _book(consumed=1e6))
    assert plan.failure is not None and plan.failure.code is ErrorCode.BUDGET_EXCEEDED
    assert plan.failure.reason.startswith("Budget exceeded: ")
    assert plan.selected_model_id == OPUS and plan.attempts == ()
    assert plan.projected_cost_usd == pytest.approx(0.03, rel=1e-9)


def test_plan_when_forced_model_then_single_attempt() -> None:
    plan = plan_route(RouteRequest("ambiguity_score", 10, 10, force_model=LLAMA), {}, _book())
    assert plan.attempts == (LLAMA,) and plan.route_class is RouteClass.PREMIUM_COGNITION


def test_chains_when_llm_allowed_then_four_attempts_ending_with_cloudflare() -> None:
    for rc in CHAINS:
        if rc is RouteClass.DETERMINISTIC_HARD_CONTROL:
            assert attempt_order(rc) == ()
        else:
            assert len(attempt_order(rc)) == 4 and attempt_order(rc)[-1] == LLAMA


def test_cost_when_cached_exceeds_input_then_noncached_clamped() -> None:
    assert cost_usd(OPUS, 100, 0, 300) == pytest.approx(300 / 1e6 * 1.5, rel=1e-12)


def test_cost_when_model_has_no_cached_rate_then_cached_priced_as_input() -> None:
    assert cost_usd(KIMI, 1000, 0, 400) == pytest.approx(1000 / 1e6 * 0.12, rel=1e-12)


def test_model_lookup_when_unknown_then_manifest_error() -> None:
    with pytest.raises(ManifestLookupError):
        model_spec("anthropic:nope")


def test_parse_model_id_when_cloudflare_then_split_at_first_colon() -> None:
    assert parse_model_id(LLAMA) == ("cloudflare", "@cf/meta/llama-3.1-70b-instruct")
    assert {parse_model_id(m)[0] for m in MODELS} == {"anthropic", "minimax", "moonshot", "google", "cloudflare"}


def test_decision_hash_when_model_absent_then_key_omitted() -> None:
    assert decision_hash("a", "b", None, "c") != decision_hash("a", "b", GEMINI, "c")
