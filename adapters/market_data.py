"""Market facts for the order pipeline: a fixed book (paper drills, tests) or Kalshi candlestick history."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from paulp.domain.clock import Clock
from paulp.domain.execution_orders import MarketSnapshot
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


class CandleMarketData:
    """Kalshi candlesticks (shared/data/kalshi): the book at the injected clock's time, for backtests."""

    def __init__(self, path: Path, clock: Clock, category: str = "unknown") -> None:
        self._candles: dict[str, list[dict[str, Any]]] = json.loads(path.read_text())
        self._clock, self._category = clock, category

    def tickers(self) -> list[str]:
        return sorted(self._candles)

    def facts(self, ticker: str) -> MarketFacts | None:
        now_ts = self._clock.now().timestamp()
        seen = [c for c in self._candles.get(ticker, []) if c["end_period_ts"] <= now_ts]
        if not seen:
            return None
        last = seen[-1]
        bid, ask = _cents(last["yes_bid"]["close"]), _cents(last["yes_ask"]["close"])
        volume = sum(float(c.get("volume") or 0) for c in seen if c["end_period_ts"] > now_ts - 86400)
        snap = MarketSnapshot(
            ticker=ticker, yes_bid=bid, yes_ask=ask,
            no_bid=None if ask is None else 100 - ask, no_ask=None if bid is None else 100 - bid,
            volume_24h=volume, category=self._category,
        )
        return MarketFacts(snapshot=snap, category=self._category,
                           last_price_update=datetime.fromtimestamp(last["end_period_ts"], UTC))
