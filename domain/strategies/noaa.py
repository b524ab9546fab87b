"""Pure reading of NOAA CDO ``/data`` payloads (trading §6.2); the adapter fetches and stores evidence.

NOAA GHCND reports temperatures in tenths of a degree and precipitation in tenths of a unit, so
every value is divided by 10.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
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
