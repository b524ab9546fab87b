"""Which stored events a postmortem shows (trading §8 timeline), keyed by the event class's qualified name.

Every event class in ``domain/`` is either given a kind here or ignored with a reason; an architecture test walks
them all, so a new event cannot silently drop out of incident timelines (ADR 0404).
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    BREAKER = "breaker"  # breaker transitions and the metrics behind them
    RISK = "risk"  # risk decisions (the governor, the ingestion gate)
    ORDER = "order"  # order transitions and requests on an order
    FILL = "fill"  # entry fills and exit fills
    ALERT = "alert"  # an alert that fired
    CHANGE = "change"  # a mode, limit, policy or risk-input change
    OPERATOR = "operator"  # another operator command
    ERROR = "error"  # a service or job that failed
    CHECK = "check"  # a recorded check run (reconciliation, drift sweep, verification)
    EXIT = "exit"  # a position exit decided
    RESOLUTION = "resolution"  # a market settled


_ORDER_EVENTS: dict[str, Kind | str] = {
    "Created": Kind.ORDER, "Transitioned": Kind.ORDER, "RiskChecked": Kind.RISK, "FillRecorded": Kind.FILL,
    "ErrorRecorded": Kind.ERROR, "RiskCheckUnanswered": Kind.ERROR, "SubmissionInDoubt": Kind.ERROR,
    "SubmissionQueued": Kind.ORDER, "SubmissionDoubtResolved": Kind.ORDER, "CancelRequested": Kind.ORDER,
    "PriceMoveCancelRequested": Kind.ORDER, "Replaced": Kind.ORDER, "Retried": Kind.ORDER,
    "ErrorResolved": Kind.ORDER, "ReconciliationRecorded": Kind.ORDER, "FeesCorrected": Kind.FILL,
    "PreTradeChecked": "its outcome is the order's next transition (VALIDATED or PRE_TRADE_FAILED)",
    "EvidenceAttached": "its hash is listed under the audit trail",
    "ClosingLineRecorded": "CLV scoring after the market closed (ADR 0419); a disable it causes is the line",
}

# qualified name -> kind, or the reason it is not a timeline line (its data may still feed a section)
TOPICS: dict[str, Kind | str] = {
    **{f"Order.{name}": kind for name, kind in _ORDER_EVENTS.items()},
    **{f"OrderRecord.{name}": kind for name, kind in _ORDER_EVENTS.items()},
    "CircuitBreaker.Transitioned": Kind.BREAKER,
    "CircuitBreaker.AlertRaised": Kind.ALERT,
    "CircuitBreaker.TailEvaluated": Kind.BREAKER,
    "CircuitBreaker.Created": "the breaker's creation, not a state change",
    "CircuitBreaker.RiskCheckRecorded": "the order's RiskChecked is the decision's line; counted for the breaker",
    "CircuitBreaker.PortfolioAlertsChanged": "each changed level is an AlertRaised line; read for trigger metrics",
    "CircuitBreaker.Checkpointed": "the state restated for loads (ADR 0503); its count seeds the risk-check streak",
    "WebhookAlert.Created": "a critical webhook alert's natural key (ADR 0524); the breaker's AlertRaised is its line",
    "WebhookAlert.Acted": "the first delivery's outcome, kept to answer repeats (ADR 0524); AlertRaised is its line",
    "DistinctAlert.Created": "an alert's message raised once (ADR 0526); the breaker's AlertRaised is its line",
    "BudgetPeriodLedger.AlertRaised": Kind.ALERT,
    "BudgetPeriodLedger.UsageReset": Kind.OPERATOR,
    **{f"BudgetPeriodLedger.{n}": "LLM budget bookkeeping" for n in (
        "Created", "Opened", "Reserved", "Settled", "LateUsageRecorded", "LateUsageTrued", "Released",
        "StaleHoldCharged", "Checkpointed")},
    "ComplianceSource.SourceStatusChanged": Kind.CHANGE,
    "ComplianceSource.ViolationRecorded": Kind.ALERT,
    **{f"ComplianceSource.{n}": Kind.OPERATOR for n in (
        "StatusChangeProposed", "ProposalClosed", "EventRecorded", "ViolationResolved", "TosReviewed")},
    "ComplianceSource.Created": "matrix seeding",
    "ComplianceSource.Seeded": "matrix seeding",
    "ComplianceSource.Checkpointed": "the source restated for loads (ADR 0508), not a change",
    "IngestionBlocked.Recorded": Kind.RISK,
    "IngestionBlocked.Created": "the Recorded event is its line",
    "DeadLetter.MessageDeadLettered": Kind.ERROR,
    "DeadLetter.Created": "the MessageDeadLettered event is its line",
    "DeadLetter.Replayed": Kind.OPERATOR,
    "EvidenceRecord.EvidenceStored": "provenance of one external fetch, not an incident step (ADR 0406)",
    "EvidenceRecord.Created": "the EvidenceStored event is its record",
    "StrategyExecutionPolicy.Updated": Kind.CHANGE,
    "StrategyExecutionPolicy.Created": "registration of defaults",
    "StrategyExecutionPolicy.Registered": "registration of defaults",
    "FairValue.Set": Kind.OPERATOR,
    "FairValue.Withdrawn": Kind.OPERATOR,
    "FairValue.Created": "registration",
    "FairValue.Registered": "registration",
    "GateSignoffs.SignedOff": Kind.OPERATOR,
    "GateSignoffs.Created": "registration",
    "GoLiveApproval.Requested": Kind.OPERATOR,
    "GoLiveApproval.RequestClosed": Kind.OPERATOR,
    "GoLiveApproval.WentLive": Kind.CHANGE,
    "GoLiveApproval.Created": "registration",
    "DriftSweepRecord.Recorded": Kind.CHECK,
    "DriftSweepRecord.Created": "the Recorded event is its line",
    "RegressionSuiteRecord.Completed": Kind.CHECK,
    "RegressionSuiteRecord.Created": "the Completed event is its line",
    "VerificationRun.Recorded": Kind.CHECK,
    "VerificationRun.Created": "the Recorded event is its line",
    "ReconciliationReport.Completed": Kind.CHECK,
    "ReconciliationReport.Created": "the Completed event is its line",
    "ScoringRun.Recorded": "an LLM scoring call's record, not a trading decision",
    "ScoringRun.Created": "an LLM scoring call's record, not a trading decision",
    "ScoringRun.OverriddenByHuman": Kind.OPERATOR,  # a human's score gates LIVE orders (ADR 0425)
    "MarketCorrelation.Declared": Kind.CHANGE,
    "MarketCorrelation.Withdrawn": Kind.CHANGE,
    "MarketCorrelation.Created": "registration",
    "MarketCorrelation.Registered": "registration",
    "PositionRebuild.Started": Kind.OPERATOR,
    "PositionRebuild.Adjusted": Kind.CHANGE,
    "PositionRebuild.Created": "registration",
    "Source.Registered": "registration",
    "Source.Created": "registration",
    "Citation.Created": "registration",
    "Source.Expired": Kind.CHANGE,
    "Citation.Recorded": Kind.CHANGE,
    "Citation.Verified": Kind.CHECK,
    "Citation.StatusChanged": Kind.CHANGE,
    "ClaimKey.Created": "the citation's lookup by claim and evidence (ADR 0527); Citation.Recorded is the line",
    "ClaimKey.Cited": "the citation's lookup by claim and evidence (ADR 0527); Citation.Recorded is the line",
    "MarketCorrelationRule.Declared": Kind.CHANGE,
    "MarketCorrelationRule.Withdrawn": Kind.CHANGE,
    "MarketCorrelationRule.Created": "registration",
    "MarketCorrelationRule.Registered": "registration",
    "MarketMark.Resolved": Kind.RESOLUTION,
    "MarketMark.Created": "market data",
    "MarketMark.Observed": "market data",
    "MarketMark.Quoted": "market data",
    "MarketMark.Checkpointed": "market data",
    **{f"ClosingLine.{n}": "market data for the closing line (ADR 0419)" for n in (
        "Created", "Started", "Observed", "Estimated")},
    "JobRun.Failed": Kind.ERROR,
    "JobRun.Created": "a run's start; its failure is the line",
    "JobRun.Completed": "a run that completed",
    "PositionExit.Decided": Kind.EXIT,
    "PositionExit.Redecided": Kind.EXIT,
    "PositionExit.Filled": Kind.FILL,
    "PositionExit.FeesCorrected": Kind.FILL,  # an exit sell's unknown fee settled from Kalshi (ADR 0449)
    "PositionExit.InDoubt": Kind.ERROR,
    "PositionExit.Failed": Kind.ERROR,
    "PositionExit.Created": "the Decided event is its line",
    "MarketPair.Proposed": Kind.OPERATOR,
    "MarketPair.Approved": Kind.OPERATOR,
    "MarketPair.Created": "the Proposed event is its line",
    "ViolationResolution.Resolved": Kind.OPERATOR,
    "ViolationResolution.Opened": "opened from the order's RiskChecked, which is the line",
    "ViolationResolution.Created": "opened from the order's RiskChecked, which is the line",
    "RiskLimitSettings.Updated": Kind.CHANGE,
    "RiskLimitSettings.LooseningProposed": Kind.OPERATOR,
    "RiskLimitSettings.Created": "the baseline limits",
    "RiskLimitSettings.Started": "the baseline limits",
    "RoutingDecision.Failed": Kind.ERROR,
    **{f"RoutingDecision.{n}": "LLM routing bookkeeping" for n in (
        "Created", "Resolved", "AttemptRecorded", "Succeeded")},
    "Strategy.StatusChanged": Kind.CHANGE,
    "Strategy.Created": "registration",
    "Strategy.Registered": "registration",
    **{f"ExecutionThrottle.{n}": "rate-limit bookkeeping" for n in (
        "Created", "Opened", "OrderCounted", "Checkpointed")},
    **{f"VenueOrder.{n}": "the venue's copy; the order's own transitions are the lines" for n in (
        "Created", "Recorded", "Updated")},
    "LlmBudgetAssumptions.Changed": Kind.CHANGE,
    "LlmBudgetAssumptions.Created": "the baseline prices",
    "LlmBudgetAssumptions.Started": "the baseline prices",
    **{f"EvidenceRecord.{n}": "evidence bookkeeping; the hashes events name are under the audit trail" for n in (
        "Created", "EvidenceStored")},
    **{f"BacktestRecord.{n}": "offline backtests" for n in ("Created", "Completed")},
}


def kind_of(qualname: str) -> Kind | None:
    """The timeline kind of an event, None when it is ignored or unknown (the report counts the unknown)."""
    found = TOPICS.get(qualname)
    return found if isinstance(found, Kind) else None


def is_classified(qualname: str) -> bool:
    return qualname in TOPICS
