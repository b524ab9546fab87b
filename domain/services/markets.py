"""Market-data context: marks (last observed quotes per market, then its outcome) as events, so valuations
are auditable and replayable like everything else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from paulp.domain.closing_lines import ClosingLine
from paulp.domain.clv import ClosingLineEstimate, Observation
from paulp.domain.marks import MarketMark, Quotes
from paulp.domain.services.base import PaulpApplication


class MarketsService(PaulpApplication):
    def observe(self, ticker: str, quotes: Quotes, at: datetime, evidence_hash: str | None) -> bool:
        """Store the quotes as the market's mark unless nothing changed; True if an event was stored."""
        return self._update(ticker, lambda mark: mark.observe(quotes, at, evidence_hash))

    def resolve(self, ticker: str, result: str, at: datetime, evidence_hash: str | None) -> bool:
        """Store the market's determined outcome (once); True if an event was stored."""
        return self._update(ticker, lambda mark: mark.resolve(result, at, evidence_hash))

    def mark(self, ticker: str) -> MarketMark | None:
        found: MarketMark | None = self.get_or_none(MarketMark.create_id(ticker))
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
            self.save(mark)
            return True

        return self.retry_on_conflict(command)
