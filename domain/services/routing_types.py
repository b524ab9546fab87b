"""Values the routing service hands back (governed call outcome, dry-run preview) and its ports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from paulp.domain.budget_ledger import LedgerSnapshot
from paulp.domain.budgets import BudgetCheck, BudgetState, PeriodType
from paulp.domain.executor import AttemptRecord, CallPort, Usage
from paulp.domain.llm_prompts import UNKNOWN, PromptTemplate
from paulp.domain.routing import BudgetCategory
from paulp.domain.routing_plan import Failure


class ProviderPort(Protocol):
    """What the service needs of the provider clients: a call port with the prompt bound."""

    def port(self, system: str, user: str) -> CallPort: ...


class OpenGate:
    """A budget gate that allows everything: the plan is made first, the ledger reservation decides after."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def check(self, category: BudgetCategory, projected_usd: float) -> BudgetCheck:
        d = BudgetState(category, PeriodType.DAILY, "", 0.0, 0.0, self.at)
        m = BudgetState(category, PeriodType.MONTHLY, "", 0.0, 0.0, self.at)
        return BudgetCheck(True, None, False, d, m)


@dataclass(frozen=True)
class PreparedPrompt:
    """The rendered prompt of a call, or why there is none (reported after routing, §6.3 order)."""

    system: str
    user: str
    version: str = UNKNOWN
    hash: str = UNKNOWN
    template: PromptTemplate | None = None
    failure: Failure | None = None

    @property
    def is_scoring(self) -> bool:
        return self.template is not None


@dataclass(frozen=True)
class GovernOutcome:
    """§6.1 step 8: what a governed call returns; every outcome has a stored decision behind its id."""

    decision_id: str
    success: bool
    route_class: str | None
    projected_cost_usd: float
    prompt_version: str
    prompt_hash: str
    latency_ms: int
    notification_id: int  # of the save that stored the decision: its reservation, or its refusal
    attempts: tuple[AttemptRecord, ...] = ()
    content: str | None = None
    model_id: str | None = None
    usage: Usage | None = None
    error: Failure | None = None
    should_alert: bool = False

    @property
    def error_code(self) -> str | None:
        return str(self.error.code) if self.error is not None else None

    @property
    def retryable(self) -> bool:
        return self.error.retryable if self.error is not None else False

    @property
    def attempted(self) -> list[str]:
        return [a.model_id for a in self.attempts]


@dataclass(frozen=True)
class RoutePreview:
    """A dry run: what a call would do now, computed without calling or storing anything."""

    run_type: str
    route_class: str | None
    resolution_source: str
    budget_category: str | None
    chain: tuple[str, ...]
    selected_model_id: str | None
    projected_cost_usd: float
    estimated_input_tokens: int
    estimated_output_tokens: int
    override_used: bool
    override_reason: str | None
    decision_hash: str
    failure: Failure | None
    budget_allowed: bool
    budget_reason: str | None
    should_alert: bool
    missing_keys: tuple[str, ...]
    budget: Mapping[str, LedgerSnapshot] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "runType": self.run_type, "routeClass": self.route_class, "resolutionSource": self.resolution_source,
            "budgetCategory": self.budget_category, "chain": list(self.chain),
            "selectedModelId": self.selected_model_id, "projectedCostUsd": self.projected_cost_usd,
            "estimatedInputTokens": self.estimated_input_tokens,
            "estimatedOutputTokens": self.estimated_output_tokens, "overrideUsed": self.override_used,
            "overrideReason": self.override_reason, "decisionHash": self.decision_hash,
            "failure": None if self.failure is None else {"code": str(self.failure.code),
                                                          "message": self.failure.message},
            "budgetAllowed": self.budget_allowed, "budgetReason": self.budget_reason,
            "shouldAlert": self.should_alert, "missingKeys": list(self.missing_keys),
            "budget": {period: ledger_json(s) for period, s in self.budget.items()},
        }


def ledger_json(s: LedgerSnapshot) -> dict[str, Any]:
    return {"category": s.category, "periodType": s.period_type, "periodStart": s.period_key,
            "limitUsd": float(s.limit_usd), "consumedUsd": float(s.consumed_usd),
            "reservedUsd": float(s.reserved_usd), "remainingUsd": float(s.remaining_usd),
            "percentUsed": float(s.percent_used), "isBlocked": s.is_blocked,
            "openReservations": s.open_reservations}
