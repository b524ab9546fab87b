"""Market facts for the order pipeline: a fixed book (paper drills, tests) or Kalshi candlestick history."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paulp.domain.ports import MarketFacts
from paulp.domain.prices import venue_quote


class StaticMarketData:
    """A fixed set of markets; an unknown ticker is unavailable (the pipeline then fails closed)."""

    def __init__(self, markets: Mapping[str, MarketFacts]) -> None:
        self._markets = dict(markets)

    def facts(self, ticker: str) -> MarketFacts | None:
        return self._markets.get(ticker)


def _cents(value: Any) -> int | None:
    if value is None:
        return None
    c = round(float(value) * 100)
    return venue_quote(c) if 0 <= c <= 100 else None  # 0 / 100: an empty side (ADR 0305)
