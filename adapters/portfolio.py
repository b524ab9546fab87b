"""Portfolio snapshot for risk checks from the positions and event-graph views."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from psycopg_pool import ConnectionPool

from paulp.domain.risk_input import CorrelatedMarket, PortfolioSnapshot, Position

log = logging.getLogger("paulp.portfolio")


class ViewPortfolio:
    """The portfolio value is the order's strategy's capital (USD, §1.7 / §5.7; 0 for a strategy without an
    allocation, which fails every share-of-portfolio check); positions are cost at fill; a failed correlation
    read fails closed."""

    def __init__(self, pool: ConnectionPool[Any], capital_of: Callable[[str], float]) -> None:
        self.pool, self.capital_of = pool, capital_of

    def snapshot(self, strategy: str, market_id: str) -> PortfolioSnapshot:
        with self.pool.connection() as conn:
            rows = conn.execute("SELECT ticker, cost_cents FROM views.positions WHERE contracts > 0").fetchall()
        positions = tuple(Position(t, "unknown", c / 100) for t, c in rows)
        correlated: tuple[CorrelatedMarket, ...] | None
        try:
            with self.pool.connection() as conn:
                edges = conn.execute(
                    "SELECT related_market_id, correlation_score, correlation_type FROM views.event_graph_edges"
                    " WHERE market_id = %s", (market_id,)).fetchall()
            correlated = tuple(CorrelatedMarket(m, s, t) for m, s, t in edges)
        except Exception:
            log.exception("event graph lookup failed for %s", market_id)
            correlated = None
        return PortfolioSnapshot(portfolio_value=self.capital_of(strategy), positions=positions,
                                 correlated_markets=correlated)
