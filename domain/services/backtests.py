"""Governance context: completed backtests, stored once per distinct run (the record's id is its inputs)."""

from __future__ import annotations

from dataclasses import dataclass

from eventsourcing.persistence import IntegrityError

from paulp.domain.backtest import BacktestConfig, BacktestRecord, BacktestResult, new_record
from paulp.domain.services.base import PaulpApplication


@dataclass(frozen=True)
class RecordedBacktest:
    record: BacktestRecord
    created: bool  # False: this exact backtest was stored before; the earlier record stands
    notification_id: int | None


class BacktestService(PaulpApplication):
    def record(self, result: BacktestResult, config: BacktestConfig, name: str, data_hash: str) -> RecordedBacktest:
        fresh = new_record(result, config, name, data_hash, self.clock.now())
        earlier: BacktestRecord | None = self.get_or_none(fresh.id)
        if earlier is not None:
            return RecordedBacktest(earlier, False, None)
        try:
            return RecordedBacktest(fresh, True, self.last_notification_id(self.save(fresh)))
        except IntegrityError:  # the same backtest stored by a concurrent run a moment ago
            return RecordedBacktest(self.repository.get(fresh.id), False, None)
