"""Read side of /admin/routing (llm-routing §10.2): validation and documents built from the views."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from paulp.api.errors import ApiError
from paulp.domain.budgets import BudgetAssumptions, BudgetProjection, PeriodType, period_key, run_rate, total_spending
from paulp.domain.clock import iso_utc
from paulp.domain.governance import DEFAULT_LOOKBACK, SweepView, latest_deploy_allowed, recent_block
from paulp.domain.routing import CHAINS, MODELS, BudgetCategory, RouteClass, RunType, model_spec, routing_rule
from paulp.domain.routing_stats import DecisionFact, routing_stats
from paulp.domain.scoring_inputs import MarketScoring, market_gate, scoring_inputs
from paulp.domain.strategy_registry import find_strategy

DEFAULT_LIMIT, MAX_LIMIT = 100, 500
_DIGITS = re.compile(r"[0-9]+")  # used with fullmatch: "$" would also accept a trailing newline
DECISION_COLUMNS = (
    "decision_id, decided_at, run_type, route_class, budget_category, resolution_source, routing_reason,"
    " strategy_id, chain, selected_model_id, override_used, override_reason, projected_cost_usd, metadata,"
    " status, success, final_model_id, error_code, failure_reason, retryable, attempts_count,"
    " fallbacks_attempted, latency_ms, input_tokens, output_tokens, cached_tokens, actual_cost_usd, finished_at,"
    " decision_hash")


def iso(at: datetime | None) -> str | None:
    if at is None:
        return None
    return iso_utc(at)


def bad_request(error: str, code: str, message: str) -> ApiError:
    return ApiError(400, error, code, message=message)


def parse_limit(raw: str | None) -> int:
    """§10.2's 1-500 is the accepted range, not a clamp (ADR 0272). The length is judged before ``int``:
    Python refuses to convert more than 4300 digits, which was a 500 for a long ``limit`` (ADR 0359)."""
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    digits = raw.lstrip("0") if _DIGITS.fullmatch(raw) else ""
    if not digits or len(digits) > len(str(MAX_LIMIT)) or int(digits) > MAX_LIMIT:
        raise bad_request("Invalid limit", "invalid_limit", f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(digits)


def parse_choice(raw: str | None, allowed: list[str], name: str) -> str | None:
    if raw is None or raw == "":
        return None
    if raw not in allowed:
        raise bad_request(f"Invalid {name}", f"invalid_{_snake(name)}", f"{name} must be one of {', '.join(allowed)}")
    return raw


def parse_bool(raw: str | None, name: str) -> bool | None:
    if raw is None or raw == "":
        return None
    if raw.lower() not in ("true", "false"):
        raise bad_request(f"Invalid {name}", f"invalid_{_snake(name)}", f"{name} must be true or false")
    return raw.lower() == "true"


def parse_text(raw: str | None, name: str) -> str | None:
    if raw is None or raw == "":
        return None
    if "\x00" in raw or len(raw) > 200:
        raise bad_request(f"Invalid {name}", f"invalid_{_snake(name)}", f"{name} must be printable text")
    return raw


def parse_time(raw: str | None, name: str) -> datetime | None:
    if raw is None or raw == "":
        return None
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"Invalid {name}", f"invalid_{name}", f"{name} must be an ISO-8601 timestamp") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass(frozen=True)
class DecisionFilters:
    run_type: str | None = None
    route_class: str | None = None
    budget_category: str | None = None
    success: bool | None = None
    strategy_id: str | None = None
    override_used: bool | None = None
    start: datetime | None = None
    end: datetime | None = None
    limit: int = DEFAULT_LIMIT


def parse_stats_range(params: dict[str, str], now: datetime) -> tuple[datetime, datetime]:
    """start -> end in §10.2's order (the first failure wins); a missing end is now and a missing start 24 h
    before the end."""
    start, end = parse_time(params.get("start"), "start"), parse_time(params.get("end"), "end")
    end = end or now
    if start is None:
        try:
            start = end - timedelta(hours=24)
        except OverflowError:
            raise bad_request("Invalid time range", "invalid_time_range", "end is too early") from None
    if end <= start:
        raise bad_request("Invalid time range", "invalid_time_range", "end must be after start")
    return start, end


def parse_decision_filters(params: dict[str, str]) -> DecisionFilters:
    """runType → limit → the remaining §9.1 filters; the first failure wins."""
    run_type = parse_choice(params.get("runType"), [str(r) for r in RunType], "runType")
    limit = parse_limit(params.get("limit"))
    start, end = parse_time(params.get("start"), "start"), parse_time(params.get("end"), "end")
    if start is not None and end is not None and end <= start:
        raise bad_request("Invalid time range", "invalid_time_range", "end must be after start")
    return DecisionFilters(
        run_type, parse_choice(params.get("routeClass"), [str(r) for r in RouteClass], "routeClass"),
        parse_choice(params.get("budgetCategory"), [str(c) for c in BudgetCategory], "budgetCategory"),
        parse_bool(params.get("success"), "success"), parse_text(params.get("strategyId"), "strategyId"),
        parse_bool(params.get("overrideUsed"), "overrideUsed"), start, end, limit)


def decision_json(row: tuple[Any, ...]) -> dict[str, Any]:
    (did, decided_at, run_type, route_class, category, source, reason, strategy, chain, selected, override_used,
     override_reason, projected, metadata, status, success, final, code, failure, retryable, attempts, fallbacks,
     latency, tokens_in, tokens_out, cached, actual, finished_at, digest) = row
    model = final or selected
    provider = str(model_spec(model).provider) if model else None
    return {
        "id": str(did), "timestamp": iso(decided_at), "runType": run_type, "routeClass": route_class,
        "selectedModel": {"resolvedModelId": model, "provider": provider} if model else {"no_llm": True},
        "fallbacksAttempted": fallbacks, "budgetCategory": category, "projectedCostUsd": projected,
        "actualCostUsd": actual, "latencyMs": latency, "success": success, "failureReason": failure,
        "decisionHash": digest, "strategyId": strategy, "overrideUsed": override_used,
        "overrideReason": override_reason, "resolutionSource": source, "routingReason": reason,
        "metadata": {**metadata, "routeClass": route_class, "resolvedModelId": model} if success else None,
        "resolvedProvider": provider, "resolvedModelId": model, "status": status, "errorCode": code,
        "retryable": retryable, "chain": chain, "attemptsCount": attempts, "inputTokens": tokens_in,
        "outputTokens": tokens_out, "cachedTokens": cached, "finishedAt": iso(finished_at),
    }


def list_decisions(pool: ConnectionPool[Any], f: DecisionFilters) -> list[dict[str, Any]]:
    where: list[str] = ["TRUE"]
    args: list[Any] = []
    for column, value in (("run_type", f.run_type), ("route_class", f.route_class),
                          ("budget_category", f.budget_category), ("success", f.success),
                          ("strategy_id", f.strategy_id), ("override_used", f.override_used)):
        if value is not None:
            where.append(f"{column} = %s")
            args.append(value)
    if f.start is not None:
        where.append("decided_at >= %s")
        args.append(f.start)
    if f.end is not None:
        where.append("decided_at < %s")
        args.append(f.end)
    query = (f"SELECT {DECISION_COLUMNS} FROM views.llm_decisions WHERE {' AND '.join(where)}"
             " ORDER BY decided_at DESC, decision_id DESC LIMIT %s")
    with pool.connection() as conn:
        rows = conn.execute(query, [*args, f.limit]).fetchall()
    return [decision_json(r) for r in rows]


def decision_detail(pool: ConnectionPool[Any], decision_id: str) -> dict[str, Any] | None:
    try:
        did = UUID(decision_id)
    except ValueError:
        return None
    with pool.connection() as conn:
        row = conn.execute(f"SELECT {DECISION_COLUMNS} FROM views.llm_decisions WHERE decision_id = %s",
                           (did,)).fetchone()
        if row is None:
            return None
        attempts = conn.execute(
            "SELECT attempt_no, model_id, provider, success, latency_ms, error_code, error_message"
            " FROM views.llm_attempts WHERE decision_id = %s ORDER BY attempt_no", (did,)).fetchall()
    keys = ("attemptNo", "modelId", "provider", "success", "latencyMs", "errorCode", "errorMessage")
    return {**decision_json(row), "attempts": [dict(zip(keys, a, strict=True)) for a in attempts]}


def stats(pool: ConnectionPool[Any], start: datetime, end: datetime) -> dict[str, Any]:
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT route_class, success, latency_ms, actual_cost_usd FROM views.llm_decisions"
            " WHERE decided_at >= %s AND decided_at < %s AND status <> 'resolved' AND route_class IS NOT NULL",
            (start, end)).fetchall()
    s = routing_stats(DecisionFact(rc, ok, lat, cost) for rc, ok, lat, cost in rows)
    return {"periodStart": iso(start), "periodEnd": iso(end), "totalDecisions": s.total_decisions,
            "successCount": s.success_count, "failureCount": s.failure_count, "successRate": s.success_rate,
            "totalCostUsd": s.total_cost_usd, "avgLatencyMs": s.avg_latency_ms,
            "byRouteClass": {str(rc): {"count": c.count, "successRate": c.success_rate,
                                       "avgLatencyMs": c.avg_latency_ms} for rc, c in s.by_route_class.items()}}


def success_rate(pool: ConnectionPool[Any]) -> list[dict[str, Any]]:
    with pool.connection() as conn:
        rows = conn.execute("SELECT route_class, total_decisions, success_count, success_rate_pct, avg_latency_ms,"
                            " total_cost_usd FROM views.llm_routing_success_rate").fetchall()
    return [{"routeClass": rc, "totalDecisions": n, "successCount": ok, "successRatePct": float(pct),
             "avgLatencyMs": float(lat) if lat is not None else None, "totalCostUsd": float(cost)}
            for rc, n, ok, pct, lat, cost in rows]


def rules() -> dict[str, Any]:
    out = []
    for rt in RunType:
        r = routing_rule(rt)
        out.append({"runType": str(rt), "routeClass": str(r.route_class), "budgetCategory": str(r.budget_category),
                    "rationale": r.rationale})
    classes = {str(rc): {"llmAllowed": bool(chain), **({"defaultModelId": chain[0]} if chain else {}),
                         "fallbackModelIds": list(chain[1:])} for rc, chain in CHAINS.items()}
    models = {mid: {"resolvedModelId": m.resolved_model_id, "provider": str(m.provider),
                    "providerModelId": m.provider_model_id, "defaultTemperature": m.default_temperature,
                    "defaultMaxTokens": m.default_max_tokens, "cacheStrategy": str(m.cache_strategy),
                    "inputPer1M": m.input_per_1m, "outputPer1M": m.output_per_1m,
                    "cachedInputPer1M": m.cached_input_per_1m, "preview": m.preview,
                    "contextWindowTokens": m.context_window_tokens} for mid, m in MODELS.items()}
    return {"rules": out, "routeClasses": classes, "models": models}


def assumptions_json(a: BudgetAssumptions) -> dict[str, Any]:
    names = {"calls_per_day": "callsPerDay", "days_per_month": "daysPerMonth", "route_mix": "routeMix",
             "category_mix": "categoryMix", "avg_input_tokens": "avgInputTokensByRouteClass",
             "avg_output_tokens": "avgOutputTokensByRouteClass", "retry_rate": "retryRate",
             "cache_hit_rate": "cacheHitRate", "safety_multiplier": "safetyMultiplier"}
    out: dict[str, Any] = {}
    for f in fields(a):
        value = getattr(a, f.name)
        out[names[f.name]] = {str(k): v for k, v in value.items()} if isinstance(value, dict) else value
    return out


def budget_document(pool: ConnectionPool[Any], assumptions: BudgetAssumptions, projection: BudgetProjection,
                    now: datetime) -> dict[str, Any]:
    keys = {p: period_key(p, now) for p in PeriodType}
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT category, period_type, spent_usd, reserved_usd, open_reservations, last_updated"
            " FROM views.llm_budget WHERE (period_type = 'daily' AND period_key = %s)"
            " OR (period_type = 'monthly' AND period_key = %s)", (keys[PeriodType.DAILY], keys[PeriodType.MONTHLY])
        ).fetchall()
    found = {(c, p): (float(spent), float(held), n, at) for c, p, spent, held, n, at in rows}
    spending: dict[str, Any] = {}
    categories: dict[str, Any] = {}
    for period in PeriodType:
        by_cat = {str(c): found.get((str(c), str(period)), (0.0, 0.0, 0, None))[0] for c in BudgetCategory}
        spending[str(period)] = total_spending(by_cat)
    for cat in BudgetCategory:
        env = projection.envelopes[cat]
        states = {}
        for period, limit in ((PeriodType.DAILY, env.daily_limit_usd), (PeriodType.MONTHLY, env.monthly_limit_usd)):
            spent, held, n, at = found.get((str(cat), str(period)), (0.0, 0.0, 0, None))
            pct = spent / limit * 100 if limit > 0 else 0.0
            states[str(period)] = {"category": str(cat), "periodStart": keys[period], "periodType": str(period),
                                   "limitUsd": limit, "consumedUsd": spent, "remainingUsd": max(0.0, limit - spent),
                                   "percentUsed": pct, "isBlocked": pct >= env.hard_cap_pct, "lastUpdated": iso(at),
                                   "reservedUsd": held, "openReservations": n}
        rate = run_rate(now, states["daily"]["consumedUsd"], states["monthly"]["consumedUsd"], env)
        categories[str(cat)] = {
            "envelope": {"dailyLimitUsd": env.daily_limit_usd, "monthlyLimitUsd": env.monthly_limit_usd,
                         "alertThresholdPct": env.alert_threshold_pct, "hardCapPct": env.hard_cap_pct},
            "daily": states["daily"], "monthly": states["monthly"],
            "runRate": {"dailyProjection": rate.daily_projection, "monthlyProjection": rate.monthly_projection,
                        "willExceedDaily": rate.will_exceed_daily, "willExceedMonthly": rate.will_exceed_monthly},
            "shouldAlert": max(states["daily"]["percentUsed"], states["monthly"]["percentUsed"])
            >= env.alert_threshold_pct,
        }
    return {
        "timestamp": iso(now), "assumptions": assumptions_json(assumptions),
        "projection": {"projectedDailyCostUsd": projection.projected_daily_cost_usd,
                       "projectedMonthlyCostUsd": projection.projected_monthly_cost_usd,
                       # §10.2's `resolvedModelId?`: absent for the class without a model, as /rules omits
                       # its `defaultModelId?` (ADR 0359)
                       "byRouteClass": [{"routeClass": str(r.route_class),
                                         **({"resolvedModelId": r.resolved_model_id} if r.resolved_model_id else {}),
                                         "callsPerDay": r.calls_per_day,
                                         "projectedDailyCostUsd": r.projected_daily_cost_usd,
                                         "projectedMonthlyCostUsd": r.projected_monthly_cost_usd}
                                        for r in projection.by_route_class]},
        "limits": {"dailyTotal": projection.daily_total, "monthlyTotal": projection.monthly_total},
        "spending": spending, "categories": categories,
    }


def blocked_sweep_times(conn: Any, since: datetime) -> list[datetime]:
    """When each blocking sweep at or after ``since`` ran: every one, for §7.3's ANY-block rule."""
    rows = conn.execute("SELECT swept_at FROM views.llm_drift_sweeps WHERE blocked_deployment AND swept_at >= %s",
                        (since,)).fetchall()
    return [r[0] for r in rows]


def drift_document(pool: ConnectionPool[Any], now: datetime, lookback: timedelta = DEFAULT_LOOKBACK) -> dict[str, Any]:
    """The newest 50 sweeps, and both §7.3 gates as the domain decides them: the recent block over every blocking
    sweep of the window (not only the listed ones), the latest decision from the newest sweep (ADR 0483)."""
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT sweep_id, sweep_type, gold_set_size, mean_score_delta, max_score_delta, passed,"
            " blocked_deployment, failure_reasons, swept_at FROM views.llm_drift_sweeps"
            " ORDER BY swept_at DESC LIMIT 50").fetchall()
        blocked_at = blocked_sweep_times(conn, now - lookback)
    sweeps = [{"id": str(i), "sweepType": t, "goldSetSize": n, "meanScoreDelta": mean, "maxScoreDelta": mx,
               "passed": ok, "blockedDeployment": blocked, "failureReasons": reasons, "runAt": iso(at)}
              for i, t, n, mean, mx, ok, blocked, reasons, at in rows]
    recent = recent_block((SweepView(at, True) for at in blocked_at), now, lookback)
    latest = latest_deploy_allowed([SweepView(r[8], r[6]) for r in rows[:1]])
    return {"recentBlock": recent, "latestDeployAllowed": latest, "sweeps": sweeps}


def scoring_gate_document(scoring: MarketScoring, strategy: str | None) -> dict[str, Any]:
    """What the trade path reads for a market now (ADR 0425): the §8.3 verdict, I13's ambiguity score and I12's
    equivalence grade with the runs they come from (the grade as a cross-venue strategy would see it, unless
    ``strategy`` names one that trades no pair), and the market's runs oldest first."""
    info = find_strategy(strategy) if strategy else None
    inputs = scoring_inputs(scoring, needs_equivalence=info is None or info.needs_equivalence)
    return {"marketId": scoring.market_id, "gate": market_gate(scoring).to_json(),
            "strategyGated": None if strategy is None else bool(info and info.llm_gated),
            "ambiguityScore": inputs.ambiguity_score, "equivalenceGrade": inputs.equivalence_grade,
            **inputs.provenance(),
            "runs": [{"runId": r.run_id, "runType": r.run_type,
                      "target": f"{r.target_entity_type}:{r.target_entity_id}", "createdAt": iso_utc(r.created_at),
                      "score": r.score, "flagged": r.flagged_for_human_review,
                      "humanOverrideScore": r.human_override_score, "inputHash": r.input_hash,
                      "inputText": r.input_text} for r in scoring.runs]}
