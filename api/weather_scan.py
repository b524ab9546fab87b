"""The weather strategy's scan (trading §6.2; ADR 0278): Kalshi weather markets, NOAA history, signals.

Markets come from the scan's one catalogue read, shared with bonding; each market's station history comes from NOAA CDO
through one client per scan (evidence-first, paced, retried) and is shared by markets on that station.
A NOAA failure fails the weather row only: it surfaces as ``JobFailed`` with the client's stable code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from paulp.adapters.evidence_store import EvidenceStore
from paulp.adapters.kalshi.market_fields import MarketFieldInvalid, last_price_cents
from paulp.adapters.noaa.client import NoaaCdoClient, NoaaClientConfig
from paulp.adapters.noaa.errors import NoaaError
from paulp.adapters.noaa.history import StationHistory, StoredPages, recorder
from paulp.api.compliance_gate import require
from paulp.api.compliance_outcomes import note_failure
from paulp.api.venue_session import JobFailed
from paulp.domain.compliance_outcomes import NOAA_CDO_SOURCE
from paulp.domain.strategies.noaa import station_for
from paulp.domain.strategies.weather import (
    ForecastConfig,
    WeatherMarketSpec,
    WeatherSignal,
    forecast,
    parse_ticker,
    rank_signals,
    weather_edge,
    weather_signal,
)

MAX_MARKETS = 50


@dataclass(frozen=True)
class WeatherCandidate:
    """A catalogue row the weather model can price: its parsed ticker and last YES price."""

    ticker: str
    spec: WeatherMarketSpec
    yes_price: float
    closes_at: datetime


def _when(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def weather_candidates(catalogue: Any, now: datetime, limit: int = MAX_MARKETS) -> list[WeatherCandidate]:
    """§6.2: category weather, active, closing in the future, the ``limit`` earliest; unparseable skipped.

    A row without a category counts when its ticker parses as a temperature market: Kalshi files the
    category on the event, and its market rows may not carry one."""
    found: list[WeatherCandidate] = []
    for raw in catalogue:
        closes = _when(raw.get("close_time"))
        try:
            last = last_price_cents(raw)  # ``last_price_dollars`` first, as every market read (ADR 0321)
        except MarketFieldInvalid:
            continue
        category = str(raw.get("category") or "").strip().lower()
        if ((category and "weather" not in category)
                or str(raw.get("status", "")).lower() not in ("active", "open")
                or closes is None or closes <= now):
            continue
        spec = parse_ticker(str(raw.get("ticker") or ""))
        if spec is None or last is None:
            continue
        found.append(WeatherCandidate(str(raw["ticker"]), spec, last / 100, closes))
    return sorted(found, key=lambda c: (c.closes_at, c.ticker))[:limit]


def weather_signals(candidates: list[WeatherCandidate], history: StationHistory, capital: float,
                    now: datetime, config: ForecastConfig = ForecastConfig()) -> list[WeatherSignal]:
    """Forecast each market from its station's history (°F, as the ticker's threshold), best edge first.

    The forecast's target is the ticker's date: the day whose high settles the market (ADR 0278).
    """
    signals: list[WeatherSignal] = []
    for c in candidates:
        points = history.highs(station_for(c.spec.location))
        fc = forecast(points, c.spec.settlement_date, now.year, c.spec.metric, config)
        if fc.sample_size < config.min_sample_size:
            continue
        edge = weather_edge(fc, c.spec.operator, c.spec.threshold, c.yes_price)
        sig = None if edge is None else weather_signal(c.ticker, fc, edge, capital, now)
        if sig is not None:
            signals.append(sig)
    return rank_signals(signals)


@contextmanager
def noaa_history(container: Any, now: datetime) -> Iterator[StationHistory]:
    """One client per scan from Settings; a missing token or a compliance block (``noaa_cdo``, §7.2) fails here,
    before the catalogue or NOAA is read."""
    settings = container.settings
    token = settings.NOAA_CDO_TOKEN.get_secret_value() if settings.NOAA_CDO_TOKEN is not None else None
    store = EvidenceStore(settings.evidence_dir())
    try:
        client = NoaaCdoClient(store, token, record=recorder(container.pool.connection), now=container.clock.now,
                               config=NoaaClientConfig(base_url=settings.NOAA_CDO_BASE_URL,
                                                       requests_per_s=settings.NOAA_CDO_REQUESTS_PER_SECOND,
                                                       contact=settings.NOAA_CDO_CONTACT or "",
                                                       max_response_bytes=settings.NOAA_CDO_MAX_RESPONSE_BYTES))
        client.require_token()
    except NoaaError as exc:
        raise JobFailed(exc.code, f"NOAA CDO not usable: {exc}", 503) from None
    try:
        require(container, "noaa", "fetch_station_history", "scan")
        yield StationHistory(client, StoredPages(container.pool.connection, store), now)
    finally:
        client.close()


def scan_weather(container: Any, read_catalogue: Callable[[], Sequence[Any]], capital: float,
                 now: datetime) -> tuple[list[WeatherSignal], dict[str, int]]:
    """Signals and the row's figures: weather markets priced, NOAA requests sent, stored pages reused."""
    with noaa_history(container, now) as history:
        candidates = weather_candidates(read_catalogue(), now)
        try:
            signals = weather_signals(candidates, history, capital, now)
        except NoaaError as exc:
            note_failure(NOAA_CDO_SOURCE, exc)
            status = f" (HTTP {exc.status})" if exc.status else ""
            raise JobFailed(exc.code, f"NOAA CDO history read failed: {exc.code}{status}") from exc
        figures = {"marketsScanned": len(candidates), "noaaRequests": history.client.requests_sent,
                   "noaaPagesReused": history.reused_pages}
    return signals, figures
