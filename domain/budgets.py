"""LLM budgets (llm-routing §5): derived envelopes, UTC periods, budget state, the pre-call check."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from paulp.domain.errors import DomainError
from paulp.domain.exact import as_decimal
from paulp.domain.js_text import js_sum
from paulp.domain.llm_manifest import Prices
from paulp.domain.prices import fixed
from paulp.domain.routing import BudgetCategory, ErrorCode, RouteClass, cost_usd, default_model

MIX_TOLERANCE = 1e-4
HARD_CAP_PCT = 100.0

ALERT_THRESHOLD_PCT: Mapping[BudgetCategory, float] = {
    BudgetCategory.RESEARCH_SCORING: 80.0,
    BudgetCategory.TRADING_VALIDATION: 70.0,
    BudgetCategory.INGESTION_CLASSIFICATION: 80.0,
    BudgetCategory.GOVERNANCE_AUDIT: 90.0,
}


class PeriodType(StrEnum):
    DAILY = "daily"
    MONTHLY = "monthly"


class InvalidBudgetAssumptions(DomainError):
    """Raised when a mix does not sum to 1 within 1e-4 (the message names the mix and its sum)."""

    code = "INVALID_BUDGET_ASSUMPTIONS"


class BudgetExceeded(DomainError):
    """Raised when a call's projected cost would breach a category's daily or monthly limit."""

    code = ErrorCode.BUDGET_EXCEEDED


def _rc(**v: float) -> dict[RouteClass, float]:
    return {RouteClass(k): x for k, x in v.items()}


@dataclass(frozen=True)
class BudgetAssumptions:
    calls_per_day: float = 3200
    days_per_month: float = 30
    route_mix: Mapping[RouteClass, float] = field(default_factory=lambda: _rc(
        deterministic_hard_control=0, premium_cognition=0.20, scanner_fastpath=0.45,
        synthesis_long_context=0.10, cheap_enrichment=0.25))
    category_mix: Mapping[BudgetCategory, float] = field(default_factory=lambda: {
        BudgetCategory.RESEARCH_SCORING: 0.40, BudgetCategory.TRADING_VALIDATION: 0.25,
        BudgetCategory.INGESTION_CLASSIFICATION: 0.25, BudgetCategory.GOVERNANCE_AUDIT: 0.10})
    avg_input_tokens: Mapping[RouteClass, float] = field(default_factory=lambda: _rc(
        deterministic_hard_control=0, premium_cognition=2500, scanner_fastpath=900,
        synthesis_long_context=3200, cheap_enrichment=1200))
    avg_output_tokens: Mapping[RouteClass, float] = field(default_factory=lambda: _rc(
        deterministic_hard_control=0, premium_cognition=700, scanner_fastpath=220,
        synthesis_long_context=950, cheap_enrichment=280))
    retry_rate: float = 0.05
    cache_hit_rate: float = 0.25
    safety_multiplier: float = 1.35

    def with_overrides(self, overrides: Mapping[str, Any]) -> BudgetAssumptions:
        """Apply ``{"safetyMultiplier": x, "routeMix.premium_cognition": y}``-style overrides."""
        names = {"callsPerDay": "calls_per_day", "daysPerMonth": "days_per_month", "routeMix": "route_mix",
                 "categoryMix": "category_mix", "avgInputTokensByRouteClass": "avg_input_tokens",
                 "avgOutputTokensByRouteClass": "avg_output_tokens", "retryRate": "retry_rate",
                 "cacheHitRate": "cache_hit_rate", "safetyMultiplier": "safety_multiplier"}
        out = self
        for key, value in overrides.items():
            head, _, sub = key.partition(".")
            attr = names[head]
            if sub:
                table = dict(getattr(out, attr))
                kind = BudgetCategory if attr == "category_mix" else RouteClass
                table[kind(sub)] = float(value)
                value = table
            changes: dict[str, Any] = {attr: value}
            out = replace(out, **changes)
        return out


DEFAULT_ASSUMPTIONS = BudgetAssumptions()


@dataclass(frozen=True)
class RouteClassProjection:
    route_class: RouteClass
    resolved_model_id: str | None
    calls_per_day: float
    projected_daily_cost_usd: float
    projected_monthly_cost_usd: float


@dataclass(frozen=True)
class Envelope:
    daily_limit_usd: float
    monthly_limit_usd: float
    alert_threshold_pct: float
    hard_cap_pct: float = HARD_CAP_PCT


@dataclass(frozen=True)
class BudgetProjection:
    by_route_class: tuple[RouteClassProjection, ...]
    projected_daily_cost_usd: float
    projected_monthly_cost_usd: float
    envelopes: Mapping[BudgetCategory, Envelope]

    @property
    def daily_total(self) -> float:
        return js_sum(e.daily_limit_usd for e in self.envelopes.values())

    @property
    def monthly_total(self) -> float:
        return js_sum(e.monthly_limit_usd for e in self.envelopes.values())


def total_spending(by_category: Mapping[str, float]) -> dict[str, Any]:
    """§5.8 total spending of one period type: ``{total, byCategory}``."""
    return {"total": js_sum(by_category.values()), "byCategory": dict(by_category)}


def _check_mix(name: str, mix: Mapping[Any, float]) -> None:
    total = js_sum(mix.values())  # the source's running total, not a compensated one (ADR 0478)
    if abs(total - 1) > MIX_TOLERANCE:
        raise InvalidBudgetAssumptions(f"{name} must sum to 1 (got {fixed(total, 4)})")  # toFixed(4): ties up


def derive_budget(a: BudgetAssumptions = DEFAULT_ASSUMPTIONS, prices: Prices | None = None) -> BudgetProjection:
    """§5.3: price each class's default model at the assumed volume (the operator's prices, else the
    manifest's); split by category mix."""
    _check_mix("routeMix", a.route_mix)
    _check_mix("categoryMix", a.category_mix)
    rows: list[RouteClassProjection] = []
    daily_sum = 0.0
    for rc in RouteClass:
        calls = a.calls_per_day * a.route_mix.get(rc, 0) * (1 + a.retry_rate)
        tokens_in = calls * a.avg_input_tokens.get(rc, 0)
        tokens_out = calls * a.avg_output_tokens.get(rc, 0)
        cached = tokens_in * a.cache_hit_rate
        model = default_model(rc)
        daily = cost_usd(model, tokens_in, tokens_out, cached, prices) if model else 0
        rows.append(RouteClassProjection(rc, model, calls, daily, daily * a.days_per_month * a.safety_multiplier))
        daily_sum += daily
    projected_daily = daily_sum * a.safety_multiplier
    projected_monthly = projected_daily * a.days_per_month
    envelopes = {cat: Envelope(projected_daily * a.category_mix[cat], projected_monthly * a.category_mix[cat],
                               ALERT_THRESHOLD_PCT[cat]) for cat in BudgetCategory}
    return BudgetProjection(tuple(rows), projected_daily, projected_monthly, envelopes)


def daily_period_key(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d")


def monthly_period_key(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-01")


def period_key(period: PeriodType, at: datetime) -> str:
    return daily_period_key(at) if period is PeriodType.DAILY else monthly_period_key(at)


@dataclass(frozen=True)
class BudgetState:
    category: BudgetCategory
    period_type: PeriodType
    period_start: str
    limit_usd: float
    consumed_usd: float
    last_updated: datetime | None = None

    @property
    def remaining_usd(self) -> float:
        return max(0.0, self.limit_usd - self.consumed_usd)

    @property
    def percent_used(self) -> float:
        return self.consumed_usd / self.limit_usd * 100 if self.limit_usd > 0 else 0.0

    @property
    def is_blocked(self) -> bool:
        return self.percent_used >= HARD_CAP_PCT

    def would_exceed(self, projected_usd: float) -> bool:
        """Deny when already blocked or when this call would go strictly past the limit."""
        return self.is_blocked or self.consumed_usd + projected_usd > self.limit_usd


@dataclass(frozen=True)
class BudgetCheck:
    allowed: bool
    reason: str | None
    should_alert: bool
    daily: BudgetState
    monthly: BudgetState


def check_budget(daily: BudgetState, monthly: BudgetState, projected_usd: float,
                 alert_threshold_pct: float) -> BudgetCheck:
    """§5.6: daily first, then monthly; alert is judged on consumption before this call."""
    alert = daily.percent_used >= alert_threshold_pct or monthly.percent_used >= alert_threshold_pct
    if daily.would_exceed(projected_usd):
        return BudgetCheck(False, f"Daily budget exceeded for {daily.category}", alert, daily, monthly)
    if monthly.would_exceed(projected_usd):
        return BudgetCheck(False, f"Monthly budget exceeded for {monthly.category}", alert, daily, monthly)
    return BudgetCheck(True, None, alert, daily, monthly)


@dataclass(frozen=True)
class BudgetBook:
    """Envelopes plus consumption of the current periods at ``now``: the gate a routed call passes."""

    envelopes: Mapping[BudgetCategory, Envelope]
    consumed_daily: Mapping[BudgetCategory, float]
    consumed_monthly: Mapping[BudgetCategory, float]
    now: datetime

    def state(self, category: BudgetCategory, period: PeriodType) -> BudgetState:
        env = self.envelopes[category]
        daily = period is PeriodType.DAILY
        return BudgetState(category, period, period_key(period, self.now),
                           env.daily_limit_usd if daily else env.monthly_limit_usd,
                           (self.consumed_daily if daily else self.consumed_monthly).get(category, 0.0),
                           self.now)

    def check(self, category: BudgetCategory, projected_usd: float) -> BudgetCheck:
        return check_budget(self.state(category, PeriodType.DAILY), self.state(category, PeriodType.MONTHLY),
                            projected_usd, self.envelopes[category].alert_threshold_pct)


@dataclass(frozen=True)
class RunRate:
    daily_projection: float
    monthly_projection: float
    will_exceed_daily: bool
    will_exceed_monthly: bool


def run_rate(now: datetime, consumed_daily: float, consumed_monthly: float, envelope: Envelope) -> RunRate:
    """§5.8: extrapolate today's and this month's spend linearly over the UTC day and month."""
    t = now.astimezone(UTC)
    hours = t.hour + t.minute / 60
    daily = consumed_daily / hours * 24 if hours > 0 else 0.0
    days_in_month = calendar.monthrange(t.year, t.month)[1]
    monthly = consumed_monthly / t.day * days_in_month
    return RunRate(daily, monthly, daily > envelope.daily_limit_usd, monthly > envelope.monthly_limit_usd)


class LedgerError(DomainError):
    """Raised when a reserve/settle/release command would corrupt the ledger."""

    code = "BUDGET_LEDGER_INVALID"


class UnknownReservation(LedgerError):
    """Raised when settling or releasing a reservation that is not open (never leaks, never twice)."""

    code = "BUDGET_RESERVATION_UNKNOWN"


class DuplicateReservation(LedgerError):
    """Raised when a reservation id is reused while still open."""

    code = "BUDGET_RESERVATION_DUPLICATE"


def usd(amount: float | int | str | Decimal) -> Decimal:
    """Exact decimal of a float's shortest repr, so ledger sums never drift below zero."""
    return as_decimal(amount)


@dataclass(frozen=True)
class BudgetUsage:
    """§5.7/§9.3: one usage fact counted in both the daily and the monthly period of its recording time."""

    id: str
    category: BudgetCategory
    cost_usd: float
    timestamp: datetime
    daily_period_key: str
    monthly_period_key: str

    @classmethod
    def recorded(cls, usage_id: str, category: BudgetCategory | str, cost: float, at: datetime) -> BudgetUsage:
        return cls(usage_id, BudgetCategory(category), cost, at, daily_period_key(at), monthly_period_key(at))
