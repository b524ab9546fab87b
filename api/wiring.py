"""Composition root: the only module that knows every part. Called by ``create_app`` and the CLI, never at import."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import uuid4

from psycopg_pool import ConnectionPool

from paulp.adapters.book_history import BookPrefixes
from paulp.adapters.bus import BusNames
from paulp.adapters.clock import SystemClock
from paulp.adapters.config import Settings
from paulp.adapters.eventstore.recorder import application_env
from paulp.adapters.migrate import migrate
from paulp.adapters.pools import CheckedPool
from paulp.adapters.portfolio import ViewPortfolio
from paulp.adapters.scoring_runs import ViewScoring
from paulp.api import shutdown
from paulp.api.capital_allocations import current_allocations
from paulp.api.routing_wiring import build_routing, llm_env
from paulp.domain.capital import StrategyAllocation
from paulp.domain.clock import Clock
from paulp.domain.execution_policies import lifecycle_policy
from paulp.domain.execution_policy import ExecutionMode, ExecutionPolicy, mode_for_strategy
from paulp.domain.order_values import LifecyclePolicy
from paulp.domain.ports import MarketDataPort, VenuePort
from paulp.domain.risk_limits import RiskLimits
from paulp.domain.services.breaker import BreakerService
from paulp.domain.services.compliance import ComplianceService
from paulp.domain.services.execution import ExecutionService
from paulp.domain.services.exits import ExitsService
from paulp.domain.services.fair_values import FairValueService
from paulp.domain.services.gates import GateSignoffService
from paulp.domain.services.golive import GoLiveService
from paulp.domain.services.market_correlations import MarketCorrelationService
from paulp.domain.services.markets import MarketsService
from paulp.domain.services.operator_limits import ExecutionPolicyService, RiskLimitsService
from paulp.domain.services.orchestrator import OrchestratorService
from paulp.domain.services.pipeline import OrderPipeline, OrdersService
from paulp.domain.services.reviews import ReviewsService
from paulp.domain.services.routing import RoutingService
from paulp.domain.services.scoring_reviews import ScoringReviewService
from paulp.domain.services.strategies import StrategiesService
from paulp.domain.services.verification import VerificationService
from paulp.domain.strategy_registry import find_strategy
from paulp.projections.base import Projection
from paulp.projections.registry import all_projections

log = logging.getLogger("paulp.wiring")

# the contexts in the order ``Container.close`` closes them: routing (which flushes its outcomes) mid-way, as before
CONTEXTS = ("breaker", "execution", "orders", "golive", "routing", "markets", "orchestrator", "strategies",
            "reviews", "gates", "verification", "fair_values", "correlations", "compliance", "limit_settings",
            "execution_policies", "scoring_reviews")


def run_all_steps(steps: list[tuple[str, Callable[[], object]]]) -> None:
    """Run every step; raise the first step's error once all have run, logging the ones after it."""
    first: BaseException | None = None
    for name, step in steps:
        try:
            step()
        except Exception as exc:
            if first is None:
                first = exc
            else:
                log.error("closing %s failed too (%s: %s)", name, type(exc).__name__, exc)
    if first is not None:
        raise first


@dataclass
class Container:
    settings: Settings  # its repr masks the URLs' passwords
    database_url: str = field(repr=False)  # may carry a password (ADR 0514)
    nats_url: str = field(repr=False)
    names: BusNames
    clock: Clock
    breaker: BreakerService
    execution: ExecutionService
    orders: OrdersService
    golive: GoLiveService
    routing: RoutingService
    markets: MarketsService
    orchestrator: OrchestratorService
    strategies: StrategiesService
    reviews: ReviewsService
    gates: GateSignoffService
    verification: VerificationService
    fair_values: FairValueService
    correlations: MarketCorrelationService
    compliance: ComplianceService
    limit_settings: RiskLimitsService
    execution_policies: ExecutionPolicyService
    scoring_reviews: ScoringReviewService
    pool: ConnectionPool[Any]
    projections: dict[str, Projection] = field(default_factory=all_projections)
    exits: ExitsService = field(init=False)
    book_prefixes: BookPrefixes = field(default_factory=BookPrefixes)  # the risk check's folded history (ADR 0521)
    jobs: Any = None  # api.jobs.JobRunner, set by build() (it needs the container)

    def close(self) -> None:
        """Job runs in flight get what is left of the shutdown grace (all of it when the process was not told to
        stop), those still running then are recorded as stopped (ADR 0515); then every context closes, the routing
        outcomes queued behind their callers stored first (``RoutingService.close``, ADR 0275), and the pool. Every
        step runs even when one before it failed (a routing flush with the database gone, ADR 0524); the first
        error is raised once all have run, the others logged."""
        steps: list[tuple[str, Callable[[], object]]] = []
        if self.jobs is not None:
            jobs = self.jobs
            steps.append(("jobs", lambda: jobs.stop(shutdown.time_left(self.settings.PAULP_SHUTDOWN_GRACE_S))))
        steps += [(name, getattr(self, name).close) for name in CONTEXTS]
        steps.append(("pool", self.pool.close))  # its worker threads and connections go with the container
        run_all_steps(steps)

    @property
    def anchor_url(self) -> str:
        """Where anchors go: a separate database when configured, else the primary's audit_anchor schema."""
        return self.settings.PAULP_ANCHOR_DATABASE_URL or self.database_url

    def capital_allocations(self) -> dict[str, StrategyAllocation]:
        """Each strategy's allocation (enabled flag, capital, max position %) from the capital-allocation view,
        §5.7's static row where no allocation event exists (§7.1 resolution; ADR 0389): the one source of the
        scan and of the risk check's portfolio value. Raises when the view cannot be read."""
        return current_allocations(self.pool)

    def capital_allocation(self, strategy: str) -> StrategyAllocation | None:
        """``strategy``'s allocation; a strategy type (``bonding_barbell``) stands for its strategy (``bonding``)."""
        info = find_strategy(strategy)
        return self.capital_allocations().get(info.id if info is not None else strategy)

    def strategy_capital(self, strategy: str) -> float:
        """USD the risk limits of ``strategy``'s orders are relative to (§1.7: portfolioValue = the strategy's
        capital): its allocation's capital (go-live's once approved), 0 for a strategy without one."""
        allocation = self.capital_allocation(strategy)
        return 0.0 if allocation is None else allocation.capital

    def portfolio(self) -> ViewPortfolio:
        return ViewPortfolio(self.pool, self.strategy_capital, self.clock,
                             timedelta(seconds=self.settings.PAULP_RISK_MAX_VIEW_LAG_S), self.book_prefixes)

    def risk_limits(self) -> RiskLimits:
        """The base limits every risk check applies (before the breaker's adjustment), as the operator last set
        them (ADR 0379): one source for the pipeline and for the scans that size orders to fit them. Raises when
        they cannot be read; no caller may fall back to the defaults."""
        return self.limit_settings.current().limits

    def execution_modes(self) -> Mapping[str, ExecutionMode]:
        """Every strategy's execution mode, read from the log at each lookup (its status: seed, operator change,
        go-live; ADR 0402): the one table the pipeline, the jobs, the order commands and /exec read."""
        return self.strategies.execution_modes()

    def execution_mode(self, strategy: str) -> ExecutionMode:
        """``strategy``'s mode now (a type stands for its strategy; outside the catalogue PAPER, §1.6)."""
        return mode_for_strategy(strategy, self.execution_modes())

    def execution_policy(self, strategy: str, mode: ExecutionMode | None = None) -> ExecutionPolicy:
        """The policy ``strategy``'s orders are held to in ``mode`` (default: its mode now), operator changes
        included (ADR 0380, 0402). Raises when the log cannot be read."""
        info = find_strategy(strategy)
        return self.execution_policies.policy_for(info.id if info is not None else strategy,
                                                  self.execution_mode(strategy) if mode is None else mode)

    def lifecycle_policy(self, strategy: str) -> LifecyclePolicy:
        """The §1.5 timers (stale timeout, price-move cancel, resubmits) of ``strategy``'s policy now."""
        return lifecycle_policy(self.execution_policy(strategy))

    def scoring(self) -> ViewScoring:
        """The markets' LLM scoring runs (the read model) the trade path's gate and I12/I13 read (ADR 0425)."""
        return ViewScoring(self.pool)

    def pipeline(self, market: MarketDataPort, venue: VenuePort | None = None) -> OrderPipeline:
        return OrderPipeline(self.orders, self.breaker, self.execution, market, self.portfolio(), venue,
                             limits=self.limit_settings, policies=self.execution_policies,
                             modes=self.execution_modes(), scoring=self.scoring())


def build(settings: Settings, database_url: str, nats_url: str, clock: Clock | None = None) -> Container:
    migrate(database_url)
    clock = clock or SystemClock()
    env = application_env(database_url, shared_datastore=uuid4().hex)  # one pool for the contexts (ADR 0352)
    pool: ConnectionPool[Any] = CheckedPool(  # lends no connection a failover closed (ADR 0511)
        database_url, min_size=1, max_size=8, open=True, kwargs={"autocommit": True}
    )
    container = Container(
        settings=settings,
        database_url=database_url,
        nats_url=nats_url,
        names=BusNames(settings.PAULP_NAMESPACE),
        clock=clock,
        breaker=BreakerService(env, clock),
        execution=ExecutionService(env, clock),
        orders=OrdersService(env, clock),
        golive=GoLiveService(env, clock),
        routing=build_routing(env, clock, llm_env(settings)),
        markets=MarketsService(env, clock),
        orchestrator=OrchestratorService(env, clock),
        strategies=StrategiesService(env, clock),
        reviews=ReviewsService(env, clock),
        gates=GateSignoffService(env, clock),
        verification=VerificationService(env, clock),
        fair_values=FairValueService(env, clock),
        correlations=MarketCorrelationService(env, clock),
        compliance=ComplianceService(env, clock),
        limit_settings=RiskLimitsService(env, clock),
        execution_policies=ExecutionPolicyService(env, clock),
        scoring_reviews=ScoringReviewService(env, clock),
        pool=pool,
    )
    from paulp.api.jobs import JobRunner  # imports the jobs, which import this module

    container.exits = ExitsService(container.orders, lambda strategy: container.execution_policy(
        strategy, ExecutionMode.PAPER).paper_fee_rate, container.breaker)
    container.jobs = JobRunner(container)
    return container
