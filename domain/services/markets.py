"""Market-data context: marks (last observed quotes per market) as events, so valuations are auditable
and replayable like everything else."""

from __future__ import annotations

from datetime import datetime

from eventsourcing.application import AggregateNotFoundError

from paulp.domain.marks import MarketMark, Quotes
from paulp.domain.services.base import PaulpApplication


class MarketsService(PaulpApplication):
    def observe(self, ticker: str, quotes: Quotes, at: datetime, evidence_hash: str | None) -> bool:
        """Store the quotes as the market's mark unless nothing changed; True if an event was stored."""

        def command() -> bool:
            try:
                mark: MarketMark = self.repository.get(MarketMark.create_id(ticker))
            except AggregateNotFoundError:
                mark = MarketMark(ticker)
            if not mark.observe(quotes, at, evidence_hash):
                return False
            self.save(mark)
            return True

        return self.retry_on_conflict(command)

    def mark(self, ticker: str) -> MarketMark | None:
        try:
            found: MarketMark = self.repository.get(MarketMark.create_id(ticker))
        except AggregateNotFoundError:
            return None
        return found
