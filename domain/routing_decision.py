"""The RoutingDecision aggregate (llm-routing §9.1): one per governed call, from plan to outcome."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from paulp.domain.errors import DomainError
from paulp.domain.executor import AttemptRecord, Execution, Usage
from paulp.domain.routing import ErrorCode, decision_hash, model_spec
from paulp.domain.routing_plan import Failure, RoutePlan

NO_OVERRIDE_REASON = "No override reason provided"


class DecisionStatus(StrEnum):
    RESOLVED = "resolved"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class DecisionClosed(DomainError):
    """Raised when a command reaches a decision that already succeeded or failed."""

    code = "ROUTING_DECISION_CLOSED"


class AttemptOutOfOrder(DomainError):
    """Raised when an attempt is not the next model of the plan, or follows a successful attempt."""

    code = "ROUTING_ATTEMPT_OUT_OF_ORDER"


class OutcomeNotEarned(DomainError):
    """Raised when success lacks a successful attempt, or all-failed is claimed with attempts left."""

    code = "ROUTING_OUTCOME_NOT_EARNED"


class RoutingDecision(Aggregate):
    """Decides once per command; the @event methods only apply, so replay rebuilds the same state."""

    class Resolved(Aggregate.Created):
        decided_at: datetime
        run_type: str
        route_class: str | None
        budget_category: str | None
        resolution_source: str
        selected_model_id: str | None
        planned_attempts: list[str]
        projected_cost_usd: float
        override_used: bool
        override_reason: str | None
        strategy_id: str | None
        routing_reason: str
        metadata: dict[str, Any]

    class AttemptRecorded(Aggregate.Event):
        """v2 adds ``evidence_hash``: the provider's stored response body, at the top of the event so the
        audit chain row of each attempt covers it (ADR 0391); attempts stored before it have none."""

        class_version = 2
        model_id: str
        success: bool
        latency_ms: int | None
        error_code: str | None
        error_message: str | None
        evidence_hash: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, object]) -> None:
            state["evidence_hash"] = None

    class Succeeded(Aggregate.Event):
        resolved_model_id: str
        actual_cost_usd: float
        latency_ms: int | None
        input_tokens: int
        output_tokens: int
        cached_tokens: int
        completed_at: datetime

    class Failed(Aggregate.Event):
        error_code: str
        failure_reason: str
        retryable: bool
        failed_at: datetime

    @event(Resolved)
    def __init__(self, id: UUID, decided_at: datetime, run_type: str, route_class: str | None,
                 budget_category: str | None, resolution_source: str, selected_model_id: str | None,
                 planned_attempts: list[str], projected_cost_usd: float, override_used: bool,
                 override_reason: str | None, strategy_id: str | None, routing_reason: str,
                 metadata: dict[str, Any]) -> None:
        self.decided_at = decided_at
        self.run_type = run_type
        self.route_class = route_class
        self.budget_category = budget_category
        self.resolution_source = resolution_source
        self.selected_model_id = selected_model_id
        self.planned_attempts = list(planned_attempts)
        self.projected_cost_usd = projected_cost_usd
        self.override_used = override_used
        self.override_reason = override_reason
        self.strategy_id = strategy_id
        self.routing_reason = routing_reason
        self.metadata = dict(metadata)
        self.status = DecisionStatus.RESOLVED
        self.attempts: list[AttemptRecord] = []
        self.resolved_model_id: str | None = None
        self.actual_cost_usd: float | None = None
        self.latency_ms: int | None = None
        self.error_code: str | None = None
        self.failure_reason: str | None = None
        self.retryable = False
        self.finished_at: datetime | None = None

    # ----------------------------------------------------------------- commands (decide)

    @classmethod
    def open(cls, decision_id: UUID, plan: RoutePlan, decided_at: datetime) -> RoutingDecision:
        """Record the plan; a fail-closed plan is failed at once, before any provider could be called."""
        decision = cls(id=decision_id, decided_at=decided_at, run_type=plan.run_type,
                       route_class=plan.route_class, budget_category=plan.budget_category,
                       resolution_source=plan.resolution_source, selected_model_id=plan.selected_model_id,
                       planned_attempts=list(plan.attempts), projected_cost_usd=plan.projected_cost_usd,
                       override_used=plan.override_used, override_reason=plan.override_reason,
                       strategy_id=plan.strategy_id, routing_reason=plan.routing_reason,
                       metadata=dict(plan.metadata))
        if plan.failure is not None:
            decision.fail(plan.failure, decided_at)
        return decision

    def working_copy(self) -> RoutingDecision:
        """A copy to record the outcome on, so a re-run of a failed save can start again from this state.

        Shallow: the only state the outcome events change in place is the attempts list (AttemptRecord is
        frozen; plan fields are never mutated after Resolved) and the pending events; a deepcopy of the
        whole aggregate cost ~38 µs of every governed call."""
        clone = copy.copy(self)
        clone.attempts = list(self.attempts)
        clone._pending_events = list(self._pending_events)
        return clone

    def record_attempt(self, attempt: AttemptRecord) -> None:
        self._require_open()
        done = len(self.attempts)
        if done >= len(self.planned_attempts) or self.planned_attempts[done] != attempt.model_id:
            raise AttemptOutOfOrder(f"attempt {attempt.model_id} is not next in {self.planned_attempts}")
        if self.attempts and self.attempts[-1].success:
            raise AttemptOutOfOrder("no attempt may follow a successful one")
        code = str(attempt.error_code) if attempt.error_code is not None else None
        self._attempt_recorded(attempt.model_id, attempt.success, attempt.latency_ms, code, attempt.error_message,
                               attempt.evidence_hash)

    def succeed(self, usage: Usage, completed_at: datetime) -> None:
        self._require_open()
        if not self.attempts or not self.attempts[-1].success:
            raise OutcomeNotEarned("success needs a successful last attempt")
        last = self.attempts[-1]
        self._succeeded(last.model_id, usage.cost_usd, last.latency_ms, usage.input_tokens,
                        usage.output_tokens, usage.cached_tokens, completed_at)

    def fail(self, failure: Failure, failed_at: datetime) -> None:
        self._require_open()
        planned = len(self.planned_attempts)
        made = len(self.attempts) == planned or (failure.route_stopped and 0 < len(self.attempts) <= planned)
        if failure.code is ErrorCode.ALL_MODELS_FAILED and (not made or any(a.success for a in self.attempts)):
            raise OutcomeNotEarned("all-models-failed needs every planned attempt to have failed"
                                   " (or the attempts made, the last one ending the route)")
        if failure.code is not ErrorCode.ALL_MODELS_FAILED and self.attempts:
            raise OutcomeNotEarned(f"{failure.code} is a pre-call verdict but attempts were made")
        self._failed(str(failure.code), failure.reason, failure.retryable, failed_at)

    def _require_open(self) -> None:
        if self.status is not DecisionStatus.RESOLVED:
            raise DecisionClosed(f"decision {self.id} is {self.status}")

    # ----------------------------------------------------------------- events (apply)

    @event(AttemptRecorded)
    def _attempt_recorded(self, model_id: str, success: bool, latency_ms: int | None,
                          error_code: str | None, error_message: str | None, evidence_hash: str | None) -> None:
        code = ErrorCode(error_code) if error_code is not None else None
        self.attempts.append(AttemptRecord(model_id, success, latency_ms, code, error_message, evidence_hash))

    @event(Succeeded)
    def _succeeded(self, resolved_model_id: str, actual_cost_usd: float, latency_ms: int | None,
                   input_tokens: int, output_tokens: int, cached_tokens: int, completed_at: datetime) -> None:
        self.status = DecisionStatus.SUCCEEDED
        self.resolved_model_id = resolved_model_id
        self.actual_cost_usd = actual_cost_usd
        self.latency_ms = latency_ms
        self.finished_at = completed_at

    @event(Failed)
    def _failed(self, error_code: str, failure_reason: str, retryable: bool, failed_at: datetime) -> None:
        self.status = DecisionStatus.FAILED
        self.error_code = error_code
        self.failure_reason = failure_reason
        self.retryable = retryable
        self.finished_at = failed_at

    # ----------------------------------------------------------------- read side

    @property
    def success(self) -> bool:
        return self.status is DecisionStatus.SUCCEEDED

    @property
    def fallbacks_attempted(self) -> list[str]:
        """Recommended §9.1 meaning: the models attempted before the final one, in order."""
        return [a.model_id for a in self.attempts[:-1]]

    def record(self) -> DecisionRecord:
        model_id = self.resolved_model_id or self.selected_model_id
        selected: dict[str, Any] = ({"resolvedModelId": model_id, "provider": str(model_spec(model_id).provider)}
                                    if model_id else {"no_llm": True})
        metadata: dict[str, Any] | None = None
        if self.success:
            metadata = {**self.metadata, "routeClass": self.route_class, "resolvedModelId": model_id}
        return DecisionRecord(
            id=str(self.id), timestamp=self.decided_at, run_type=self.run_type, route_class=self.route_class,
            selected_model=selected, fallbacks_attempted=self.fallbacks_attempted,
            budget_category=self.budget_category, projected_cost_usd=self.projected_cost_usd,
            actual_cost_usd=self.actual_cost_usd, latency_ms=self.latency_ms, success=self.success,
            failure_reason=self.failure_reason,
            decision_hash=decision_hash(self.run_type, self.route_class, model_id, self.resolution_source),
            strategy_id=self.strategy_id, override_used=self.override_used, override_reason=self.override_reason,
            resolution_source=self.resolution_source, routing_reason=self.routing_reason, metadata=metadata,
            error_code=self.error_code)


@dataclass(frozen=True)
class DecisionRecord:
    """The §9.1 row of the routing-decisions projection."""

    id: str
    timestamp: datetime
    run_type: str
    route_class: str | None
    selected_model: Mapping[str, Any]
    fallbacks_attempted: list[str]
    budget_category: str | None
    projected_cost_usd: float
    actual_cost_usd: float | None
    latency_ms: int | None
    success: bool
    failure_reason: str | None
    decision_hash: str
    strategy_id: str | None
    override_used: bool
    override_reason: str | None
    resolution_source: str
    routing_reason: str
    metadata: Mapping[str, Any] | None
    error_code: str | None

    @property
    def resolved_model_id(self) -> str | None:
        return self.selected_model.get("resolvedModelId")


def decide(decision_id: UUID, execution: Execution, decided_at: datetime, finished_at: datetime) -> RoutingDecision:
    """Fold an execution into a new decision, command by command (the service's save unit)."""
    decision = RoutingDecision.open(decision_id, execution.plan, decided_at)
    if execution.plan.failure is not None:
        return decision
    for attempt in execution.attempts:
        decision.record_attempt(attempt)
    if execution.usage is not None and execution.success:
        decision.succeed(execution.usage, finished_at)
    elif execution.failure is not None:
        decision.fail(execution.failure, finished_at)
    return decision


@dataclass(frozen=True)
class AuditEvent:
    event_type: str
    entity_type: str
    entity_id: str
    payload: Mapping[str, Any]


def _compact(payload: Mapping[str, Any]) -> dict[str, Any]:
    """§9.2: absent optional values are omitted."""
    return {k: v for k, v in payload.items() if v is not None}


def routing_audit_events(record: DecisionRecord) -> list[AuditEvent]:
    """LLM_ROUTING_DECISION always; LLM_ROUTING_OVERRIDE as well when an override was used (§3.5)."""
    events = [AuditEvent("LLM_ROUTING_DECISION", "llm_routing", record.id, _compact({
        "runType": record.run_type, "routeClass": record.route_class, "resolvedModelId": record.resolved_model_id,
        "resolutionSource": record.resolution_source, "success": record.success,
        "projectedCostUsd": record.projected_cost_usd, "actualCostUsd": record.actual_cost_usd,
        "budgetCategory": record.budget_category, "decisionHash": record.decision_hash}))]
    if record.override_used:
        events.append(AuditEvent("LLM_ROUTING_OVERRIDE", "llm_routing", record.id, _compact({
            "runType": record.run_type, "routeClass": record.route_class,
            "resolvedModelId": record.resolved_model_id,
            "reason": record.override_reason if record.override_reason is not None else NO_OVERRIDE_REASON})))
    return events
