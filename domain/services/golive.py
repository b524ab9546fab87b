"""Governance context: the two-person go-live command (api-and-security §1.3), checks before the aggregate.

Facts that live outside this aggregate (strategy catalogue, phase-4 gate, drift sweeps, audit chain)
are asked through a ``GoLiveChecks`` port the composition root supplies; the service itself does no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from paulp.domain.errors import DomainError
from paulp.domain.golive import Confirmed, GoLiveApproval, GoLiveTerms, InvalidCapital, Pending, RequestExpired
from paulp.domain.services.base import PaulpApplication
from paulp.domain.strategy_registry import Strategy, StrategyStatus


class StrategyNotFound(DomainError):
    """Raised when the path's strategy type is not a known strategy."""

    code = "strategy_not_found"


class PhaseGateNotPassed(DomainError):
    """Raised when no unforced phase-4 gate pass or signoff exists."""

    code = "phase_gate_not_passed"


class DeploymentBlockedByDrift(DomainError):
    """Raised when an LLM drift sweep blocked deployment within the last 7 days."""

    code = "drift_blocked"
    detail = "Recent drift sweep flagged deployment. Resolve before go-live."


class AuditChainCompromised(DomainError):
    """Raised when full audit-chain verification fails."""

    code = "audit_chain_compromised"
    detail = "Resolve audit chain gaps before go-live."


class GoLiveChecks(Protocol):
    def strategy_exists(self, strategy: str) -> bool: ...

    def phase4_gate_passed(self) -> bool: ...

    def drift_blocked_recently(self) -> bool: ...

    def audit_chain_valid(self) -> bool: ...


@dataclass(frozen=True)
class GoLiveOutcome:
    strategy: str
    result: Pending | Confirmed
    terms: GoLiveTerms
    notification_id: int
    repeated: bool = False  # the strategy's current go-live asked for again: nothing recorded (ADR 0517)


class GoLiveService(PaulpApplication):
    """Checks in the §1.3 order, then one aggregate decision saved atomically."""

    def approve(self, strategy: str, terms: GoLiveTerms, actor: str, request_id: str,
                checks: GoLiveChecks) -> GoLiveOutcome:
        self._preconditions(strategy, checks)
        self._allocatable(terms)

        def command() -> GoLiveOutcome:
            approval, now = self._load(strategy), self.clock.now()
            repeat = approval.repeat_of_went_live(terms, actor)
            if repeat is not None and self._live_from(approval):
                return GoLiveOutcome(strategy, repeat, terms, 0, repeated=True)
            try:
                result = approval.approve(terms, actor, now, request_id)
            except RequestExpired:
                self.save(approval)  # the expiry closes the request so a new one can start
                raise
            nid = self.last_notification_id(self.save(approval))
            return GoLiveOutcome(strategy, result, terms, nid)

        return self.retry_on_conflict(command)

    def get(self, strategy: str) -> GoLiveApproval | None:
        approval: GoLiveApproval | None = self.get_or_none(GoLiveApproval.create_id(strategy))
        return approval

    def _live_from(self, approval: GoLiveApproval) -> bool:
        """Whether the strategy's status is still the one its last go-live gave it (no operator change since)."""
        strategy: Strategy | None = self.get_or_none(Strategy.create_id(approval.strategy))
        return strategy is None or strategy.status(approval.went_live_version) is StrategyStatus.LIVE

    def _load(self, strategy: str) -> GoLiveApproval:
        return self.get(strategy) or GoLiveApproval(strategy=strategy)

    @staticmethod
    def _preconditions(strategy: str, checks: GoLiveChecks) -> None:
        if not checks.strategy_exists(strategy):
            raise StrategyNotFound("Strategy not found")
        if not checks.phase4_gate_passed():
            raise PhaseGateNotPassed("Phase 4 gate not passed")
        if checks.drift_blocked_recently():
            raise DeploymentBlockedByDrift("Deployment blocked by LLM drift sweep")
        if not checks.audit_chain_valid():
            raise AuditChainCompromised("Audit chain integrity compromised")

    @staticmethod
    def _allocatable(terms: GoLiveTerms) -> None:
        if terms.capital_cents <= 0:  # positive, but rounds to no cent at all
            raise InvalidCapital("Valid capital allocation required")
