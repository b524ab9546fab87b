"""Strategy registry (api-and-security §1.3, trading §9 "strategy & policy"): each strategy's status.

Status is ``disabled|paper|live|halted``. An operator may set any of them except ``live``, which only the
two-person go-live (``GoLiveApproval.WentLive``) grants. The two aggregates are ordered without a shared
lock: every status change records the version of the strategy's last ``WentLive`` it saw, and a
``WentLive`` newer than that makes the strategy live again. Projection and commands use the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.errors import DomainError
from paulp.domain.execution_policy import INITIAL_STRATEGY_MODES, ExecutionMode
from paulp.domain.namespace import PAULP_NAMESPACE

DEFAULT_REASON = "Operator status change"


class StrategyStatus(StrEnum):
    DISABLED = "disabled"
    PAPER = "paper"
    LIVE = "live"
    HALTED = "halted"


class InvalidStatus(DomainError):
    """Raised when the requested status is not one of disabled|paper|live|halted."""

    code = "invalid_status"


class UseGoLive(DomainError):
    """Raised when an operator asks for ``live``: only the two-person go-live may grant it."""

    code = "use_go_live"


@dataclass(frozen=True)
class StrategyInfo:
    """``llm_gated``: its signals rest on an LLM's reading of the market's resolution rules, so its orders pass
    the §8.3 execution gate first; ``needs_equivalence``: it trades one market against another venue's, so I12
    judges the pair's equivalence grade (ADR 0425)."""

    id: str
    name: str
    strategy_type: str
    initial_status: StrategyStatus
    llm_gated: bool = False
    needs_equivalence: bool = False


def _initial(strategy_id: str) -> StrategyStatus:
    paper = INITIAL_STRATEGY_MODES[strategy_id] is ExecutionMode.PAPER
    return StrategyStatus.PAPER if paper else StrategyStatus.DISABLED


# The five strategies (trading §9 strategy types); initial status follows the seed execution modes. Which of them
# depend on LLM scoring (the §8.3 gate, I12's grade) is ADR 0425's decision.
CATALOGUE: tuple[StrategyInfo, ...] = tuple(
    StrategyInfo(sid, name, stype, _initial(sid), gated, equivalence) for sid, name, stype, gated, equivalence in (
        ("bonding", "Bonding Barbell", "bonding_barbell", False, False),
        ("weather", "Weather Series", "weather_series", False, False),
        ("xv_signal", "Cross-Venue Signal", "cross_venue_signal", True, True),
        ("smart_money", "Smart Money Convergence", "smart_money_convergence", False, False),
        ("resolution", "Resolution Mispricing", "resolution_mispricing", True, False),
    )
)
_BY_KEY = {key: info for info in CATALOGUE for key in (info.id, info.strategy_type)}


def find_strategy(key: str) -> StrategyInfo | None:
    """The strategy by id or by type: signals name ``bonding_barbell`` where modes say ``bonding``."""
    return _BY_KEY.get(key)


def requested_status(value: object) -> StrategyStatus:
    """The body's ``status`` checked in the spec's order: a known value (400), then not ``live`` (409)."""
    try:
        status = StrategyStatus(value) if isinstance(value, str) else None
    except ValueError:
        status = None
    if status is None:
        raise InvalidStatus("Invalid status")
    if status is StrategyStatus.LIVE:
        raise UseGoLive("Use go-live approval to set live")
    return status


def effective_status(own: StrategyStatus | str, golive_seen: int, went_live_version: int) -> StrategyStatus:
    """Live when a go-live happened after the last status change saw go-live; else the status set last."""
    return StrategyStatus.LIVE if went_live_version > golive_seen else StrategyStatus(own)


def status_mode(status: StrategyStatus) -> ExecutionMode:
    """The execution mode a status gives the strategy's orders: live (only ever from go-live) trades LIVE, paper
    PAPER, halted and disabled stop new orders (ADR 0255, 0402). The one rule every reader of modes applies."""
    if status is StrategyStatus.LIVE:
        return ExecutionMode.LIVE
    if status is StrategyStatus.PAPER:
        return ExecutionMode.PAPER
    return ExecutionMode.DISABLED


class Strategy(Aggregate):
    """One per strategy, created by its first status change (until then it has its initial status)."""

    class Registered(Aggregate.Created):
        strategy_id: str
        initial_status: str

    class StatusChanged(Aggregate.Event):
        from_status: str
        to_status: str
        actor: str
        reason: str
        golive_seen: int
        at: datetime

    @staticmethod
    def create_id(strategy_id: str) -> UUID:
        return uuid5(PAULP_NAMESPACE, f"strategy/{strategy_id}")

    @event(Registered)
    def __init__(self, strategy_id: str, initial_status: str) -> None:
        self.strategy_id = strategy_id
        self.own_status = StrategyStatus(initial_status)
        self.golive_seen = 0
        self.changed_by: str | None = None
        self.changed_at: datetime | None = None

    @classmethod
    def register(cls, info: StrategyInfo) -> Strategy:
        return cls(strategy_id=info.id, initial_status=info.initial_status.value)

    def status(self, went_live_version: int) -> StrategyStatus:
        return effective_status(self.own_status, self.golive_seen, went_live_version)

    def set_status(self, target: StrategyStatus, actor: str, reason: str, went_live_version: int,
                   now: datetime) -> bool:
        """Record an operator's change; ``False`` (no event) when the strategy already has that status."""
        if target is StrategyStatus.LIVE:
            raise UseGoLive("Use go-live approval to set live")
        current = self.status(went_live_version)
        if current is target:
            return False
        self._status_changed(current.value, target.value, actor, reason, max(went_live_version, self.golive_seen),
                             now)
        return True

    @event(StatusChanged)
    def _status_changed(self, from_status: str, to_status: str, actor: str, reason: str, golive_seen: int,
                        at: datetime) -> None:
        self.own_status = StrategyStatus(to_status)
        self.golive_seen = golive_seen
        self.changed_by, self.changed_at = actor, at
