"""LLM routing policy (llm-routing §1-§4): run types, resolution precedence, overrides, error taxonomy."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from paulp.domain.errors import DomainError
from paulp.domain.llm_manifest import (
    CHAINS,
    GEMINI,
    KIMI,
    LLAMA,
    MINIMAX,
    MODELS,
    OPUS,
    CacheStrategy,
    ManifestLookupError,
    ModelSpec,
    Provider,
    RouteClass,
    actual_cost_usd,
    attempt_order,
    cost_usd,
    default_model,
    fallback_models,
    is_valid_model,
    is_valid_route_class,
    llm_allowed,
    model_spec,
    parse_model_id,
    route_class_of,
)

__all__ = [  # the manifest is re-exported: callers route through one module
    "CHAINS", "GEMINI", "KIMI", "LLAMA", "MINIMAX", "MODELS", "OPUS", "CacheStrategy", "ManifestLookupError",
    "ModelSpec", "Provider", "RouteClass", "actual_cost_usd", "attempt_order", "cost_usd", "default_model",
    "fallback_models", "is_valid_model", "is_valid_route_class", "llm_allowed", "model_spec", "parse_model_id",
    "route_class_of",
]


class RunType(StrEnum):
    AMBIGUITY_SCORE = "ambiguity_score"
    EQUIVALENCE_ASSESSMENT = "equivalence_assessment"
    RESOLUTION_ANALYSIS = "resolution_analysis"
    INVARIANT_EXPLANATION = "invariant_explanation"
    POSTMORTEM_SUMMARY = "postmortem_summary"
    WALLET_CLUSTER_SYNTHESIS = "wallet_cluster_synthesis"
    SIGNAL_SCANNING = "signal_scanning"
    GENERAL_ENRICHMENT = "general_enrichment"


class ResolutionSource(StrEnum):
    FORCED_OVERRIDE = "forced_override"
    SAFETY_CRITICAL = "safety_critical"
    STRATEGY_SPECIFIC = "strategy_specific"
    DEFAULT_LOW_COST = "default_low_cost"


class BudgetCategory(StrEnum):
    RESEARCH_SCORING = "research_scoring"
    TRADING_VALIDATION = "trading_validation"
    INGESTION_CLASSIFICATION = "ingestion_classification"
    GOVERNANCE_AUDIT = "governance_audit"


class ErrorCode(StrEnum):
    """The closed error taxonomy of §6.2 (plus PROVIDER_NETWORK_ERROR, ADR 0183)."""

    PROVIDER_AUTH_FAILED = "PROVIDER_AUTH_FAILED"
    PROVIDER_RATE_LIMITED = "PROVIDER_RATE_LIMITED"
    PROVIDER_SERVER_ERROR = "PROVIDER_SERVER_ERROR"
    PROVIDER_TIMEOUT = "PROVIDER_TIMEOUT"
    PROVIDER_PARSE_ERROR = "PROVIDER_PARSE_ERROR"
    PROVIDER_NETWORK_ERROR = "PROVIDER_NETWORK_ERROR"
    PROVIDER_KEY_MISSING = "PROVIDER_KEY_MISSING"
    ALL_MODELS_FAILED = "ALL_MODELS_FAILED"
    BUDGET_EXCEEDED = "BUDGET_EXCEEDED"
    DETERMINISTIC_HARD_CONTROL_FORBIDDEN = "DETERMINISTIC_HARD_CONTROL_FORBIDDEN"
    INVALID_FORCED_MODEL = "INVALID_FORCED_MODEL"
    INVALID_FORCED_ROUTE_CLASS = "INVALID_FORCED_ROUTE_CLASS"
    UNKNOWN_RUN_TYPE = "UNKNOWN_RUN_TYPE"
    PROMPT_LOAD_ERROR = "PROMPT_LOAD_ERROR"


RETRYABLE_CODES = frozenset({ErrorCode.ALL_MODELS_FAILED})


class RoutingError(DomainError):
    """Raised when a governed LLM call cannot go on; ``retryable`` is advice to the caller."""

    code: str = "ROUTING_ERROR"

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE_CODES


class UnknownRunType(RoutingError):
    """Raised when the run type is outside the closed set of 8."""

    code = ErrorCode.UNKNOWN_RUN_TYPE


class InvalidForcedModel(RoutingError):
    """Raised when a forced model id is not one of the 5 manifest ids."""

    code = ErrorCode.INVALID_FORCED_MODEL


class InvalidForcedRouteClass(RoutingError):
    """Raised when a forced route class is not one of the 5 classes."""

    code = ErrorCode.INVALID_FORCED_ROUTE_CLASS


class HardControlForbidden(RoutingError):
    """Raised when a call resolves to deterministic_hard_control: no LLM may decide a hard control."""

    code = ErrorCode.DETERMINISTIC_HARD_CONTROL_FORBIDDEN


RUN_TYPE_TABLE: Mapping[RunType, tuple[RouteClass, BudgetCategory]] = {
    RunType.AMBIGUITY_SCORE: (RouteClass.PREMIUM_COGNITION, BudgetCategory.RESEARCH_SCORING),
    RunType.EQUIVALENCE_ASSESSMENT: (RouteClass.PREMIUM_COGNITION, BudgetCategory.RESEARCH_SCORING),
    RunType.RESOLUTION_ANALYSIS: (RouteClass.PREMIUM_COGNITION, BudgetCategory.RESEARCH_SCORING),
    RunType.INVARIANT_EXPLANATION: (RouteClass.PREMIUM_COGNITION, BudgetCategory.TRADING_VALIDATION),
    RunType.POSTMORTEM_SUMMARY: (RouteClass.CHEAP_ENRICHMENT, BudgetCategory.GOVERNANCE_AUDIT),
    RunType.WALLET_CLUSTER_SYNTHESIS: (RouteClass.SYNTHESIS_LONG_CONTEXT, BudgetCategory.RESEARCH_SCORING),
    RunType.SIGNAL_SCANNING: (RouteClass.SCANNER_FASTPATH, BudgetCategory.INGESTION_CLASSIFICATION),
    RunType.GENERAL_ENRICHMENT: (RouteClass.CHEAP_ENRICHMENT, BudgetCategory.INGESTION_CLASSIFICATION),
}


PREMIUM_RUN_TYPES = frozenset({RunType.AMBIGUITY_SCORE, RunType.EQUIVALENCE_ASSESSMENT,
                               RunType.RESOLUTION_ANALYSIS, RunType.INVARIANT_EXPLANATION})


ENV_FORCE_MODEL = "LLM_ROUTING_FORCE_MODEL"
ENV_FORCE_ROUTE_CLASS = "LLM_ROUTING_FORCE_ROUTE_CLASS"


ENV_MODEL_REASON = "environment forced model override"
ENV_CLASS_REASON = "environment forced route-class override"


def parse_run_type(value: str) -> RunType:
    try:
        return RunType(value)
    except ValueError:
        raise UnknownRunType(f"Unknown run type: {value}") from None


def budget_category(run_type: RunType) -> BudgetCategory:
    return RUN_TYPE_TABLE[run_type][1]


@dataclass(frozen=True)


class RouteRequest:
    """A routing call after boundary parsing; run_type stays a string so unknown ones fail closed."""

    run_type: str
    estimated_input_tokens: int
    estimated_output_tokens: int
    strategy_id: str | None = None
    force_model: str | None = None
    force_route_class: str | None = None
    is_highest_stakes: bool = False
    override_reason: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def override_used(self) -> bool:
        return self.force_model is not None or self.force_route_class is not None


def merge_env_overrides(request: RouteRequest, env: Mapping[str, str]) -> RouteRequest:
    """§3.2: env values fill absent call fields; the model variable is validated first. A refused env value is
    named by its variable, never quoted: both are secrets (runbook, §8), and the message is persisted on the
    decision (ADR 0514)."""
    merged = request
    env_model = env.get(ENV_FORCE_MODEL) or None
    if merged.force_model is None and env_model is not None:
        if not is_valid_model(env_model):
            raise InvalidForcedModel(f"Invalid forced model override: {ENV_FORCE_MODEL} is not a manifest model id")
        merged = replace(merged, force_model=env_model,
                         override_reason=merged.override_reason or ENV_MODEL_REASON)
    env_class = env.get(ENV_FORCE_ROUTE_CLASS) or None
    if merged.force_route_class is None and env_class is not None:
        if not is_valid_route_class(env_class):
            raise InvalidForcedRouteClass(f"Invalid forced route class override: {ENV_FORCE_ROUTE_CLASS} is not a"
                                          " route class")
        merged = replace(merged, force_route_class=env_class,
                         override_reason=merged.override_reason or ENV_CLASS_REASON)
    if merged.force_route_class is not None and not is_valid_route_class(merged.force_route_class):
        raise InvalidForcedRouteClass(f"Invalid forced route class: {merged.force_route_class}")
    return merged


def validate_forced_model(model_id: str | None) -> bool:
    return model_id is not None and is_valid_model(model_id)


def resolve_route(request: RouteRequest) -> tuple[RouteClass, ResolutionSource]:
    """§1.3, first match wins; forceModel never takes part."""
    run_type = parse_run_type(request.run_type)
    if request.force_route_class is not None:
        return route_class_of(request.force_route_class), ResolutionSource.FORCED_OVERRIDE
    if request.is_highest_stakes or run_type in PREMIUM_RUN_TYPES:
        return RouteClass.PREMIUM_COGNITION, ResolutionSource.SAFETY_CRITICAL
    if request.strategy_id is not None:
        sid = request.strategy_id.lower()
        if "smart-money" in sid:
            return RouteClass.SYNTHESIS_LONG_CONTEXT, ResolutionSource.STRATEGY_SPECIFIC
        if "xvsignal" in sid:
            return RouteClass.SCANNER_FASTPATH, ResolutionSource.STRATEGY_SPECIFIC
    return RUN_TYPE_TABLE[run_type][0], ResolutionSource.DEFAULT_LOW_COST


def routing_reason(request: RouteRequest, route_class: RouteClass | None, source: ResolutionSource) -> str:
    """Free text for humans; its wording is not contractual."""
    text = f"{source}: run type {request.run_type} -> {route_class or 'unresolved'}"
    if source is ResolutionSource.STRATEGY_SPECIFIC:
        text += f" (strategy {request.strategy_id})"
    return text


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def compact_json(value: Any) -> str:
    """JSON in insertion order without spaces (JSON.stringify shape), the hashes' input."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def decision_hash_input(run_type: str, route_class: str | None, resolved_model_id: str | None,
                        resolution_source: str) -> str:
    body: dict[str, Any] = {"runType": run_type, "routeClass": route_class}
    if resolved_model_id is not None:
        body["resolvedModelId"] = resolved_model_id
    body["resolutionSource"] = resolution_source
    return compact_json(body)


def decision_hash(run_type: str, route_class: str | None, resolved_model_id: str | None,
                  resolution_source: str) -> str:
    """§9.1: SHA-256 of {runType, routeClass, resolvedModelId?, resolutionSource}."""
    return sha256_hex(decision_hash_input(run_type, route_class, resolved_model_id, resolution_source))


@dataclass(frozen=True)


class RoutingRule:
    run_type: RunType
    route_class: RouteClass
    budget_category: BudgetCategory
    source: ResolutionSource
    rationale: str


def routing_rule(run_type: str) -> RoutingRule:
    rt = parse_run_type(run_type)
    rc, cat = RUN_TYPE_TABLE[rt]
    premium = rt in PREMIUM_RUN_TYPES
    source = ResolutionSource.SAFETY_CRITICAL if premium else ResolutionSource.DEFAULT_LOW_COST
    why = "premium run type: always premium cognition" if premium else f"default class {rc}"
    return RoutingRule(rt, rc, cat, source, why)


def completeness_check() -> tuple[bool, list[str]]:
    missing = [str(rt) for rt in RunType if rt not in RUN_TYPE_TABLE]
    return not missing, missing


@dataclass(frozen=True)


class DecisionPreview:
    run_type: RunType
    route_class: RouteClass
    budget_category: BudgetCategory
    selected_model_id: str | None
    projected_cost_usd: float
    decision_hash: str


def decision_preview(run_type: str, est_in: int, est_out: int) -> DecisionPreview:
    """Static preview from the default class only (no strategy, no overrides, no cache)."""
    rule = routing_rule(run_type)
    model = default_model(rule.route_class)
    projected = cost_usd(model, est_in, est_out) if model else 0.0
    digest = sha256_hex(compact_json({"runType": rule.run_type.value, "routeClass": rule.route_class.value,
                                      "selectedModelId": model, "estimatedInputTokens": est_in,
                                      "estimatedOutputTokens": est_out}))
    return DecisionPreview(rule.run_type, rule.route_class, rule.budget_category, model, projected, digest)
