"""A strategy's capital allocation as the allocation decisions in the log leave it (trading §5.7, §9; ADR 0389).

Two events decide it. A go-live (``GoLiveApproval.WentLive``) allocates its capital with the 5 % position cap of
api-and-security §1.3 and enables it. An operator's status change (``Strategy.StatusChanged``) to disabled or
halted disables it; one to paper enables it again when it was ever enabled (by go-live or by §5.7's table), and
never enables a strategy §5.7 keeps disabled that no go-live approved. Which of a racing status change and
go-live stands is the registry's one rule (ADR 0255), so the scan never asks for signals the pipeline would
refuse to trade. A strategy with neither event has §5.7's static row.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from paulp.domain.capital import StrategyAllocation, allocation_for
from paulp.domain.strategy_registry import StrategyInfo, StrategyStatus, effective_status, find_strategy

GO_LIVE_MAX_POSITION_PCT = 5.0  # §1.3 go-live: "max_position_pct = 5"


@dataclass(frozen=True)
class AllocationRecord:
    """One strategy's row of ``views.capital_allocations``; the last four fields are what decides ``enabled``."""

    strategy: str
    capital: float
    max_position_pct: float
    enabled: bool
    enabled_at: datetime | None = None  # when an event last enabled it (a go-live always does)
    disabled_at: datetime | None = None  # when it last became disabled (kept after a later enable)
    disable_reason: str | None = None
    approved_by: str | None = None  # "<approver>,<secondApprover>" of the last go-live
    approved_at: datetime | None = None
    allocated_at: datetime | None = None  # when a go-live last set the capital; None: §5.7's capital
    own_status: str | None = None  # the status an operator set last; None: the catalogue's initial status
    golive_seen: int = 0
    live_version: int = 0

    def status(self) -> StrategyStatus:
        own = self.own_status if self.own_status is not None else _info(self.strategy).initial_status
        return effective_status(own, self.golive_seen, self.live_version)

    def allocation(self) -> StrategyAllocation:
        base = allocation_for(self.strategy)
        return StrategyAllocation(self.strategy, self.capital, self.max_position_pct, self.enabled,
                                  base.enable_after_days)


def _info(strategy: str) -> StrategyInfo:
    info = find_strategy(strategy)
    if info is None or info.id != strategy:
        raise LookupError(f"no strategy {strategy!r} in the catalogue")
    return info


def initial_record(strategy: str) -> AllocationRecord:
    """§5.7's static row: what a strategy has before any allocation event."""
    base = allocation_for(strategy)
    return AllocationRecord(strategy, base.capital, base.max_position_pct, base.enabled)


def allocation_enabled(status: StrategyStatus, went_live: bool, statically_enabled: bool) -> bool:
    """Live strategies are scanned, disabled and halted ones never; paper ones when their allocation was ever
    enabled (paper trading needs no capital approval, but it does not enable what §5.7 keeps disabled)."""
    if status is StrategyStatus.LIVE:
        return True
    if status is StrategyStatus.PAPER:
        return went_live or statically_enabled
    return False


def _settle(record: AllocationRecord, at: datetime, reason: str | None) -> AllocationRecord:
    """Recompute ``enabled`` from the record's status and stamp the change, if any."""
    enabled = allocation_enabled(record.status(), record.live_version > 0, allocation_for(record.strategy).enabled)
    if enabled and not record.enabled:
        return replace(record, enabled=True, enabled_at=at)
    if record.enabled and not enabled:
        return replace(record, enabled=False, disabled_at=at, disable_reason=reason)
    return record


def after_go_live(record: AllocationRecord, capital_cents: int, version: int, approver: str, second_approver: str,
                  approved_at: datetime) -> AllocationRecord:
    """A ``WentLive``: its capital and the go-live position cap, approved by its two approvers. It enables the
    allocation (§1.3 "enabled = 1"), so a strategy enabled only by §5.7's table is enabled from now on."""
    allocated = replace(record, capital=capital_cents / 100, max_position_pct=GO_LIVE_MAX_POSITION_PCT,
                        approved_by=f"{approver},{second_approver}", approved_at=approved_at,
                        allocated_at=approved_at, live_version=max(record.live_version, version))
    settled = _settle(allocated, approved_at, None)
    return replace(settled, enabled_at=approved_at) if settled.enabled_at is None else settled


def after_status_change(record: AllocationRecord, to_status: str, golive_seen: int, reason: str,
                        at: datetime) -> AllocationRecord:
    """A ``StatusChanged``: the operator's status, unless a go-live it did not see stands over it."""
    changed = replace(record, own_status=StrategyStatus(to_status).value, golive_seen=golive_seen)
    return _settle(changed, at, reason)
