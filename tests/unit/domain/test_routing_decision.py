"""RoutingDecision aggregate: lifecycle rules, replay equality, and a stateful random walk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import Any
from uuid import UUID, uuid5

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from paulp.domain.budgets import BudgetBook, derive_budget
from paulp.domain.executor import AttemptRecord, CallResult, Usage, execute_plan
from paulp.domain.routing import ErrorCode, RouteRequest, RunType
from paulp.domain.routing_decision import (
    AttemptOutOfOrder,
    DecisionClosed,
    DecisionStatus,
    OutcomeNotEarned,
    RoutingDecision,
    decide,
    routing_audit_events,
)
from paulp.domain.routing_plan import Failure, RoutePlan, plan_route
from tests.support.hypothesis_scale import examples, steps

NOW = datetime(2026, 3, 15, 12, tzinfo=UTC)
NS = UUID("11111111-2222-5333-8444-555555555555")


def _book() -> BudgetBook:
    env = derive_budget().envelopes
    return BudgetBook(env, {}, {}, NOW)


def _plan(run_type: str = "signal_scanning", env: dict[str, str] | None = None) -> RoutePlan:
    return plan_route(RouteRequest(run_type, 500, 100), env or {}, _book())


def _view(d: RoutingDecision) -> tuple[Any, ...]:
    return (d.id, d.version, d.status, tuple(d.attempts), d.record())


def _replay(events: list[Any]) -> RoutingDecision:
    rebuilt = reduce(lambda agg, ev: ev.mutate(agg), events, None)
    assert isinstance(rebuilt, RoutingDecision)
    return rebuilt


def test_open_when_plan_failed_closed_then_failed_at_once_with_no_llm() -> None:
    # Arrange
    plan = _plan("general_enrichment", {"LLM_ROUTING_FORCE_MODEL": "anthropic:nope"})
    # Act
    decision = RoutingDecision.open(uuid5(NS, "a"), plan, NOW)
    # Assert
    assert decision.status is DecisionStatus.FAILED and decision.error_code == ErrorCode.INVALID_FORCED_MODEL
    assert decision.record().selected_model == {"no_llm": True}
    with pytest.raises(DecisionClosed):
        decision.record_attempt(AttemptRecord("google:gemini-3-flash-preview", True, 5))


def test_record_attempt_when_not_next_model_then_out_of_order() -> None:
    decision = RoutingDecision.open(uuid5(NS, "b"), _plan(), NOW)
    with pytest.raises(AttemptOutOfOrder):
        decision.record_attempt(AttemptRecord("cloudflare:@cf/meta/llama-3.1-70b-instruct", True, 5))


def test_fail_when_attempts_remain_then_outcome_not_earned() -> None:
    plan = _plan()
    decision = RoutingDecision.open(uuid5(NS, "c"), plan, NOW)
    decision.record_attempt(AttemptRecord(plan.attempts[0], False, None, ErrorCode.PROVIDER_TIMEOUT, "slow"))
    with pytest.raises(OutcomeNotEarned):
        decision.fail(Failure(ErrorCode.ALL_MODELS_FAILED, "all", "slow"), NOW)


def test_decide_when_second_model_succeeds_then_fallbacks_list_first_and_replay_matches() -> None:
    # Arrange
    plan = _plan()
    answers = iter([RuntimeError("down"), CallResult("x", Usage(10, 5, 0, 0.0), 42)])

    def port(model_id: str) -> CallResult:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    # Act
    decision = decide(uuid5(NS, "d"), execute_plan(plan, port), NOW, NOW + timedelta(seconds=1))
    events = decision.collect_events()
    # Assert
    record = decision.record()
    assert record.success and record.fallbacks_attempted == [plan.attempts[0]]
    assert record.resolved_model_id == plan.attempts[1] and record.latency_ms == 42
    assert record.metadata == {"routeClass": plan.route_class, "resolvedModelId": plan.attempts[1]}
    assert [type(e).__name__ for e in events] == ["Resolved", "AttemptRecorded", "AttemptRecorded", "Succeeded"]
    assert _view(_replay(events)) == _view(decision)
    assert [e.event_type for e in routing_audit_events(record)] == ["LLM_ROUTING_DECISION"]


def test_events_when_collected_then_nested_past_tense() -> None:
    for cls in (RoutingDecision.Resolved, RoutingDecision.AttemptRecorded, RoutingDecision.Succeeded,
                RoutingDecision.Failed):
        assert "." in cls.__qualname__


class DecisionMachine(RuleBasedStateMachine):
    """Random command sequences never reach an illegal state; replaying the events rebuilds the aggregate."""

    @initialize(run_type=st.sampled_from([*RunType, "bogus"]),
                kill=st.booleans(), n=st.integers(min_value=0, max_value=10_000))
    def open(self, run_type: str, kill: bool, n: int) -> None:
        env = {"LLM_ROUTING_FORCE_ROUTE_CLASS": "deterministic_hard_control"} if kill else {}
        self.plan = _plan(run_type, env)
        self.decision = RoutingDecision.open(uuid5(NS, f"m{n}"), self.plan, NOW)
        self.history: list[Any] = list(self.decision.collect_events())

    def _collect(self) -> None:
        self.history.extend(self.decision.collect_events())

    @rule(ok=st.booleans(), skip=st.booleans())
    def attempt(self, ok: bool, skip: bool) -> None:
        done = len(self.decision.attempts)
        planned = self.decision.planned_attempts
        target = planned[min(done + int(skip), len(planned) - 1)] if planned else "google:gemini-3-flash-preview"
        record = AttemptRecord(target, ok, 10 if ok else None,
                               None if ok else ErrorCode.PROVIDER_SERVER_ERROR, None if ok else "boom")
        try:
            self.decision.record_attempt(record)
        except (AttemptOutOfOrder, DecisionClosed):
            pass
        self._collect()

    @rule()
    def succeed(self) -> None:
        try:
            self.decision.succeed(Usage(100, 20, 0, 0.001), NOW)
        except (OutcomeNotEarned, DecisionClosed):
            pass
        self._collect()

    @rule(all_failed=st.booleans())
    def fail(self, all_failed: bool) -> None:
        code = ErrorCode.ALL_MODELS_FAILED if all_failed else ErrorCode.BUDGET_EXCEEDED
        try:
            self.decision.fail(Failure(code, "m", "r"), NOW)
        except (OutcomeNotEarned, DecisionClosed):
            pass
        self._collect()

    @invariant()
    def legal_state(self) -> None:
        d = self.decision
        models = [a.model_id for a in d.attempts]
        assert models == d.planned_attempts[: len(models)], "attempts follow the plan in order"
        assert all(not a.success for a in d.attempts[:-1]), "nothing follows a success"
        if self.plan.failure is not None:
            assert d.status is DecisionStatus.FAILED and not d.attempts, "fail-closed plans never call"
        if d.status is DecisionStatus.SUCCEEDED:
            assert d.attempts and d.attempts[-1].success and d.resolved_model_id == d.attempts[-1].model_id
        if d.status is DecisionStatus.FAILED and d.error_code == ErrorCode.ALL_MODELS_FAILED:
            assert len(d.attempts) == len(d.planned_attempts) and not any(a.success for a in d.attempts)
            assert d.retryable

    @invariant()
    def replay_equals_live(self) -> None:
        assert _view(_replay(self.history)) == _view(self.decision)


TestDecisionMachine = DecisionMachine.TestCase
TestDecisionMachine.settings = settings(max_examples=examples(60), stateful_step_count=steps(20), deadline=None)
