"""Strategies context: operator status changes and the status-restricted execution modes (ADR 0255).

A strategy's go-live facts live on its ``GoLiveApproval`` (same log); commands read the version of its
last ``WentLive`` so the status they decide from is the one the projection shows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from paulp.domain.execution_policy import ExecutionMode
from paulp.domain.golive import GoLiveApproval
from paulp.domain.services.base import PaulpApplication
from paulp.domain.services.golive import StrategyNotFound
from paulp.domain.strategy_registry import (
    CATALOGUE,
    Strategy,
    StrategyInfo,
    StrategyStatus,
    find_strategy,
    status_mode,
)


@dataclass(frozen=True)
class StatusChange:
    strategy_id: str
    previous: StrategyStatus
    new: StrategyStatus
    changed: bool
    notification_id: int  # 0 when nothing was recorded (the strategy already had that status)


class StrategiesService(PaulpApplication):
    def set_status(self, strategy_id: str, status: StrategyStatus, actor: str, reason: str) -> StatusChange:
        info = self.info(strategy_id)

        def command() -> StatusChange:
            strategy = self._load(info)
            went_live = self.went_live_version(info.id)
            previous = strategy.status(went_live)
            changed = strategy.set_status(status, actor, reason, went_live, self.clock.now())
            nid = self.last_notification_id(self.save(strategy)) if changed else 0
            return StatusChange(info.id, previous, status, changed, nid)

        return self.retry_on_conflict(command)

    @staticmethod
    def info(strategy_id: str) -> StrategyInfo:
        """A strategy by its id (the path's id; types are not ids): unknown -> 404."""
        info = find_strategy(strategy_id)
        if info is None or info.id != strategy_id:
            raise StrategyNotFound("Strategy not found")
        return info

    def status_of(self, info: StrategyInfo) -> StrategyStatus:
        strategy: Strategy | None = self.get_or_none(Strategy.create_id(info.id))
        went_live = self.went_live_version(info.id)
        if strategy is None:
            return StrategyStatus.LIVE if went_live else info.initial_status
        return strategy.status(went_live)

    def went_live_version(self, strategy_id: str) -> int:
        """Version of the strategy's last ``WentLive`` on its go-live aggregate, 0 if it never went live."""
        version = 0
        for ev in self.events.get(GoLiveApproval.create_id(strategy_id)):
            if isinstance(ev, GoLiveApproval.WentLive):
                version = ev.originator_version
        return version

    def execution_modes(self) -> StrategyModes:
        return StrategyModes(self)

    def _load(self, info: StrategyInfo) -> Strategy:
        strategy: Strategy | None = self.get_or_none(Strategy.create_id(info.id))
        return strategy or Strategy.register(info)


class StrategyModes(Mapping[str, ExecutionMode]):
    """Each catalogue strategy's mode, read from the log at each lookup (its status: seed, operator change or
    go-live), so a go-live, halt or disable counts from the next order without rebuilding anything. A strategy
    type (``bonding_barbell``) looks up its strategy; a name outside the catalogue is not in the table."""

    def __init__(self, service: StrategiesService) -> None:
        self.service = service

    def __getitem__(self, key: str) -> ExecutionMode:
        info = find_strategy(key)
        if info is None:
            raise KeyError(key)
        return status_mode(self.service.status_of(info))

    def __iter__(self) -> Iterator[str]:
        return iter(info.id for info in CATALOGUE)

    def __len__(self) -> int:
        return len(CATALOGUE)
