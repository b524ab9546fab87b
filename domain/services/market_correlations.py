"""Risk context: operator-declared market correlations (ADR 0365), declared and withdrawn in the log.

The risk check reads them from ``views.event_graph_edges`` and ``views.correlation_rules`` (ADR 0431), which the
``market_correlations`` projection keeps.
"""

from __future__ import annotations

from paulp.domain.market_correlations import (
    MarketCorrelation,
    MarketCorrelationRule,
    NoActiveCorrelation,
    NoActiveRule,
    correlation_pair,
    rule_selector,
)
from paulp.domain.services.base import PaulpApplication


class MarketCorrelationService(PaulpApplication):
    def declare(self, market: str, related: str, kind: str, weight: float, actor: str, reason: str) -> int:
        """Declare (or replace) the pair's correlation; the last notification id, to wait for the view."""
        a, b = correlation_pair(market, related)

        def command() -> int:
            pair: MarketCorrelation = (self.get_or_none(MarketCorrelation.create_id(a, b))
                                       or MarketCorrelation.register(a, b))
            pair.declare(kind, weight, actor, reason, self.clock.now())
            return self.last_notification_id(self.save(pair))

        return self.retry_on_conflict(command)

    def withdraw(self, market: str, related: str, actor: str, reason: str) -> int:
        """Withdraw the pair's correlation; the last notification id, 0 when it is withdrawn already (a repeat: nothing
        recorded, ADR 0517). Never declared: ``NoActiveCorrelation``."""
        a, b = correlation_pair(market, related)

        def command() -> int:
            pair: MarketCorrelation | None = self.get_or_none(MarketCorrelation.create_id(a, b))
            if pair is None:
                raise NoActiveCorrelation(f"no correlation between {a} and {b} was ever declared")
            if pair.withdrawn_at is not None:
                return 0
            pair.withdraw(actor, reason, self.clock.now())
            return self.last_notification_id(self.save(pair))

        return self.retry_on_conflict(command)

    def get(self, market: str, related: str) -> MarketCorrelation | None:
        found: MarketCorrelation | None = self.get_or_none(MarketCorrelation.create_id(market, related))
        return found

    def declare_rule(self, field: str, value: str, weight: float, actor: str, reason: str) -> int:
        """Declare (or replace) the rule for one category or series; the last notification id."""
        f, v = rule_selector(field, value)

        def command() -> int:
            rule: MarketCorrelationRule = (self.get_or_none(MarketCorrelationRule.create_id(f, v))
                                           or MarketCorrelationRule.register(f, v))
            rule.declare(weight, actor, reason, self.clock.now())
            return self.last_notification_id(self.save(rule))

        return self.retry_on_conflict(command)

    def withdraw_rule(self, field: str, value: str, actor: str, reason: str) -> int:
        """As ``withdraw``: 0 when the rule is withdrawn already (ADR 0517)."""
        f, v = rule_selector(field, value)

        def command() -> int:
            rule: MarketCorrelationRule | None = self.get_or_none(MarketCorrelationRule.create_id(f, v))
            if rule is None:
                raise NoActiveRule(f"no correlation rule for {f} {v!r} was ever declared")
            if rule.withdrawn_at is not None:
                return 0
            rule.withdraw(actor, reason, self.clock.now())
            return self.last_notification_id(self.save(rule))

        return self.retry_on_conflict(command)
