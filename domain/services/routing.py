"""Routing context: governed LLM calls (llm-routing §6.3) with an event-sourced budget reservation.

Order of operations per call: resolve (env overrides fail closed) → hard-control block → provider-key
check → prompt → RESERVE the projected cost in the category's daily and monthly ledgers (one save, which
also stores the decision's plan; committed before any provider is called) → attempts through the provider
port → SETTLE the actual cost or RELEASE the hold, together with the decision's outcome (queued behind the
caller and carried by the next save of the category, see ``routing_outcomes``; ``flush()`` waits for it).
Every outcome is a stored RoutingDecision. Ledger work goes through a per-category group commit
(``routing_commit``): concurrent callers share saves, and optimistic concurrency (retried) covers other
processes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from paulp.domain.budget_ledger import (
    BudgetPeriodLedger,
    LedgerSnapshot,
    ledger_ids,
    open_ledger,
    reserve_both,
    resume_ledger,
    snapshot,
)
from paulp.domain.budgets import (
    DEFAULT_ASSUMPTIONS,
    BudgetAssumptions,
    BudgetExceeded,
    BudgetProjection,
    PeriodType,
    derive_budget,
    period_key,
    usd,
)
from paulp.domain.clock import Clock
from paulp.domain.executor import CallPort, CallResult, Execution, execute_plan
from paulp.domain.governance import StabilityReport, SweepSample, nightly_stability_sweep
from paulp.domain.governed_call import (
    ESTIMATED_OUTPUT_TOKENS,
    ProviderKeyMissing,
    estimate_input_tokens,
    provider_keys,
)
from paulp.domain.llm_manifest import DEFAULT_PRICES, ModelPrice, Prices, cost_usd
from paulp.domain.llm_pricing import LlmBudgetAssumptions
from paulp.domain.llm_prompts import load_prompt
from paulp.domain.llm_records import DriftSweepRecord, RegressionSuiteRecord, record_sweep
from paulp.domain.llm_regression import ScoringInput
from paulp.domain.routing import BudgetCategory, ErrorCode, RouteRequest, RunType
from paulp.domain.routing_decision import RoutingDecision
from paulp.domain.routing_plan import BUDGET_REASON_PREFIX, Failure, RoutePlan, plan_route
from paulp.domain.services.base import PaulpApplication
from paulp.domain.services.routing_commit import Job, JobFn, LedgerBatcher, Prebuilt
from paulp.domain.services.routing_outcomes import OutcomeWriter
from paulp.domain.services.routing_scoring import (
    input_text_of,
    input_text_of_variables,
    prepare_prompt,
    scoring_run,
)
from paulp.domain.services.routing_types import GovernOutcome, OpenGate, PreparedPrompt, ProviderPort, RoutePreview

log = logging.getLogger("paulp.routing")
STALE_HOLD = timedelta(minutes=15)
STALE_REASON = "stale reservation charged: the call never reported back"
PRICING_REFRESH_S = 5.0  # how stale another process's price change may be here (ADR 0399)


class RoutingService(PaulpApplication):
    def __init__(self, env: Mapping[str, str] | None, clock: Clock, *, llm_env: Mapping[str, str],
                 providers: Callable[[], ProviderPort], new_id: Callable[[], UUID],
                 assumptions: BudgetAssumptions = DEFAULT_ASSUMPTIONS,
                 pricing_refresh_s: float = PRICING_REFRESH_S) -> None:
        super().__init__(env, clock)
        self.llm_env = dict(llm_env)
        self.assumptions = assumptions
        self.pricing_refresh_s = pricing_refresh_s
        self._pricing_lock = threading.Lock()
        self._pricing: tuple[int, Prices, BudgetProjection] = (0, DEFAULT_PRICES, derive_budget(assumptions))
        self._pricing_checked = time.monotonic()
        self._load_pricing()  # at start-up: a process never routes on prices it could not read
        self._provider_factory = providers
        self._providers: ProviderPort | None = None
        self._providers_lock = threading.Lock()
        self._new_id = new_id
        self._batchers = {str(c): LedgerBatcher(str(c), self._load_ledger, self._save_all) for c in BudgetCategory}
        self._outcomes = OutcomeWriter(self._batchers)

    @property
    def budget(self) -> BudgetProjection:
        """The envelopes derived from the assumptions at the prices in force (§5.3)."""
        return self._pricing[2]

    @property
    def prices(self) -> Prices:
        return self._pricing[1]

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until the outcome of every governed call returned so far is stored."""
        self._outcomes.flush(timeout)

    def close(self) -> None:
        try:
            self._outcomes.close()
        finally:
            super().close()

    # ----------------------------------------------------------------- the governed call

    def govern(self, run_type: str, variables: Mapping[str, object] | None = None, *,
               system_prompt: str | None = None, user_prompt: str | None = None, strategy_id: str | None = None,
               force_model: str | None = None, force_route_class: str | None = None,
               is_highest_stakes: bool = False, override_reason: str | None = None,
               metadata: Mapping[str, Any] | None = None, scoring_input: ScoringInput | None = None) -> GovernOutcome:
        """``scoring_input``: the §8.2 input ``variables`` were made from, whose text a scoring run hashes; without
        it that input is read back from ``variables`` (``input_text_of_variables``)."""
        started, decision_id, began = self.clock.now(), self._new_id(), time.monotonic()  # latency: never the wall's
        prompt = prepare_prompt(run_type, variables or {}, system_prompt, user_prompt)
        input_text = "" if not prompt.is_scoring else (
            input_text_of(scoring_input) if scoring_input is not None else input_text_of_variables(variables or {}))
        plan = self._plan(run_type, prompt, strategy_id, force_model, force_route_class, is_highest_stakes,
                          override_reason, metadata or {}, started)
        failure = plan.failure or self._key_failure() or prompt.failure
        if failure is not None:
            return self._refuse(decision_id, replace(plan, attempts=(), failure=failure), prompt, started,
                                input_text, began)
        assert plan.budget_category is not None
        category = str(plan.budget_category)
        reserved = self._reserve(decision_id, plan, category, prompt, input_text, started)
        denied, should_alert, decision = reserved.result
        if denied is not None:
            return GovernOutcome(str(decision_id), False, plan.route_class, plan.projected_cost_usd,
                                 prompt.version, prompt.hash, _ms(began),
                                 reserved.notification_id, error=denied)
        try:
            execution = _repriced(execute_plan(plan, self._port(prompt)), self.prices)
        except BaseException:
            self._settle(category, started, _release_job(str(decision_id), "call interrupted", self.clock.now()))
            raise
        finished = self.clock.now()
        job, prebuilt = self._finish_job(decision, execution, prompt, input_text, finished)
        self._outcomes.submit(category, job, started, prebuilt.prepare)
        return GovernOutcome(str(decision_id), execution.success, plan.route_class, plan.projected_cost_usd,
                             prompt.version, prompt.hash, _ms(began), reserved.notification_id,
                             execution.attempts,
                             execution.content, execution.resolved_model_id, execution.usage, execution.failure,
                             should_alert)

    def dry_run(self, run_type: str, variables: Mapping[str, object] | None = None, *,
                system_prompt: str | None = None, user_prompt: str | None = None, strategy_id: str | None = None,
                force_model: str | None = None, force_route_class: str | None = None,
                is_highest_stakes: bool = False) -> RoutePreview:
        """The decision a call would get now: chain, projected cost, budget state; nothing called or stored."""
        now = self.clock.now()
        prompt = prepare_prompt(run_type, variables or {}, system_prompt, user_prompt)
        plan = self._plan(run_type, prompt, strategy_id, force_model, force_route_class, is_highest_stakes,
                          None, {}, now)
        missing: tuple[str, ...] = ()
        key_failure = self._key_failure()
        if key_failure is not None:
            missing = tuple(key_failure.message.split(": ", 1)[-1].split(", "))
        budget: dict[str, LedgerSnapshot] = {}
        allowed, reason, alert = plan.failure is None, None, False
        if plan.budget_category is not None:
            category = str(plan.budget_category)
            d, m = self.ledger_snapshots(category, now)
            budget = {"daily": d, "monthly": m}
            amount = usd(plan.projected_cost_usd)
            threshold = self.budget.envelopes[plan.budget_category].alert_threshold_pct
            alert = d.percent_used >= threshold or m.percent_used >= threshold
            for s, kind in ((d, "Daily"), (m, "Monthly")):
                if allowed and s.would_exceed(amount):
                    allowed, reason = False, f"{kind} budget exceeded for {category}"
        failure = plan.failure or key_failure or prompt.failure
        return RoutePreview(plan.run_type, plan.route_class, str(plan.resolution_source), plan.budget_category,
                            plan.attempts, plan.selected_model_id, plan.projected_cost_usd,
                            _estimate(prompt), ESTIMATED_OUTPUT_TOKENS, plan.override_used, plan.override_reason,
                            plan.decision_hash, failure, allowed, reason, alert, missing, budget)

    # ----------------------------------------------------------------- budget commands and reads

    def ledger_snapshots(self, category: str, at: datetime | None = None) -> tuple[LedgerSnapshot, LedgerSnapshot]:
        self.flush()  # read this process's own outcomes
        at = at or self.clock.now()
        d_id, m_id = ledger_ids(category, at)
        env = self.budget.envelopes[BudgetCategory(category)]
        return (snapshot(self._read_ledger(d_id), category, PeriodType.DAILY, at, usd(env.daily_limit_usd)),
                snapshot(self._read_ledger(m_id), category, PeriodType.MONTHLY, at, usd(env.monthly_limit_usd)))

    def reset_budget(self, category: str, period_type: str, actor: str, reason: str) -> tuple[str, int]:
        """§5.8 admin reset: append UsageReset to the current period's ledger; returns (period key, nid). The nid is
        0 when the period's last reset was this one (same operator, same reason): a repeat records nothing (ADR
        0517)."""
        period, cat, now = PeriodType(period_type), str(BudgetCategory(category)), self.clock.now()

        def job(daily: BudgetPeriodLedger, monthly: BudgetPeriodLedger) -> tuple[Any, list[Aggregate]]:
            return (daily if period is PeriodType.DAILY else monthly).reset_usage(actor, reason, now), []

        done = self._batchers[cat].run(job, now)
        if done.error is not None:
            raise done.error
        return period_key(period, now), done.notification_id if done.result else 0

    def charge_stale_reservations(self, older_than: timedelta = STALE_HOLD,
                                  open_periods: Iterable[tuple[str, datetime]] = ()) -> int:
        """Scheduled: close the holds of calls that never reported back (a crash between reserve and settle,
        an outcome that could not be stored) by charging their reserved amount; a late report trues it up. Looks
        at today's and yesterday's ledgers, and at the day and month of each ``(category, at)`` in
        ``open_periods`` (the periods the budget view lists with open holds): a wall clock stepped forward by days
        leaves a hold in an older period, which would otherwise stay open for ever (ADR 0526)."""
        now, charged = self.clock.now(), 0

        def job(daily: BudgetPeriodLedger, monthly: BudgetPeriodLedger) -> tuple[Any, list[Aggregate]]:
            count = len(daily.charge_stale(older_than, now, STALE_REASON))
            return count + len(monthly.charge_stale(older_than, now, STALE_REASON)), []

        visits = {(str(cat), at) for cat in BudgetCategory for at in (now, now - timedelta(days=1))}
        visits |= {(cat, at) for cat, at in open_periods if cat in self._batchers}
        seen: set[tuple[UUID, UUID]] = set()
        for cat, at in sorted(visits):
            if (ids := ledger_ids(cat, at)) not in seen:
                seen.add(ids)
                out = self._batchers[cat].run(job, at)
                if out.error is not None:
                    raise out.error
                charged += int(out.result or 0)
        return charged

    def record_drift_sweep(self, samples: list[SweepSample]) -> tuple[StabilityReport, bool]:
        """§7.1 steps 2-5; returns (report, stored) — one nightly sweep per UTC day, a repeat stores nothing."""
        report = nightly_stability_sweep(samples, load_prompt(RunType.AMBIGUITY_SCORE).version, self.clock.now())
        try:
            self.save(record_sweep(report.sweep))
        except IntegrityError:
            return report, False
        return report, True

    def nightly_sweep_done(self, day: str) -> bool:
        return self.get_or_none(DriftSweepRecord.create_id("nightly_stability", day)) is not None

    def record_regression_suite(self, record: RegressionSuiteRecord) -> int | None:
        """Store a completed suite; None when its run id is stored already (an earlier try committed)."""
        try:
            return self.last_notification_id(self.save(record))
        except IntegrityError:
            return None

    def regression_suite(self, run_id: str) -> RegressionSuiteRecord | None:
        found = self.get_or_none(RegressionSuiteRecord.create_id(run_id))
        return found if isinstance(found, RegressionSuiteRecord) else None

    # ----------------------------------------------------------------- steps

    def _plan(self, run_type: str, prompt: PreparedPrompt, strategy_id: str | None, force_model: str | None,
              force_route_class: str | None, is_highest_stakes: bool, override_reason: str | None,
              metadata: Mapping[str, Any], at: datetime) -> RoutePlan:
        request = RouteRequest(run_type, _estimate(prompt), ESTIMATED_OUTPUT_TOKENS, strategy_id, force_model,
                               force_route_class, is_highest_stakes, override_reason, dict(metadata))
        return plan_route(request, self.llm_env, OpenGate(at), self._current_prices())

    # ----------------------------------------------------------------- prices (ADR 0399)

    def pricing(self) -> LlmBudgetAssumptions | None:
        """The operator's price changes, None while the manifest's prices stand."""
        found: LlmBudgetAssumptions | None = self.get_or_none(LlmBudgetAssumptions.create_id())
        return found

    def set_prices(self, changes: Mapping[str, Mapping[str, object]], actor: str, reason: str) -> tuple[int, int]:
        """Record ``LlmBudgetAssumptionsChanged`` and use the new prices here at once; other processes within
        ``pricing_refresh_s``. Returns (version, last notification id); a refused change records nothing."""
        def command() -> tuple[int, int]:
            row = self.pricing() or LlmBudgetAssumptions.start()
            row.change(changes, actor, reason, self.clock.now())
            return row.version, self.last_notification_id(self.save(row))

        done = self.retry_on_conflict(command)
        self._load_pricing()
        return done

    def _current_prices(self) -> Prices:
        """The prices in memory; at most every ``pricing_refresh_s`` one indexed read looks for a change, by
        one caller while the others go on with the prices they have."""
        if time.monotonic() - self._pricing_checked >= self.pricing_refresh_s and self._pricing_lock.acquire(False):
            try:
                self._pricing_checked = time.monotonic()
                if self.recorder.select_events(LlmBudgetAssumptions.create_id(), gt=self._pricing[0], limit=1):
                    self._load_pricing()
            except Exception:  # keep the prices in force; the reservation that follows needs the database anyway
                log.exception("could not look for an LLM price change; keeping the prices in force")
            finally:
                self._pricing_lock.release()
        return self._pricing[1]

    def _load_pricing(self) -> None:
        row = self.pricing()
        if row is None or row.version == self._pricing[0]:
            return
        prices = row.prices
        self._pricing = (row.version, prices, derive_budget(self.assumptions, prices))
        self._pricing_checked = time.monotonic()

    def _key_failure(self) -> Failure | None:
        try:
            provider_keys(self.llm_env)
        except ProviderKeyMissing as err:
            return Failure(ErrorCode.PROVIDER_KEY_MISSING, err.message, err.message)
        return None

    def _port(self, prompt: PreparedPrompt) -> CallPort:
        """Providers are built on first use, so the app starts without keys; a build failure fails the attempt."""

        def call(model_id: str) -> CallResult:
            with self._providers_lock:
                if self._providers is None:
                    self._providers = self._provider_factory()
            return self._providers.port(prompt.system, prompt.user)(model_id)

        return call

    def _reserve(self, decision_id: UUID, plan: RoutePlan, category: str, prompt: PreparedPrompt,
                 input_text: str, at: datetime) -> Job:
        """RESERVE with the decision's plan in one save; a denial stores the failed decision in that save."""
        envelope, amount = self.budget.envelopes[BudgetCategory(category)], usd(plan.projected_cost_usd)
        prepared = [RoutingDecision.open(decision_id, plan, at)]  # built outside the category's lock

        def job(daily: BudgetPeriodLedger, monthly: BudgetPeriodLedger) -> tuple[Any, list[Aggregate]]:
            try:
                should_alert = reserve_both(daily, monthly, str(decision_id), amount, envelope, at)
            except BudgetExceeded as err:
                denied = Failure(ErrorCode.BUDGET_EXCEEDED, err.message, BUDGET_REASON_PREFIX + err.message)
                refused = RoutingDecision.open(decision_id, replace(plan, attempts=(), failure=denied), at)
                return (denied, False, refused), [refused, *self._scoring(refused, prompt, input_text, at, None)]
            for ledger in (daily, monthly):
                ledger.alert_if_due(envelope.alert_threshold_pct, at)
            decision = prepared.pop() if prepared else RoutingDecision.open(decision_id, plan, at)
            return (None, should_alert, decision), [decision]

        done = self._batchers[category].run(job, at)
        if done.error is not None:
            raise done.error
        return done

    def _finish_job(self, reserved: RoutingDecision, execution: Execution, prompt: PreparedPrompt,
                    input_text: str, finished: datetime) -> tuple[JobFn, Prebuilt[list[Aggregate]]]:
        """SETTLE the actual cost (or RELEASE the hold) and record the decision's outcome, in one save.

        The outcome aggregates are built ahead by the outcome writer's thread (``Prebuilt.prepare``), so
        neither the caller, who has its answer already, nor the category's lock pays for them (ADR 0435);
        a save that carries the job before then builds them itself, and a re-run of the batch (after a
        conflict) builds them afresh. A scoring call's are built here, off the caller's §8.2 input text."""
        rid, failure = str(reserved.id), execution.failure
        spent = execution.usage if execution.success else None  # None: the call failed, its hold is released

        def outcome() -> list[Aggregate]:
            decision = reserved.working_copy()
            for attempt in execution.attempts:
                decision.record_attempt(attempt)
            if spent is not None:
                decision.succeed(spent, finished)
            else:
                assert failure is not None
                decision.fail(failure, finished)
            return [decision, *self._scoring(decision, prompt, input_text, finished, execution)]

        prebuilt = Prebuilt(outcome)
        if prompt.is_scoring:  # its record parses the answer and hashes the input: off the category's lock
            prebuilt.prepare()

        def job(daily: BudgetPeriodLedger, monthly: BudgetPeriodLedger) -> tuple[Any, list[Aggregate]]:
            aggregates = prebuilt.take()
            if spent is not None:
                actual = usd(spent.cost_usd)
                for ledger in (daily, monthly):
                    if rid in ledger.holds:
                        ledger.settle(rid, actual, finished)
                    else:  # the hold was closed as stale meanwhile: true the charge up to the real cost
                        ledger.record_late_usage(rid, actual, finished)
            elif execution.answer_unused:  # answered, maybe charged, not usable: never handed back on a guess
                _charge_hold_job(rid, finished)(daily, monthly)
            else:
                assert failure is not None
                _release_job(rid, str(failure.code), finished)(daily, monthly)
            return None, aggregates

        return job, prebuilt

    def _settle(self, category: str, at: datetime, job: JobFn) -> int:
        done = self._batchers[category].run(job, at)
        if done.error is not None:
            raise done.error
        return done.notification_id

    def _refuse(self, decision_id: UUID, plan: RoutePlan, prompt: PreparedPrompt, started: datetime,
                input_text: str, began: float) -> GovernOutcome:
        """A fail-closed verdict: no provider called, no budget touched, the failed decision stored."""
        decision = RoutingDecision.open(decision_id, plan, started)
        extra = self._scoring(decision, prompt, input_text, started, None)
        nid = self.last_notification_id(self.save(decision, *extra))
        return GovernOutcome(str(decision_id), False, plan.route_class, plan.projected_cost_usd, prompt.version,
                             prompt.hash, _ms(began), nid, error=plan.failure)

    def _scoring(self, decision: RoutingDecision, prompt: PreparedPrompt, input_text: str, at: datetime,
                 execution: Execution | None) -> list[Aggregate]:
        if not prompt.is_scoring:
            return []
        content, usage = (execution.content, execution.usage) if execution is not None else (None, None)
        return [scoring_run(decision, prompt, input_text, content, usage, at)]

    def _load_ledger(self, category: str, ledger_id: UUID, at: datetime, daily: bool) -> BudgetPeriodLedger:
        found = self._read_ledger(ledger_id)
        if found is not None:
            return found
        return open_ledger(category, PeriodType.DAILY if daily else PeriodType.MONTHLY, at)

    def _read_ledger(self, ledger_id: UUID) -> BudgetPeriodLedger | None:
        """Through the aggregate cache; a ledger it does not hold yet starts from its last checkpoint (ADR 0501)
        instead of being replayed from ``Opened``. A month's ledger grows by two events per call: a full replay
        cost 45 µs an event, seconds at a month's end, on every start and after every failed save."""
        found = self.get_checkpointed(ledger_id, BudgetPeriodLedger.Checkpointed, resume_ledger)
        assert found is None or isinstance(found, BudgetPeriodLedger)
        return found

    def _save_all(self, *aggregates: Aggregate) -> int:
        return self.last_notification_id(self.save(*aggregates))


def _release_job(rid: str, reason: str, at: datetime) -> JobFn:
    def job(daily: BudgetPeriodLedger, monthly: BudgetPeriodLedger) -> tuple[Any, list[Aggregate]]:
        for ledger in (daily, monthly):
            if rid in ledger.holds:
                ledger.release(rid, reason, at)
        return None, []

    return job


def _charge_hold_job(rid: str, at: datetime) -> JobFn:
    """Settle the hold at its reserved amount: a provider answered a call whose answer could not be used (its
    evidence could not be stored, ADR 0516), so the call may well have been charged; its tokens are in a body
    that was not kept, so the hold (the call's projected cost) stands for them, as a stale hold's does."""
    def job(daily: BudgetPeriodLedger, monthly: BudgetPeriodLedger) -> tuple[Any, list[Aggregate]]:
        for ledger in (daily, monthly):
            if rid in ledger.holds:
                ledger.settle(rid, ledger.holds[rid].amount_usd, at)
        return None, []

    return job


def _estimate(prompt: PreparedPrompt) -> int:
    return estimate_input_tokens(prompt.system, prompt.user) if prompt.failure is None else 0


def _repriced(execution: Execution, prices: Prices) -> Execution:
    """The provider clients price actual tokens at the manifest's rates; an operator's price of the model that
    answered wins (ADR 0399), a price of 0 included."""
    model_id, u = execution.resolved_model_id, execution.usage
    price: ModelPrice | None = prices.get(model_id) if model_id else None
    if u is None or model_id is None or price is None or price == DEFAULT_PRICES.get(model_id):
        return execution
    return replace(execution, usage=replace(u, cost_usd=cost_usd(model_id, u.input_tokens, u.output_tokens,
                                                                 u.cached_tokens, prices)))


def _ms(began: float) -> int:
    """Milliseconds since ``began`` (``time.monotonic``): a wall clock stepped mid-call is no latency (ADR 0522)."""
    return int((time.monotonic() - began) * 1000)


__all__ = ["GovernOutcome", "RoutePreview", "RoutingService"]
