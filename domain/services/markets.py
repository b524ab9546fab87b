"""Market-data context: marks (last observed quotes per market, then its outcome) as events, so valuations
are auditable and replayable like everything else."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial

from paulp.domain.checkpoints import CHECKPOINT_EVERY, resume
from paulp.domain.clock import Clock
from paulp.domain.closing_lines import ClosingLine
from paulp.domain.clv import ClosingLineEstimate, Observation
from paulp.domain.marks import MarketMark, Quotes
from paulp.domain.services.base import PaulpApplication

RESUME_MARK = partial(resume, MarketMark, MarketMark.Checkpointed)


class MarketsService(PaulpApplication):
    """Marks and closing lines. The marks job loads every marked market's mark each minute, and a held market's mark
    gains up to 1,440 events a day: replayed on every load, each tick cost more than the one before (three weeks'
    mark 1.1 s per ticker). Marks are cached and fast-forwarded from the log as the breaker is (ADR 0502),
    so other processes' quotes are still seen, and a process's first load starts from the mark's last checkpoint,
    which a save adds once due (ADR 0505)."""

    def __init__(self, env: Mapping[str, str] | None, clock: Clock) -> None:
        super().__init__({"AGGREGATE_CACHE_MAXSIZE": "1000", **(env or {})}, clock)

    def observe(self, ticker: str, quotes: Quotes, at: datetime, evidence_hash: str | None) -> bool:
        """Store the quotes as the market's mark unless nothing changed; True if an event was stored."""
        return self._update(ticker, lambda mark: mark.observe(quotes, at, evidence_hash))

    def resolve(self, ticker: str, result: str, at: datetime, evidence_hash: str | None) -> bool:
        """Store the market's determined outcome (once); True if an event was stored."""
        return self._update(ticker, lambda mark: mark.resolve(result, at, evidence_hash))

    def mark(self, ticker: str) -> MarketMark | None:
        found: MarketMark | None = self.get_checkpointed(MarketMark.create_id(ticker), MarketMark.Checkpointed,
                                                         RESUME_MARK)
        return found

    def record_observation(self, ticker: str, observation: Observation, close_time: datetime | None,
                           category: str | None, evidence_hash: str | None) -> bool:
        """Keep one book observation for the market's closing line (ADR 0419); True if an event was stored."""

        def command() -> bool:
            line = self.closing_line(ticker) or ClosingLine(ticker)
            if not line.observe(observation, close_time, category, evidence_hash):
                return False
            self.save(line)
            return True

        return self.retry_on_conflict(command)

    def close_line(self, ticker: str, resolved_at: datetime) -> tuple[ClosingLine, ClosingLineEstimate]:
        """The market's closing line, estimated and stored at the first call (a market never observed gets
        §4.3's invalid line), the stored one after."""

        def command() -> tuple[ClosingLine, ClosingLineEstimate]:
            line = self.closing_line(ticker) or ClosingLine(ticker)
            known = line.estimate is not None
            estimate = line.close(resolved_at, self.clock.now())
            if not known:
                self.save(line)
            return line, estimate

        return self.retry_on_conflict(command)

    def closing_line(self, ticker: str) -> ClosingLine | None:
        found: ClosingLine | None = self.get_or_none(ClosingLine.create_id(ticker))
        return found

    def _update(self, ticker: str, change: Callable[[MarketMark], bool]) -> bool:
        def command() -> bool:
            mark = self.mark(ticker) or MarketMark(ticker)
            if not change(mark):
                return False
            mark.checkpoint_if_due(CHECKPOINT_EVERY)
            self.save(mark)
            return True

        return self.retry_on_conflict(command)
