"""Market-data context: marks (last observed quotes per market, then its outcome) as events, so valuations
are auditable and replayable like everything else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

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

    def _update(self, ticker: str, change: Callable[[MarketMark], bool]) -> bool:
        def command() -> bool:
            mark = self.mark(ticker) or MarketMark(ticker)
            if not change(mark):
                return False
            self.save(mark)
            return True

        return self.retry_on_conflict(command)
