"""What a risk check sees (trading §3.1): the order request and the portfolio it would join."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

UNKNOWN_CATEGORY = "unknown"  # a market whose category is not known (§3.1 default)


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


@dataclass(frozen=True)
class Position:
    """An open position; ``size`` is USD notional and may be negative (its magnitude counts)."""

    market_id: str
    category: str
    size: float
    unrealized_pnl: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "marketId": self.market_id,
            "category": self.category,
            "size": self.size,
            "unrealizedPnL": self.unrealized_pnl,
        }


@dataclass(frozen=True)
class CorrelatedMarket:
    """A market whose outcome moves with the target's (event graph, §3.4)."""

    market_id: str
    correlation_score: float
    correlation_type: str

    def to_json(self) -> dict[str, Any]:
        return {
            "marketId": self.market_id,
            "correlationScore": self.correlation_score,
            "correlationType": self.correlation_type,
        }


@dataclass(frozen=True)
class RiskRequest:
    """The order under check; ``size`` is USD notional (contracts times price in dollars, §3.1)."""

    market_id: str
    size: float
    category: str
    venue: str = "kalshi"
    side: str = "YES"
    price: float = 0.0
    strategy: str = "unknown"
    market_price: float = 0.0
    spread: float = 0.0
    volume_24h: float = 0.0
    vpin_score: float | None = None
    ambiguity_score: float | None = None
    equivalence_grade: str | None = None
    # The scoring runs could not be read: I13 (and, for a cross-venue strategy, I12) fails rather than reading
    # "no run"; ``llm_scoring`` names the runs the two values came from (ADR 0425).
    ambiguity_unavailable: bool = False
    equivalence_unavailable: bool = False
    llm_scoring: Mapping[str, Any] | None = None
    # Missing market times fail I11/I14 (normative resolution of §3.1): there is no fail-open default.
    settlement_date: datetime | None = None
    last_price_update: datetime | None = None
    recent_slippage_ratio: float | None = None
    # The slippage history could not be read: I18 fails rather than reading "no reports" (ADR 0387).
    recent_slippage_unavailable: bool = False

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "marketId": self.market_id,
            "venue": self.venue,
            "side": self.side,
            "size": self.size,
            "price": self.price,
            "strategy": self.strategy,
            "marketPrice": self.market_price,
            "spread": self.spread,
            "volume24h": self.volume_24h,
            "vpinScore": self.vpin_score,
            "ambiguityScore": self.ambiguity_score,
            "equivalenceGrade": self.equivalence_grade,
            "settlementDate": _iso(self.settlement_date),
            "category": self.category,
            "lastPriceUpdate": _iso(self.last_price_update),
            "recentSlippageRatio": self.recent_slippage_ratio,
        }
        if self.recent_slippage_unavailable:  # only then, so every earlier document keeps its shape
            document["recentSlippageUnavailable"] = True
        if self.ambiguity_unavailable:  # the same for the LLM scoring facts (ADR 0425)
            document["ambiguityUnavailable"] = True
        if self.equivalence_unavailable:
            document["equivalenceUnavailable"] = True
        if self.llm_scoring is not None:
            document["llmScoring"] = dict(self.llm_scoring)
        return document


@dataclass(frozen=True)
class LossFees:
    """The trading fees the daily/weekly PnL and the drawdown are net of (ADR 0442): USD paid within each window
    (``drawdown``: every fee the strategy's equity has paid), and how many fills in it have a fee that is not known,
    counted as 0, so the figure is incomplete, not free of fees."""

    daily_usd: float
    weekly_usd: float
    drawdown_usd: float
    unknown_daily: int = 0
    unknown_weekly: int = 0
    unknown_drawdown: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "dailyUsd": self.daily_usd, "weeklyUsd": self.weekly_usd, "drawdownUsd": self.drawdown_usd,
            "unknownFills": {"daily": self.unknown_daily, "weekly": self.unknown_weekly,
                             "drawdown": self.unknown_drawdown},
            "complete": self.unknown_drawdown == 0,
        }


@dataclass(frozen=True)
class PortfolioSnapshot:
    """Portfolio state at check time; ``correlated_markets`` None means the lookup failed (fail closed)."""

    portfolio_value: float
    daily_pnl: float = 0.0
    weekly_pnl: float = 0.0
    max_drawdown: float = 0.0  # fraction
    positions: tuple[Position, ...] = ()
    correlated_markets: tuple[CorrelatedMarket, ...] | None = field(default=())
    system_healthy: bool = True
    # Why the system is not healthy (ADR 0441: the views this snapshot was read from are behind the log); only
    # then in the document, so every earlier snapshot keeps its shape and hash.
    health_detail: str | None = None
    # The fees the loss figures are net of (ADR 0442); None when there are none, known or not, so a document of a
    # book without fees keeps its shape and hash.
    loss_fees: LossFees | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "portfolioValue": self.portfolio_value,
            "dailyPnL": self.daily_pnl,
            "weeklyPnL": self.weekly_pnl,
            "maxDrawdown": self.max_drawdown,
            "existingPositions": [p.to_json() for p in self.positions],
            "correlatedMarkets": (
                None if self.correlated_markets is None else [c.to_json() for c in self.correlated_markets]
            ),
            "systemHealthy": self.system_healthy,
            **({"systemHealthDetail": self.health_detail} if self.health_detail is not None else {}),
            **({"lossFigureFees": self.loss_fees.to_json()} if self.loss_fees is not None else {}),
        }
