"""Every projection the system runs, by name (the projector, replay and doctor iterate over this)."""

from __future__ import annotations

from paulp.projections.backtests import BacktestsProjection
from paulp.projections.base import Projection
from paulp.projections.breaker import BreakerStateProjection
from paulp.projections.capital_allocations import CapitalAllocationsProjection
from paulp.projections.compliance import ComplianceProjection
from paulp.projections.evidence_usage import EvidenceUsageProjection
from paulp.projections.execution_policies import ExecutionPoliciesProjection
from paulp.projections.execution_reports import ExecutionReportsProjection
from paulp.projections.fair_values import FairValuesProjection
from paulp.projections.gates import GateSignoffsProjection
from paulp.projections.job_runs import JobRunsProjection
from paulp.projections.llm_regression import LlmRegressionProjection
from paulp.projections.market_correlations import MarketCorrelationsProjection
from paulp.projections.markets import ClosingLinesProjection, MarketMarksProjection
from paulp.projections.orders import OrdersProjection
from paulp.projections.portfolio_snapshots import PortfolioSnapshotsProjection
from paulp.projections.reconciliation import ReconciliationProjection
from paulp.projections.reviews import MarketPairsProjection, ViolationsProjection
from paulp.projections.risk_limits import RiskLimitsProjection
from paulp.projections.routing import LlmBudgetProjection, LlmRoutingProjection
from paulp.projections.sources import SourcesProjection
from paulp.projections.strategies import StrategiesProjection
from paulp.projections.venue_orders import VenueOrdersProjection
from paulp.projections.verification_results import VerificationResultsProjection


def all_projections() -> dict[str, Projection]:
    projections: list[Projection] = [BreakerStateProjection(), VenueOrdersProjection(), OrdersProjection(),
                                     LlmRoutingProjection(), LlmBudgetProjection(), MarketMarksProjection()]
    projections += [StrategiesProjection(), ViolationsProjection(), MarketPairsProjection()]
    projections += [CapitalAllocationsProjection()]
    projections += [GateSignoffsProjection(), JobRunsProjection()]
    projections += [LlmRegressionProjection()]
    projections += [BacktestsProjection()]
    projections += [VerificationResultsProjection()]
    projections += [FairValuesProjection()]
    projections += [PortfolioSnapshotsProjection()]
    projections += [MarketCorrelationsProjection()]
    projections += [ComplianceProjection()]
    projections += [RiskLimitsProjection(), ExecutionPoliciesProjection()]
    projections += [ExecutionReportsProjection()]
    projections += [ReconciliationProjection()]
    projections += [EvidenceUsageProjection(), SourcesProjection()]
    projections += [ClosingLinesProjection()]
    return {p.name: p for p in projections}
