"""Risk limits and execution policies as operators change them (trading §3.2, §5.1; ADRs 0379, 0380).

The governor and the execution step read them from the log at each decision, not from a view, so a change counts
from the next order without a restart or projector lag. A read that fails raises: the caller treats it as no
answer and sends nothing (ADR 0319), never the defaults in its place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paulp.domain.execution_policies import (
    InvalidExecutionPolicy,
    StrategyExecutionPolicy,
    policy_mode,
    policy_strategy,
    policy_venue,
)
from paulp.domain.execution_policy import ExecutionMode, ExecutionPolicy, policy_for_mode
from paulp.domain.risk_limit_settings import CurrentLimits, RiskLimitSettings
from paulp.domain.risk_limits import DEFAULT_LIMITS
from paulp.domain.services.base import PaulpApplication
from paulp.domain.throttle import VENUE


class RiskLimitsService(PaulpApplication):
    def row(self) -> RiskLimitSettings | None:
        found: RiskLimitSettings | None = self.get_or_none(RiskLimitSettings.create_id())
        return found

    def current(self) -> CurrentLimits:
        """The limits in force and their version; the spec's defaults (version 0) until one is changed."""
        row = self.row()
        return CurrentLimits(DEFAULT_LIMITS, 0) if row is None else row.current

    def update(self, changes: Mapping[str, Any], actor: str, reason: str) -> tuple[int, int]:
        """Tighten at once; returns (new version, last notification id)."""
        def command() -> tuple[int, int]:
            row = self.row() or RiskLimitSettings.start()
            version = row.update(changes, actor, reason, self.clock.now())
            return version, self.last_notification_id(self.save(row))

        return self.retry_on_conflict(command)

    def propose(self, changes: Mapping[str, Any], actor: str, reason: str) -> tuple[str, int]:
        """Record a loosening for a second operator; returns (proposal id, last notification id). The same loosening
        proposed again while it waits is that proposal, with notification id 0: nothing recorded (ADR 0517)."""
        def command() -> tuple[str, int]:
            row = self.row() or RiskLimitSettings.start()
            before = len(row.proposals)
            pid = row.propose(changes, actor, reason, self.clock.now())
            if len(row.proposals) == before:  # the same loosening already waits: it is the answer
                return pid, 0
            return pid, self.last_notification_id(self.save(row))

        return self.retry_on_conflict(command)

    def approve(self, proposal_id: str, actor: str, reason: str) -> tuple[int, int]:
        def command() -> tuple[int, int]:
            row = self.row() or RiskLimitSettings.start()  # a fresh row has no proposal: refused
            version = row.approve(proposal_id, actor, reason, self.clock.now())
            return version, self.last_notification_id(self.save(row))

        return self.retry_on_conflict(command)


class ExecutionPolicyService(PaulpApplication):
    def row(self, strategy: str, venue: str = VENUE) -> StrategyExecutionPolicy | None:
        found: StrategyExecutionPolicy | None = self.get_or_none(
            StrategyExecutionPolicy.create_id(policy_strategy(strategy), policy_venue(venue)))
        return found

    def policy_for(self, strategy: str, mode: ExecutionMode, venue: str = VENUE) -> ExecutionPolicy:
        """The strategy's policy in ``mode`` now; an unknown strategy (none can be stored) has its mode's §5.1."""
        try:
            row = self.row(strategy, venue)
        except InvalidExecutionPolicy:  # not a strategy a policy can be stored for
            row = None
        return policy_for_mode(mode) if row is None else row.policy(mode)

    def update(self, strategy: str, mode: str, changes: Mapping[str, Any], actor: str, reason: str,
               venue: str = VENUE) -> tuple[int, int]:
        """Merge the change into the strategy's policy for ``mode``; returns (new version, last notification id)."""
        s, v = policy_strategy(strategy), policy_venue(venue)
        policy_mode(mode)

        def command() -> tuple[int, int]:
            row = self.row(s, v) or StrategyExecutionPolicy.register(s, v)
            version = row.update(mode, changes, actor, reason, self.clock.now())
            return version, self.last_notification_id(self.save(row))

        return self.retry_on_conflict(command)

