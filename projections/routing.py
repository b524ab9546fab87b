"""LLM read models: decisions + attempts + scoring runs + drift sweeps, and the budget ledgers' summary.

Pure functions of the log: every value comes from the event (the provider of a model from the manifest).
"""

from __future__ import annotations

import json
from functools import singledispatchmethod
from typing import Any

from psycopg import Cursor
from psycopg.types.json import Jsonb

from paulp.domain.budget_ledger import BudgetPeriodLedger
from paulp.domain.llm_records import DriftSweepRecord, ScoringRun
from paulp.domain.routing import decision_hash, model_spec
from paulp.domain.routing_decision import RoutingDecision


def _provider(model_id: str | None) -> str | None:
    return str(model_spec(model_id).provider) if model_id else None


class LlmRoutingProjection:
    name = "llm_routing"
    tables = ("llm_decisions", "llm_attempts", "llm_scoring_runs", "llm_drift_sweeps")

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events this view does not show."""

    @apply.register
    def _(self, e: RoutingDecision.Resolved, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "INSERT INTO llm_decisions (decision_id, decided_at, run_type, route_class, budget_category,"
            " resolution_source, routing_reason, strategy_id, chain, selected_model_id, selected_provider,"
            " override_used, override_reason, projected_cost_usd, metadata, status, decision_hash,"
            " last_notification_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
            " 'resolved', %s, %s) ON CONFLICT (decision_id) DO NOTHING",
            (e.originator_id, e.decided_at, e.run_type, e.route_class, e.budget_category, e.resolution_source,
             e.routing_reason, e.strategy_id, Jsonb(list(e.planned_attempts)), e.selected_model_id,
             _provider(e.selected_model_id), e.override_used, e.override_reason, e.projected_cost_usd,
             Jsonb(json.loads(json.dumps(e.metadata, default=str))),
             decision_hash(e.run_type, e.route_class, e.selected_model_id, e.resolution_source), notification_id),
        )

    @apply.register
    def _(self, e: RoutingDecision.AttemptRecorded, cur: Cursor[Any], notification_id: int) -> None:
        row = cur.execute(
            "UPDATE llm_decisions SET attempts_count = attempts_count + 1, attempted = attempted || %s,"
            " last_notification_id = %s WHERE decision_id = %s RETURNING attempts_count, run_type",
            (Jsonb([e.model_id]), notification_id, e.originator_id),
        ).fetchone()
        if row is None:
            raise LookupError(f"attempt for unknown decision {e.originator_id}")
        cur.execute(
            "INSERT INTO llm_attempts (notification_id, decision_id, attempt_no, run_type, model_id, provider,"
            " success, latency_ms, error_code, error_message) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            (notification_id, e.originator_id, row[0], row[1], e.model_id, _provider(e.model_id), e.success,
             e.latency_ms, e.error_code, e.error_message),
        )

    @apply.register
    def _(self, e: RoutingDecision.Succeeded, cur: Cursor[Any], notification_id: int) -> None:
        row = cur.execute("SELECT run_type, route_class, resolution_source FROM llm_decisions WHERE decision_id = %s",
                          (e.originator_id,)).fetchone()
        if row is None:
            raise LookupError(f"outcome for unknown decision {e.originator_id}")
        cur.execute(
            "UPDATE llm_decisions SET status = 'succeeded', success = true, final_model_id = %(m)s,"
            " final_provider = %(p)s, actual_cost_usd = %(cost)s, latency_ms = %(lat)s, input_tokens = %(i)s,"
            " output_tokens = %(o)s, cached_tokens = %(c)s, finished_at = %(at)s,"
            " fallbacks_attempted = attempted - (jsonb_array_length(attempted) - 1),"
            " decision_hash = %(h)s, last_notification_id = %(nid)s WHERE decision_id = %(id)s",
            {"m": e.resolved_model_id, "p": _provider(e.resolved_model_id), "cost": e.actual_cost_usd,
             "lat": e.latency_ms, "i": e.input_tokens, "o": e.output_tokens, "c": e.cached_tokens,
             "at": e.completed_at, "nid": notification_id, "id": e.originator_id,
             "h": decision_hash(row[0], row[1], e.resolved_model_id, row[2])},
        )

    @apply.register
    def _(self, e: RoutingDecision.Failed, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "UPDATE llm_decisions SET status = 'failed', success = false, error_code = %s, failure_reason = %s,"
            " retryable = %s, finished_at = %s,"
            " fallbacks_attempted = CASE WHEN jsonb_array_length(attempted) > 0"
            " THEN attempted - (jsonb_array_length(attempted) - 1) ELSE '[]'::jsonb END,"
            " last_notification_id = %s WHERE decision_id = %s",
            (e.error_code, e.failure_reason, e.retryable, e.failed_at, notification_id, e.originator_id),
        )

    @apply.register
    def _(self, e: ScoringRun.Recorded, cur: Cursor[Any], notification_id: int) -> None:
        out = e.output
        cur.execute(
            "INSERT INTO llm_scoring_runs (run_id, decision_id, run_type, target_entity_type, target_entity_id,"
            " prompt_version, prompt_hash, model_id, input_hash, input_text, output, score, confidence, warnings,"
            " flagged_for_human_review, execution_failed, input_tokens, output_tokens, cost_usd, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (run_id) DO NOTHING",
            (e.originator_id, e.decision_id, e.run_type, e.target_entity_type, e.target_entity_id,
             e.prompt_version, e.prompt_hash, e.model_id, e.input_hash, e.input_text, Jsonb(out), out.get("score"),
             e.confidence, Jsonb(out.get("warnings")), e.flagged_for_human_review, e.execution_failed,
             e.input_tokens, e.output_tokens, e.cost_usd, e.created_at),
        )

    @apply.register
    def _(self, e: ScoringRun.OverriddenByHuman, cur: Cursor[Any], notification_id: int) -> None:
        """§8.3: the human's score stands beside the model's, and the run no longer awaits review."""
        cur.execute(
            "UPDATE llm_scoring_runs SET human_override_score = %s, human_override_reason = %s, overridden_by = %s,"
            " overridden_at = %s, flagged_for_human_review = false WHERE run_id = %s",
            (e.override_score, e.reason, e.actor, e.overridden_at, e.originator_id),
        )
        if cur.rowcount != 1:
            raise LookupError(f"override of unknown scoring run {e.originator_id}")

    @apply.register
    def _(self, e: DriftSweepRecord.Recorded, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "INSERT INTO llm_drift_sweeps (sweep_id, sweep_type, sweep_day, baseline_prompt_version,"
            " baseline_model_id, candidate_prompt_version, candidate_model_id, gold_set_size, mean_score_delta,"
            " max_score_delta, rank_order_changes, prompt_injection_pass_rate, mean_delta_threshold,"
            " max_delta_threshold, injection_pass_threshold, passed, blocked_deployment, deployment_allowed,"
            " failure_reasons, swept_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
            " %s, %s, %s, %s, %s) ON CONFLICT (sweep_id) DO NOTHING",
            (e.originator_id, e.sweep_type, e.sweep_day, e.baseline_prompt_version, e.baseline_model_id,
             e.candidate_prompt_version, e.candidate_model_id, e.gold_set_size, e.mean_score_delta,
             e.max_score_delta, e.rank_order_changes, e.prompt_injection_pass_rate, e.mean_delta_threshold,
             e.max_delta_threshold, e.injection_pass_threshold, e.passed, e.blocked_deployment,
             not e.blocked_deployment, Jsonb(list(e.failure_reasons)), e.run_at),
        )


class LlmBudgetProjection:
    name = "llm_budget"
    tables = ("llm_budget",)

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events this view does not show."""

    @apply.register
    def _(self, e: BudgetPeriodLedger.Opened, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "INSERT INTO llm_budget (category, period_type, period_key, ledger_id) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            (e.category, e.period_type, e.period_key, e.originator_id),
        )

    def _update(self, cur: Cursor[Any], ledger_id: Any, assignments: str, args: dict[str, Any]) -> None:
        cur.execute(f"UPDATE llm_budget SET {assignments}, last_updated = %(at)s WHERE ledger_id = %(id)s",
                    {**args, "id": ledger_id})
        if cur.rowcount != 1:
            raise LookupError(f"budget event for unknown ledger {ledger_id}")

    @apply.register
    def _(self, e: BudgetPeriodLedger.Reserved, cur: Cursor[Any], notification_id: int) -> None:
        self._update(cur, e.originator_id, "limit_usd = %(limit)s, reserved_usd = reserved_usd + %(amt)s,"
                     " open_reservations = open_reservations + 1, reservations = reservations + 1",
                     {"limit": e.limit_usd, "amt": e.amount_usd, "at": e.at})

    @apply.register
    def _(self, e: BudgetPeriodLedger.Settled, cur: Cursor[Any], notification_id: int) -> None:
        self._update(cur, e.originator_id, "reserved_usd = reserved_usd - %(held)s, spent_usd = spent_usd + %(amt)s,"
                     " open_reservations = open_reservations - 1, settlements = settlements + 1",
                     {"held": e.reserved_usd, "amt": e.actual_usd, "at": e.at})

    @apply.register
    def _(self, e: BudgetPeriodLedger.LateUsageRecorded, cur: Cursor[Any], notification_id: int) -> None:
        self._update(cur, e.originator_id, "spent_usd = spent_usd + %(amt)s, settlements = settlements + 1",
                     {"amt": e.actual_usd, "at": e.at})

    @apply.register
    def _(self, e: BudgetPeriodLedger.StaleHoldCharged, cur: Cursor[Any], notification_id: int) -> None:
        self._update(cur, e.originator_id, "reserved_usd = reserved_usd - %(held)s, spent_usd = spent_usd + %(held)s,"
                     " open_reservations = open_reservations - 1, settlements = settlements + 1",
                     {"held": e.reserved_usd, "at": e.at})

    @apply.register
    def _(self, e: BudgetPeriodLedger.LateUsageTrued, cur: Cursor[Any], notification_id: int) -> None:
        self._update(cur, e.originator_id, "spent_usd = spent_usd + greatest(0, %(amt)s - %(charged)s)",
                     {"amt": e.actual_usd, "charged": e.charged_usd, "at": e.at})

    @apply.register
    def _(self, e: BudgetPeriodLedger.Released, cur: Cursor[Any], notification_id: int) -> None:
        self._update(cur, e.originator_id, "reserved_usd = reserved_usd - %(held)s,"
                     " open_reservations = open_reservations - 1, releases = releases + 1",
                     {"held": e.reserved_usd, "at": e.at})

    @apply.register
    def _(self, e: BudgetPeriodLedger.UsageReset, cur: Cursor[Any], notification_id: int) -> None:
        self._update(cur, e.originator_id, "spent_usd = 0, alerted = false, last_reset_at = %(at)s", {"at": e.at})

    @apply.register
    def _(self, e: BudgetPeriodLedger.AlertRaised, cur: Cursor[Any], notification_id: int) -> None:
        self._update(cur, e.originator_id, "alerted = true", {"at": e.at})
