"""OrderPipeline: the process manager taking a signal to a filled (paper) or submitted (live) order.

signal -> order (deterministic id) -> pre-trade -> validation -> risk (breaker-adjusted limits) ->
execution policy + throttle -> paper fill or venue submission -> fill. Each stage is one save, so a crash
resumes from the order's state; the same signal never creates a second order, and a venue submission is
guarded by the client order id (= order id). A LIVE submission records SUBMITTING before the venue call;
one cut off there, or whose answer could not be saved, is recovered by client order id, never resent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any

from eventsourcing.persistence import IntegrityError

from paulp.domain.breaker import BreakerState
from paulp.domain.checkpoints import CHECKPOINT_EVERY, resume
from paulp.domain.clock import Clock
from paulp.domain.execution import evaluate_execution, order_notional
from paulp.domain.execution_orders import ExecutionRequest, ExecutionSignal, Side
from paulp.domain.execution_policies import PolicySource, lifecycle_policy
from paulp.domain.execution_policy import ExecutionMode, ExecutionPolicy, mode_for_strategy, policy_for_mode
from paulp.domain.execution_reports import slippage_window
from paulp.domain.order_states import OrderState
from paulp.domain.order_timers import expire_stale
from paulp.domain.order_values import (
    ExecutionResult,
    ExecutionStatus,
    ImpossibleVenueAnswer,
    LifecyclePolicy,
    PaperFill,
    PreTradeCheck,
    RiskCheckResult,
)
from paulp.domain.orders import Order
from paulp.domain.paper_fill import paper_fill
from paulp.domain.ports import (
    MarketDataPort,
    MarketFacts,
    PortfolioPort,
    ScoringPort,
    SubmissionOutcomeUnknown,
    VenuePort,
)
from paulp.domain.pretrade import PreTradeThresholds, pre_trade_check, size_for_impact
from paulp.domain.risk import RiskDecision, evaluate
from paulp.domain.risk_input import UNKNOWN_CATEGORY, RiskRequest
from paulp.domain.risk_limit_settings import LimitsSource
from paulp.domain.risk_limits import DEFAULT_LIMITS, RiskLimits
from paulp.domain.risk_record import evaluation_record
from paulp.domain.scoring_inputs import MarketScoring, market_gate, scoring_inputs
from paulp.domain.services.base import PaulpApplication
from paulp.domain.services.breaker import BreakerService
from paulp.domain.services.execution import ExecutionService
from paulp.domain.services.venue_answers import (
    alert_impossible_answer,
    apply_venue_answer,
    kalshi_venue_record,
    settle_lost_submission,
    venue_record,
)
from paulp.domain.strategy_registry import StrategyInfo, find_strategy
from paulp.domain.throttle import ExecutionThrottle, throttle_scope
from paulp.domain.venue_orders import VenueOrder

log = logging.getLogger("paulp.orders.pipeline")
S = OrderState
DISABLED_REASON = "Execution is disabled"  # §1.6: every request of a DISABLED mode (ADR 0140)
SCORING_UNREAD_REASON = "LLM scoring runs could not be read"  # the §8.3 gate fails closed (ADR 0425)
RESUMABLE_STATES = frozenset({S.PENDING, S.VALIDATED, S.RISK_APPROVED})  # what the execute step drives on
EXECUTE_STATES = RESUMABLE_STATES | {S.SUBMITTING}  # ... and a LIVE submission cut off mid-way (recovered)
RESUME_THROTTLE = partial(resume, ExecutionThrottle, ExecutionThrottle.Checkpointed)


@dataclass(frozen=True)
class TradeSignal:
    """A validated signal (pydantic at the HTTP/CLI boundary builds it)."""

    signal_id: str
    strategy: str
    ticker: str
    side: str  # YES | NO
    requested_size: int  # contracts
    max_price: int  # cents
    model_probability: float | None = None
    edge: float | None = None
    confidence: float | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class PipelineOutcome:
    order_id: str
    state: str
    duplicate: bool
    last_error: str | None


class OrdersService(PaulpApplication):
    """Orders context: loads, decides, saves; the pipeline below orchestrates across contexts.

    Cached like the breaker (ADR 0502): a venue's execution throttle gains an event per order and is loaded for
    every order, so replaying it from the log made each order cost more than the one before. Loads fast-forward
    the cached copy from the log, so other processes' events are still seen. A throttle's first load in a process
    starts from its last checkpoint, which a save adds once due (ADR 0503)."""

    def __init__(self, env: Mapping[str, str] | None, clock: Clock) -> None:
        super().__init__({"AGGREGATE_CACHE_MAXSIZE": "1000", **(env or {})}, clock)

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Every save of a throttle checkpoints it once due, in the same save (ADR 0503)."""
        for obj in objs:
            if isinstance(obj, ExecutionThrottle):
                obj.checkpoint_if_due(CHECKPOINT_EVERY)
        return super().save(*objs, **kwargs)

    def throttle(self, scope: str) -> ExecutionThrottle | None:
        """The venue's throttle for a mode (ADR 0307), or None before its first counted order."""
        found: ExecutionThrottle | None = self.get_checkpointed(
            ExecutionThrottle.id_for(scope), ExecutionThrottle.Checkpointed, RESUME_THROTTLE)
        return found

    def find(self, order_id: str) -> Order | None:
        order: Order | None = self.get_or_none(Order.create_id(order_id))
        return order

    def history(self, order_id: str) -> list[Any]:
        """Every stored event of one order, oldest first (the order's audit history)."""
        return list(self.events.get(Order.create_id(order_id)))


class OrderPipeline:
    def __init__(self, orders: OrdersService, breaker: BreakerService, execution: ExecutionService,
                 market: MarketDataPort, portfolio: PortfolioPort, venue: VenuePort | None = None,
                 limits: RiskLimits | LimitsSource = DEFAULT_LIMITS, modes: Mapping[str, ExecutionMode] | None = None,
                 policies: PolicySource | None = None, scoring: ScoringPort | None = None) -> None:
        self.orders, self.breaker, self.execution = orders, breaker, execution
        self.market, self.portfolio, self.venue = market, portfolio, venue
        self._limits, self.modes, self.policies = limits, modes, policies
        self.scoring = scoring  # None (tests only): no LLM facts, and every gated strategy's order is refused
        self.clock = orders.clock

    @property
    def limits(self) -> RiskLimits:
        """The base limits in force, read at each use: an operator's change counts from the next order (ADR 0379).
        A source that cannot be read raises, which the risk step records as no answer."""
        return self._limits if isinstance(self._limits, RiskLimits) else self._limits.current().limits

    def _policy(self, strategy: str, mode: ExecutionMode) -> ExecutionPolicy:
        """The strategy's execution policy in ``mode`` now (ADR 0380); the mode's §5.1 column without a source."""
        return policy_for_mode(mode) if self.policies is None else self.policies.policy_for(strategy, mode)

    def _lifecycle(self, strategy: str) -> LifecyclePolicy:
        """The §1.5 timers of the strategy's policy in its mode now (``Container.lifecycle_policy``'s reading)."""
        return lifecycle_policy(self._policy(strategy, mode_for_strategy(strategy, self.modes)))

    def process(self, signal: TradeSignal) -> PipelineOutcome:
        now = self.clock.now()
        order = Order.create(signal_id=signal.signal_id, strategy=signal.strategy, ticker=signal.ticker,
                             side=signal.side, requested_size=signal.requested_size, max_price=signal.max_price,
                             now=now, signal_model_probability=signal.model_probability, signal_edge=signal.edge,
                             signal_confidence=signal.confidence, signal_expires_at=signal.expires_at)
        existing = self.orders.find(order.order_id)
        if existing is not None and existing.state not in RESUMABLE_STATES:
            return self._outcome(existing, duplicate=True)
        duplicate = existing is not None
        if existing is None:
            self.orders.save(order)  # a concurrent duplicate fails here on the aggregate's version
        else:
            order = existing
        return self._outcome(self._drive(order, now), duplicate)

    def advance(self, order_id: str) -> PipelineOutcome:
        """Resume a stored order from where it stopped (the scheduled execute step, §1.7); an order past
        RISK_APPROVED is only reported. Its id is not rebuilt from a signal: a risk-reduced size changed it."""
        order = self.orders.find(order_id)
        if order is None:
            raise ValueError(f"order {order_id} does not exist")
        if order.state in RESUMABLE_STATES:
            order = self._drive(order, self.clock.now())
        elif order.state == S.SUBMITTING:
            return self._recover_submission(order)
        return self._outcome(order, duplicate=False)

    def answer_risk_check(self, order_id: str) -> PipelineOutcome:
        """Ask the governor now about an order waiting in RISK_CHECK (the order timers' retry, §1.5; ADR 0295) and
        record its answer: RISK_APPROVED (the execute step submits it) or RISK_REJECTED. Nothing is sent."""
        order = self.orders.find(order_id)
        if order is None or order.state != S.RISK_CHECK:
            raise ValueError(f"order {order_id} is not waiting for a risk check")
        facts, now = self.market.facts(order.ticker), self.clock.now()
        self._record_risk(order, facts, self._decide(order, facts, now), now)  # a raise: the retry is unanswered
        return self._outcome(order, duplicate=False)

    def _recover_submission(self, order: Order) -> PipelineOutcome:
        """SUBMITTING is recorded before a LIVE order is sent, so one found here was cut off (the process died)
        and may be at the venue: past the stale timeout it is in doubt (§1.5, ADR 0100) and, with a venue,
        resolved by client order id. Never sent again from here. The timeout is that of the order's strategy's
        policy now, as the order timers hold every other working order to (ADR 0402), not the spec's default:
        an order Kalshi filled must not stay out of the book for 300 s when the operator set less (ADR 0467)."""
        now = self.clock.now()
        if not expire_stale(order, now, self._lifecycle(order.strategy)):
            return self._outcome(order, duplicate=False)
        self.orders.save(order, self._venue_order(venue_record(order, "unknown", "LIVE", now), now))
        if self.venue is None:
            return self._outcome(order, duplicate=False)
        return self.resolve_in_doubt(order.order_id)

    def _drive(self, order: Order, now: datetime) -> Order:
        """Carry the order as far as it goes now; returns it as the log holds it."""
        facts = self.market.facts(order.ticker)
        approved_earlier = order.state == S.RISK_APPROVED  # by a run that stopped before executing it
        if order.state == S.PENDING:
            self._screen(order, facts, now)
        if order.state == S.VALIDATED and not self._risk(order, facts, now):
            return order  # the governor did not answer: the order waits in RISK_CHECK for the timers
        if approved_earlier and not self._recheck(order, facts, now):
            return order  # the governor did not answer: the approval waits for the next run, or was given up
        if order.state == S.RISK_APPROVED:
            return self._execute(order, facts, now)
        return order

    def _screen(self, order: Order, facts: MarketFacts | None, now: datetime) -> None:
        """The §8.3 execution gate for a strategy that depends on LLM scoring (ADR 0425), then the pre-trade check
        at the strategy's policy thresholds, then market-impact sizing on the same book (§5.4; ADR 0373), with
        elevated VPIN demanding the policy's multiple of the edge (§5.6; ADR 0433): a size the book cannot absorb
        fails the check here; a smaller size it can is recorded and applied by the risk step."""
        gate = self._llm_gate(order)
        if gate is not None and not gate.passed:
            check = gate
        else:
            policy = self._policy(order.strategy, mode_for_strategy(order.strategy, self.modes))
            t = PreTradeThresholds.of(policy)
            check = pre_trade_check(facts, order.side, order.max_price / 100, t)
            if facts is not None:
                check = size_for_impact(check, facts, order.side, order.requested_size, int(order.max_price),
                                        order.signal_edge, self.limits.min_order_size,
                                        t.edge_multiplier(facts.vpin_score))
            if gate is not None:
                check = replace(check, llm_gate=gate.llm_gate)
        order.pre_trade_check(check, now)
        if order.state == S.VALIDATING:
            order.validate(now)
        self.orders.save(order)

    @staticmethod
    def _strategy(order: Order) -> StrategyInfo | None:
        return find_strategy(order.strategy)

    def _read_scoring(self, market_id: str) -> MarketScoring:
        if self.scoring is None:
            raise LookupError("no LLM scoring source is wired")
        return self.scoring.market_scoring(market_id)

    def _llm_gate(self, order: Order) -> PreTradeCheck | None:
        """§8.3 for an order of a gated strategy (ADR 0425): None for other strategies; else a pre-trade result
        carrying the verdict, failed with the gate's reason when it says no. Runs that cannot be read refuse it."""
        info = self._strategy(order)
        if info is None or not info.llm_gated:
            return None
        try:
            decision = market_gate(self._read_scoring(order.ticker))
        except Exception as exc:
            log.error("order %s: the LLM scoring runs of %s could not be read (%s: %s); refused", order.order_id,
                      order.ticker, type(exc).__name__, exc)
            return PreTradeCheck(False, block_reason=SCORING_UNREAD_REASON,
                                 llm_gate={"canExecute": False, "reason": SCORING_UNREAD_REASON, "runId": None,
                                           "error": f"{type(exc).__name__}: {exc}"})
        return PreTradeCheck(decision.can_execute, block_reason=decision.reason, llm_gate=decision.to_json())

    def _with_scoring(self, request: RiskRequest, order: Order) -> RiskRequest:
        """I13's ambiguity score and (for a cross-venue strategy) I12's grade from the market's latest scoring runs,
        with the runs they came from (ADR 0425). Runs that cannot be read fail those checks, as a missing input
        does (ADR 0121); without a scoring source (tests) the request stays as the market data gave it."""
        if self.scoring is None:
            return request
        info = self._strategy(order)
        needs_equivalence = info is not None and info.needs_equivalence
        try:
            inputs = scoring_inputs(self._read_scoring(request.market_id), needs_equivalence)
        except Exception as exc:
            log.error("%s: the LLM scoring runs could not be read (%s: %s); I13%s fail", request.market_id,
                      type(exc).__name__, exc, " and I12" if needs_equivalence else "")
            return replace(request, ambiguity_unavailable=True, equivalence_unavailable=needs_equivalence,
                           llm_scoring={"error": f"{type(exc).__name__}: {exc}"})
        return replace(request, ambiguity_score=inputs.ambiguity_score, equivalence_grade=inputs.equivalence_grade,
                       llm_scoring=inputs.provenance())

    def _decide(self, order: Order, facts: MarketFacts | None, now: datetime) -> RiskDecision:
        """The governor's decision on the order now: breaker state read at this moment, current portfolio."""
        breaker = self.breaker.get()
        breaker.expire_halt(now)
        state = breaker.state.value if isinstance(breaker.state, BreakerState) else str(breaker.state)
        request = self._with_scoring(self._risk_request(order, facts), order)
        mode = mode_for_strategy(order.strategy, self.modes).value
        request = self._with_recent_slippage(request, mode, now)
        book = self.portfolio.snapshot(order.strategy, order.ticker, mode, request.category)
        return evaluate(request, book, self.limits, state, now)

    def _with_recent_slippage(self, request: RiskRequest, mode: str, now: datetime) -> RiskRequest:
        """I18's input (§3.3, §5.5): the market's worst slippage-vs-edge ratio among its executions in this mode
        over the last 24 h, from the execution-quality projection. A history that cannot be read fails I18 (as a
        missing input fails its check, ADR 0121), never passes it (ADR 0387)."""
        since, until = slippage_window(now)
        try:
            ratio = self.portfolio.recent_slippage_ratio(request.market_id, mode, since, until)
        except Exception as exc:
            log.error("%s: the slippage history could not be read (%s: %s); I18 fails", request.market_id,
                      type(exc).__name__, exc)
            return replace(request, recent_slippage_unavailable=True)
        return replace(request, recent_slippage_ratio=ratio)

    @staticmethod
    def _impact_size(order: Order) -> int | None:
        """The market-impact size the pre-trade step decided and the risk step has not applied yet: the governor
        judges the order at it, and an approval reduces the order to it (§1.4.3's adjustedSize)."""
        pre = order.pre_trade_check_result
        size = pre.adjusted_size if pre is not None else None
        return size if size is not None and 0 < size < order.requested_size else None

    @staticmethod
    def _category(facts: MarketFacts | None) -> str:
        """The market's category as the risk check sees it; none known is 'unknown' (§3.1)."""
        return (facts.category if facts else "") or UNKNOWN_CATEGORY

    def _recheck(self, order: Order, facts: MarketFacts | None, now: datetime) -> bool:
        """The execution step's own risk check (§1.7, §5.2) of an approval an earlier run left unexecuted: the
        breaker or the book may have changed since; a block rejects the order with the violations. An exception
        from the governor is no answer, as in the first check (ADR 0319): the order stays RISK_APPROVED with the
        error noted and is not sent; the next execute run asks again, and unanswered once more it is CANCELLED
        (ADR 0334). An answer resolves a standing "not answered" note (ADR 0335). False when unanswered."""
        try:
            decision = self._decide(order, facts, now)
        except Exception as exc:
            self._unanswered(order, exc, now)
            return False
        order.risk_check_answered("Risk re-check answered: " + ("blocked" if decision.blocked else "approved"), now)
        order.record_risk_recheck(RiskCheckResult(
            approved=decision.approved, violations=tuple(v.message for v in decision.violations),
            invariant_ids=tuple(v.invariant_id for v in decision.violations), input_hash=decision.input_hash,
            category=self._category(facts)), evaluation_record(decision), now)  # every evaluation (§3.3; ADR 0377)
        if decision.blocked:
            reason = "Risk check failed: " + "; ".join(v.message for v in decision.violations)
            order.apply_execution_result(ExecutionResult(False, ExecutionStatus.REJECTED, rejection_reason=reason),
                                         now)
        self.orders.save(order)  # before anything is sent: the evaluation, the note's resolution, the rejection
        self.breaker.record_risk_check(blocked=decision.blocked, counted=decision.counts_toward_breaker)
        return True

    def _risk(self, order: Order, facts: MarketFacts | None, now: datetime) -> bool:
        """Record RISK_CHECK, then ask the governor and record its answer. An exception from the governor (its
        breaker or portfolio read, the evaluation) is no answer: the order stays in RISK_CHECK with the error noted,
        never ERROR and never submitted; the order timers time it out after 30 s, retry once, then cancel it
        (§1.5; ADR 0319). False when unanswered."""
        order.begin_risk_check(now)
        self.orders.save(order)  # in the log before the governor is asked
        try:
            decision = self._decide(order, facts, now)
        except Exception as exc:
            self._unanswered(order, exc, now)
            return False
        self._record_risk(order, facts, decision, now)
        return True

    def _unanswered(self, order: Order, exc: Exception, now: datetime) -> None:
        """Record that the governor did not answer (``Order.risk_check_unanswered``); nothing is sent either way."""
        log.error("order %s: the risk governor did not answer in %s (%s: %s); nothing is sent", order.order_id,
                  order.state, type(exc).__name__, exc)
        try:
            order.risk_check_unanswered(f"{type(exc).__name__}: {exc}", now)
            self.orders.save(order)
        except IntegrityError:
            raise  # another writer recorded the order first: what it recorded stands
        except Exception:  # the note is for the operator; unsaved, the order waits as it is and is not sent
            log.exception("order %s: the unanswered risk check could not be recorded", order.order_id)

    def _record_risk(self, order: Order, facts: MarketFacts | None, decision: RiskDecision, now: datetime) -> None:
        result = RiskCheckResult(
            approved=decision.approved,
            adjusted_size=self._impact_size(order),
            violations=tuple(v.message for v in decision.violations),
            invariant_ids=tuple(v.invariant_id for v in decision.violations),
            input_hash=decision.input_hash,
            category=self._category(facts),  # kept on the order: its position's category for I4 (ADR 0299)
        )
        order.apply_risk_result(result, now, evaluation_record(decision))
        self.orders.save(order)
        self.breaker.record_risk_check(blocked=decision.blocked, counted=decision.counts_toward_breaker)

    def _risk_request(self, order: Order, facts: MarketFacts | None) -> RiskRequest:
        price = order.max_price / 100
        snap = facts.snapshot if facts else None
        return RiskRequest(
            market_id=order.ticker, size=(self._impact_size(order) or order.requested_size) * price,
            category=self._category(facts),
            side=order.side, price=price, strategy=order.strategy, market_price=price,
            spread=facts.risk_spread(order.side) if facts else 1.0,  # no quote: full width (ADR 0305)
            volume_24h=(snap.volume_24h or 0.0) if snap else 0.0,
            vpin_score=facts.vpin_score if facts else None,
            settlement_date=facts.settlement_date if facts else None,
            last_price_update=facts.last_price_update if facts else None,
        )

    def _execute(self, order: Order, facts: MarketFacts | None, now: datetime) -> Order:
        mode = mode_for_strategy(order.strategy, self.modes)
        if mode is ExecutionMode.DISABLED:
            order.apply_execution_result(ExecutionResult(False, ExecutionStatus.REJECTED,
                                                         rejection_reason=DISABLED_REASON), now)
            self.orders.save(order)
            return order
        request = ExecutionRequest(
            order_id=order.order_id,
            signal=ExecutionSignal(order.ticker, Side(order.side), order.signal_model_probability or order.max_price
                                   / 100, order.max_price / 100, order.signal_edge or 0.0,
                                   order.signal_confidence or 0.5),
            requested_size=order.requested_size, max_price=int(order.max_price), source=order.strategy)
        policy, throttle = self._policy(order.strategy, mode), self._throttle(mode, now)
        decision = evaluate_execution(request, facts.snapshot if facts else None, policy, throttle.current(now), now)
        if not decision.approved:
            order.apply_execution_result(ExecutionResult(False, ExecutionStatus.REJECTED,
                                                         rejection_reason=decision.rejection_reason), now)
            self.orders.save(order)
            return order
        if not order.request_submission(now):
            self.orders.save(order)
            return order
        throttle.count_order(order_notional(request), now)
        if mode is ExecutionMode.PAPER:
            assert facts is not None
            fill = paper_fill(request, facts.snapshot, policy.paper_trade_slippage_cents, now, policy.paper_fee_rate)
            order.apply_execution_result(ExecutionResult(True, ExecutionStatus.PAPER_FILLED, PaperFill(
                fill.count, fill.fill_price, fill.fee_cents), mode="PAPER"), now)
            self.orders.save(order, throttle, self._venue_order(
                venue_record(order, "filled", "PAPER", now, fill.count, fill.fill_price,
                             fees_cents=fill.fee_cents), now))
            return order
        # SUBMITTING is in the log before anything reaches the venue (§1.8): a concurrent writer (a cancel)
        # either wins before the send (this save fails, nothing is sent) or sees SUBMITTING and leaves it be.
        self.orders.save(order, throttle)
        try:
            self.orders.save(order, self._submit_live(order, decision.venue_order, now))
        except Exception as exc:  # the order may be at Kalshi now: in doubt, never ERROR (ADR 0293)
            return self._answer_not_saved(order.order_id, exc, now)
        return order

    def _answer_not_saved(self, order_id: str, exc: Exception, now: datetime) -> Order:
        """After the send, the venue's answer could not be read into the order or saved. The order may rest or
        have filled at Kalshi, so it is left in doubt, to be settled by client order id (``settle_lost_submission``)
        like a lost answer: never ERROR, which a retry would send again (ADR 0293). If even that cannot be saved it
        stays SUBMITTING, which ``advance`` recovers the same way after the stale timeout, and the error is raised;
        so it is when another writer recorded the outcome first (what it recorded stands)."""
        stored = self.orders.find(order_id)
        if stored is None or stored.state != S.SUBMITTING:
            raise exc
        log.error("order %s: sent to the venue, but its answer could not be recorded (%s: %s); left in doubt",
                  order_id, type(exc).__name__, exc)
        if isinstance(exc, ImpossibleVenueAnswer):  # the operator is told (ADR 0520)
            alert_impossible_answer(self.breaker, str(exc))
        try:
            stored.mark_submission_in_doubt(f"Venue answer not recorded ({type(exc).__name__})", now)
            self.orders.save(stored, self._venue_order(venue_record(stored, "unknown", "LIVE", now), now))
        except Exception:
            log.exception("order %s: the in-doubt record could not be saved either; it stays SUBMITTING", order_id)
            raise exc from None
        return stored

    def _submit_live(self, order: Order, venue_order: object, now: datetime) -> VenueOrder:
        """Send the order and apply Kalshi's answer; returns its venue record, to save with it."""
        if self.venue is None:
            order.apply_execution_result(ExecutionResult(False, ExecutionStatus.REJECTED,
                                                         rejection_reason="Live venue not configured"), now)
            return self._venue_order(venue_record(order, "rejected", "LIVE", now), now)
        try:
            sub = self.venue.submit(venue_order)  # type: ignore[arg-type]
        except SubmissionOutcomeUnknown as e:
            order.mark_submission_in_doubt(str(e), now)
            return self._venue_order(venue_record(order, "unknown", "LIVE", now), now)
        filled = bool(sub.fill_count and sub.fill_price)  # at the venue's price (ADR 0282)
        status = ExecutionStatus.REJECTED if sub.status == "rejected" else ExecutionStatus.SUBMITTED
        order.apply_execution_result(ExecutionResult(status is not ExecutionStatus.REJECTED, status,
                                                     rejection_reason=(sub.reason or sub.status) if not filled
                                                     and status is ExecutionStatus.REJECTED else None,
                                                     venue_order_id=sub.venue_order_id, mode="LIVE"), now)
        return apply_venue_answer(self.orders, order, sub, now)

    def resolve_in_doubt(self, order_id: str) -> PipelineOutcome:
        """Ask the venue by client order id (= order id) what became of an ambiguous submission."""
        order = self.orders.find(order_id)
        if order is None or not order.submission_in_doubt:
            raise ValueError(f"order {order_id} has no submission in doubt")
        if self.venue is None:
            raise ValueError("no live venue configured to resolve the submission")
        now = self.clock.now()
        found = self.venue.find_by_client_order_id(order.order_id)
        try:
            self.orders.save(order, settle_lost_submission(self.orders, order, found, now))
        except ImpossibleVenueAnswer as exc:  # nothing saved: still in doubt; the operator is told (ADR 0520)
            alert_impossible_answer(self.breaker, str(exc))
            raise
        return self._outcome(order, duplicate=False)

    def _throttle(self, mode: ExecutionMode, now: datetime) -> ExecutionThrottle:
        """The venue's throttle for the order's mode, shared by every strategy (§5.2; ADR 0307)."""
        scope = throttle_scope(mode)
        return self.orders.throttle(scope) or ExecutionThrottle(scope, now)

    def _venue_order(self, record: dict[str, object], now: datetime) -> VenueOrder:
        return kalshi_venue_record(self.orders, record, now)

    def _outcome(self, order: Order, duplicate: bool) -> PipelineOutcome:
        return PipelineOutcome(order.order_id, str(order.state), duplicate, order.last_error)
