"""The routing wrapper's decide phase (llm-routing §6.3 steps 1-5): a plan, or a fail-closed verdict."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from paulp.domain.budgets import BudgetCheck
from paulp.domain.llm_manifest import Prices
from paulp.domain.routing import (
    RUN_TYPE_TABLE,
    BudgetCategory,
    ErrorCode,
    HardControlForbidden,
    InvalidForcedModel,
    ResolutionSource,
    RouteClass,
    RouteRequest,
    RoutingError,
    RunType,
    UnknownRunType,
    attempt_order,
    cost_usd,
    decision_hash,
    default_model,
    is_valid_model,
    is_valid_route_class,
    merge_env_overrides,
    model_spec,
    resolve_route,
    routing_reason,
)

HARD_CONTROL_REASON = ("Policy violation: LLM routing of a deterministic_hard_control path is forbidden; "
                       "hard risk controls are deterministic code")
BUDGET_REASON_PREFIX = "Budget exceeded: "


class BudgetGate(Protocol):
    """What the planner needs of budgets: a verdict for a category and a projected cost."""

    def check(self, category: BudgetCategory, projected_usd: float) -> BudgetCheck: ...


@dataclass(frozen=True)
class Failure:
    """A fail-closed verdict: ``message`` is returned to the caller, ``reason`` is persisted."""

    code: ErrorCode
    message: str
    reason: str
    # ALL_MODELS_FAILED before the end of the plan: an attempt failed on our side and ended the route (ADR 0516);
    # not persisted (the reason says so), only what lets the decision fail with fewer attempts than planned
    route_stopped: bool = False

    @property
    def retryable(self) -> bool:
        return self.code is ErrorCode.ALL_MODELS_FAILED


@dataclass(frozen=True)
class RoutePlan:
    """Everything decided before any provider is called; ``failure`` set means: call nothing."""

    run_type: str
    route_class: RouteClass | None
    budget_category: BudgetCategory | None
    resolution_source: ResolutionSource
    selected_model_id: str | None
    attempts: tuple[str, ...]
    projected_cost_usd: float
    override_used: bool
    override_reason: str | None
    strategy_id: str | None
    routing_reason: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    failure: Failure | None = None
    should_alert: bool = False

    @property
    def selected_provider(self) -> str | None:
        return str(model_spec(self.selected_model_id).provider) if self.selected_model_id else None

    @property
    def decision_hash(self) -> str:
        return decision_hash(self.run_type, self.route_class, self.selected_model_id, self.resolution_source)


def _known_run_type(value: str) -> RunType | None:
    return RunType(value) if value in RunType.__members__.values() else None


def _unmerged_class(request: RouteRequest) -> RouteClass | None:
    """The class a rejected request would have had: its own valid forced class, else normal resolution."""
    if request.force_route_class is not None and is_valid_route_class(request.force_route_class):
        return RouteClass(request.force_route_class)
    if _known_run_type(request.run_type) is None:
        return None
    return resolve_route(replace(request, force_route_class=None))[0]


def _rejected(request: RouteRequest, route_class: RouteClass | None, err: RoutingError,
              source: ResolutionSource = ResolutionSource.FORCED_OVERRIDE, override_used: bool = True) -> RoutePlan:
    rt = _known_run_type(request.run_type)
    category = RUN_TYPE_TABLE[rt][1] if rt is not None else None
    return RoutePlan(request.run_type, route_class, category, source, None, (), 0.0, override_used,
                     request.override_reason, request.strategy_id, routing_reason(request, route_class, source),
                     request.metadata, Failure(ErrorCode(err.code), err.message, err.message))


def plan_route(request: RouteRequest, env: Mapping[str, str], budget: BudgetGate,
               prices: Prices | None = None) -> RoutePlan:
    """§6.3 steps 1-5 in the exact order; every failure is a plan with ``failure`` set."""
    if _known_run_type(request.run_type) is None:
        err: RoutingError = UnknownRunType(f"Unknown run type: {request.run_type}")
        return _rejected(request, _unmerged_class(request), err, ResolutionSource.DEFAULT_LOW_COST,
                         request.override_used)
    try:
        merged = merge_env_overrides(request, env)
    except RoutingError as err:
        return _rejected(request, _unmerged_class(request), err)
    route_class, source = resolve_route(merged)
    if route_class is RouteClass.DETERMINISTIC_HARD_CONTROL:
        return _rejected(merged, route_class, HardControlForbidden(HARD_CONTROL_REASON))
    if merged.force_model is not None and not is_valid_model(merged.force_model):
        # §3.3: like every invalid override, recorded with the caller's own class/reason (not the env's).
        return _rejected(request, _unmerged_class(request),
                         InvalidForcedModel(f"Invalid forced model: {merged.force_model}"))
    selected = merged.force_model or default_model(route_class)
    assert selected is not None  # every LLM-allowed class has a default model
    category = RUN_TYPE_TABLE[RunType(merged.run_type)][1]
    projected = cost_usd(selected, merged.estimated_input_tokens, merged.estimated_output_tokens, 0, prices)
    verdict = budget.check(category, projected)
    plan = RoutePlan(merged.run_type, route_class, category, source, selected,
                     attempt_order(route_class, merged.force_model), projected, merged.override_used,
                     merged.override_reason, merged.strategy_id, routing_reason(merged, route_class, source),
                     merged.metadata, None, verdict.should_alert)
    if not verdict.allowed:
        reason = verdict.reason or "budget check denied"
        return replace(plan, attempts=(), failure=Failure(ErrorCode.BUDGET_EXCEEDED, reason,
                                                          BUDGET_REASON_PREFIX + reason))
    return plan
