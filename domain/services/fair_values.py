"""Strategies context: operator-supplied fair probabilities (ADR 0277), set, withdrawn and read from the log.

The scan reads ``current`` here rather than from ``views.fair_values``: a value an operator just set or
withdrew counts at the next scan, whatever the projector's lag.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from paulp.domain.fair_values import FairValue, NoCurrentFairValue, current_fair_probabilities, fair_ticker
from paulp.domain.services.base import PaulpApplication


class FairValueService(PaulpApplication):
    def set(self, ticker: str, probability: float, source: str, reason: str, actor: str,
            valid_for: timedelta) -> int:
        """Set (or replace) the ticker's fair value from now for ``valid_for``; the last notification id."""
        name = fair_ticker(ticker)

        def command() -> int:
            now = self.clock.now()
            value: FairValue = self.get_or_none(FairValue.create_id(name)) or FairValue(ticker=name)
            value.set(probability, source, reason, actor, now, now + valid_for)
            return self.last_notification_id(self.save(value))

        return self.retry_on_conflict(command)

    def withdraw(self, ticker: str, actor: str, reason: str) -> int:
        name = fair_ticker(ticker)

        def command() -> int:
            value: FairValue | None = self.get_or_none(FairValue.create_id(name))
            if value is None:
                raise NoCurrentFairValue(f"no fair value was ever set for {name}")
            value.withdraw(actor, reason, self.clock.now())
            return self.last_notification_id(self.save(value))

        return self.retry_on_conflict(command)

    def get(self, ticker: str) -> FairValue | None:
        found: FairValue | None = self.get_or_none(FairValue.create_id(ticker))
        return found

    def current(self, tickers: Iterable[str], now: datetime) -> dict[str, float]:
        """The values that count at ``now`` for these tickers (one read each; the scan asks for its positions)."""
        found = (self.get(t) for t in sorted(set(tickers)))
        return current_fair_probabilities((v for v in found if v is not None), now)
