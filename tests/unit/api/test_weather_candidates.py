"""Which Kalshi catalogue rows the weather scan prices (trading §6.2)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from paulp.api.weather_scan import weather_candidates

NOW = datetime(2026, 3, 2, 15, tzinfo=UTC)


def row(ticker: str, **over: Any) -> dict[str, Any]:
    return {"ticker": ticker, "status": "active", "category": "Climate and Weather", "last_price": 40,
            "close_time": "2026-03-06T04:59:00Z", **over}


def test_weather_candidates_when_rows_mixed_then_only_open_parseable_priced_weather_rows_earliest_first() -> None:
    catalogue = [
        row("KXHIGHNY-26MAR06-T40", close_time="2026-03-07T04:59:00Z"),
        row("KXHIGHNY-26MAR05-T40"),
        row("KXHIGHCHI-26MAR05-T30", category=None),  # no category on the row: the ticker decides
        row("KXHIGHNY-26MAR05-T41", category="Economics"),
        row("KXHIGHNY-26MAR05-T42", status="settled"),
        row("KXHIGHNY-26MAR01-T42", close_time="2026-03-02T04:59:00Z"),  # closed already
        row("KXHIGHNY-26MAR05-B40.5"),  # a range market: not parsed, skipped
        row("KXHIGHNY-26MAR05-T43", last_price=0),  # never traded: no price
        row("KXHIGHNY-26MAR05-T44", last_price=True),
    ]
    got = weather_candidates(catalogue, NOW)
    assert [c.ticker for c in got] == ["KXHIGHCHI-26MAR05-T30", "KXHIGHNY-26MAR05-T40", "KXHIGHNY-26MAR06-T40"]
    assert (got[1].yes_price, got[1].spec.threshold, got[1].spec.location) == (0.40, 40.0, "NY")


def test_weather_candidates_when_more_than_the_limit_then_the_earliest_closing() -> None:
    catalogue = [row(f"KXHIGHNY-26MAR05-T{t}", close_time=f"2026-03-06T04:{t:02d}:00Z") for t in reversed(range(60))]
    got = weather_candidates(catalogue, NOW, limit=50)
    assert [c.spec.threshold for c in got] == list(range(50))
