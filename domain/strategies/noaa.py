"""Pure reading of NOAA CDO ``/data`` payloads (trading §6.2); the adapter fetches and stores evidence.

NOAA GHCND reports temperatures in tenths of a degree and precipitation in tenths of a unit, so
every value is divided by 10. That holds for the raw values only (a request without ``units``): with
``units=metric`` or ``standard`` CDO has already scaled them. Temperatures are tenths of °C, and Kalshi
thresholds are °F, so the forecast reads daily highs through `daily_highs_f` (ADR 0278).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from paulp.domain.errors import DomainError

STATIONS: Mapping[str, str] = {
    "NYC": "USW00094728",
    "LAX": "USW00023174",
    "ORD": "USW00094846",
    "DFW": "USW00003927",
    "MIA": "USW00012839",
    "SEA": "USW00024233",
    "PHX": "USW00023183",
    "DEN": "USW00003017",
    "ATL": "USW00013874",
    "BOS": "USW00014739",
}
DEFAULT_LOCATION = "NYC"
STATION_PREFIX = "GHCND:"

# Which NOAA datatypes feed which forecast metric.
METRIC_DATATYPES: Mapping[str, frozenset[str]] = {
    "temperature": frozenset({"TMAX", "TMIN", "TAVG", "TOBS"}),
    "precipitation": frozenset({"PRCP"}),
    "snowfall": frozenset({"SNOW"}),
}


DAILY_HIGH = "TMAX"  # Kalshi HIGH<city> markets settle on the day's maximum temperature
DATASET = "GHCND"
PAGE_LIMIT = 1000  # CDO's largest page
FINAL_AFTER = timedelta(days=60)  # GHCND keeps filling a finished year for weeks; after this it is settled
RECENT_REUSE = timedelta(hours=24)  # a year still filling up is fetched again at most daily


class MalformedNoaaPayload(DomainError):
    """Raised when a NOAA payload is not an object with a ``results`` list of dated values."""

    code = "MALFORMED_NOAA_PAYLOAD"


@dataclass(frozen=True)
class Observation:
    on: date
    datatype: str
    value: float
    station: str


def station_for(location: str) -> str:
    """GHCND station id for a location code; unknown locations fall back to NYC (source rule)."""
    code = location.strip().upper()
    return STATION_PREFIX + STATIONS.get(code, STATIONS[DEFAULT_LOCATION])


def _observation(row: Any) -> Observation:
    if not isinstance(row, Mapping):
        raise MalformedNoaaPayload(f"result row is not an object: {row!r:.80}")
    try:
        on = date.fromisoformat(str(row["date"])[:10])
        value = float(row["value"]) / 10.0
        return Observation(on, str(row["datatype"]).upper(), value, str(row.get("station", "")))
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedNoaaPayload(f"bad result row {row!r:.80}: {exc}") from exc


def parse_observations(payload: Mapping[str, Any]) -> list[Observation]:
    """Every row of the payload; a payload without results (NOAA sends ``{}``) has none."""
    rows = payload.get("results", [])
    if not isinstance(rows, Sequence) or isinstance(rows, str):
        raise MalformedNoaaPayload("results is not a list")
    return [_observation(r) for r in rows]


def metric_values(payload: Mapping[str, Any], metric: str) -> list[tuple[date, float]]:
    """(date, value) points of one metric in payload order, ready for the forecast model."""
    try:
        wanted = METRIC_DATATYPES[metric]
    except KeyError as exc:
        raise MalformedNoaaPayload(f"unknown metric {metric!r}") from exc
    return [(o.on, o.value) for o in parse_observations(payload) if o.datatype in wanted]


def celsius_to_fahrenheit(celsius: float) -> float:
    return celsius * 9.0 / 5.0 + 32.0


def daily_highs_f(payload: Mapping[str, Any]) -> list[tuple[date, float]]:
    """(date, °F) daily maxima of a raw GHCND payload: value / 10 is °C (the §6.2 rule), then to °F."""
    return [(o.on, celsius_to_fahrenheit(o.value)) for o in parse_observations(payload) if o.datatype == DAILY_HIGH]


@dataclass(frozen=True)
class YearBlock:
    """One CDO request's worth of history: a station's daily highs for one calendar year (≤ 366 rows)."""

    station: str
    year: int

    @property
    def start(self) -> date:
        return date(self.year, 1, 1)

    @property
    def end(self) -> date:
        return date(self.year, 12, 31)

    def is_final(self, as_of: date) -> bool:
        """True once the year is long enough past that NOAA no longer adds to it (its body can be reused)."""
        return as_of >= self.end + FINAL_AFTER

    def reusable_since(self, now: datetime) -> datetime:
        """A stored body fetched at or after this moment may stand in for a new fetch: any one fetched
        once the year was settled, else only one from the last day."""
        if self.is_final(now.date()):
            return datetime.combine(self.end + FINAL_AFTER, time.min, now.tzinfo)
        return now - RECENT_REUSE


def year_blocks(stations: Sequence[str], today: date, lookback_years: int) -> list[YearBlock]:
    """The last ``lookback_years`` complete calendar years per station, newest first, no duplicates.

    Whole years cover every ±7-day window (the new-year wrap included) with one page per request, and a
    finished year never changes, so its stored body serves every later scan and every market date.
    """
    unique = list(dict.fromkeys(stations))
    return [YearBlock(s, today.year - k) for s in unique for k in range(1, lookback_years + 1)]
