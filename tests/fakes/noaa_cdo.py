"""A loopback NOAA CDO v2 ``/data`` for tests: GHCND daily values, real paging, the ``token`` header checked.

Values are raw GHCND (tenths of °C) as CDO sends them without ``units``; a request with ``units`` is
refused so the client cannot silently ask for pre-scaled values. CDO's request limits are enforced
(limit ≤ 1000, a date range of at most one year). Faults (status with Retry-After, delay, malformed body, a dripped,
flooding or over-declared body) are queued with `inject` and consumed in order.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.hostile import HostileBody
from tests.fakes.loopback import JsonHandler, LoopbackServer

PREFIX = "/cdo-web/api/v2"
DailyValue = Callable[[str, str, date], int | None]  # (station, datatype, day) -> raw value or None
Answer = tuple[int, Any, dict[str, str]]  # status, document (or raw bytes), extra headers


def seasonal_tmax(station: str, datatype: str, day: date) -> int | None:
    """A deterministic climate: TMAX in tenths of °C around a seasonal curve, spread by a day/year hash."""
    if datatype != "TMAX":
        return None
    doy = day.timetuple().tm_yday
    season = 150 - 130 * (1 if doy < 20 or doy > 345 else abs(182 - doy) / 162)  # ~2 °C winter, ~15 °C summer
    spread = ((day.year * 37 + doy * 11 + len(station)) % 21 - 10) * 6  # ±6 °C
    return round(season + spread)


@dataclass
class NoaaFault:
    """Answer the next ``times`` requests with ``status`` (and ``body``) after ``delay_s``; ``status=None``
    only delays (a timeout when longer than the client waits)."""

    status: int | None = 500
    delay_s: float = 0.0
    retry_after: str | None = None
    body: bytes | None = None
    times: int = 1
    hostile: HostileBody | None = None  # answer `status` (200 when None) with a dripped, flooding or over-declared body


@dataclass
class SeenRequest:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int = 0


class FakeNoaaCdo:
    """``with FakeNoaaCdo(token) as fake:`` then point the client at ``fake.base_url``."""

    def __init__(self, token: str, values: DailyValue = seasonal_tmax, page_cap: int = 1000) -> None:
        self.token, self.values, self.page_cap = token, values, page_cap  # page_cap < 1000 forces paging
        self._initial_page_cap = page_cap
        self.requests: list[SeenRequest] = []
        self._faults: list[NoaaFault] = []
        self._lock = threading.Lock()
        self._server = LoopbackServer(self._handler())

    @property
    def base_url(self) -> str:
        return self._server.url.rstrip("/") + PREFIX

    def __enter__(self) -> FakeNoaaCdo:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    def inject(self, fault: NoaaFault) -> None:
        with self._lock:
            self._faults.append(fault)

    def reset(self) -> None:
        """Between tests of one module: no faults, no requests seen, the page size it was started with."""
        with self._lock:
            self._faults.clear()
            self.requests.clear()
            self.page_cap = self._initial_page_cap

    def data_requests(self) -> list[SeenRequest]:
        return [r for r in self.requests if r.path == PREFIX + "/data"]

    def _take_fault(self) -> NoaaFault | None:
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            fault.times -= 1
            if fault.times <= 0:
                self._faults.pop(0)
            return fault

    def answer(self, path: str, query: dict[str, list[str]], headers: dict[str, str]) -> Answer:
        """(status, document or raw bytes, extra headers) for one request; records what it saw."""
        seen = SeenRequest(path, query, headers)
        with self._lock:
            self.requests.append(seen)
        status, doc, extra = self._answer(path, query, headers)
        seen.status = status
        return status, doc, extra

    def _answer(self, path: str, query: dict[str, list[str]], headers: dict[str, str]) -> Answer:
        if headers.get("token") != self.token:
            return 401, {"status": "401", "message": "Token parameter is required or invalid"}, {}
        fault = self._take_fault()
        if fault is not None:
            time.sleep(fault.delay_s)
            if fault.hostile is not None:
                return fault.status or 200, fault.hostile, {}
            if fault.status is not None:
                extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return fault.status, fault.body if fault.body is not None else {"message": "injected"}, extra
            if fault.body is not None:
                return 200, fault.body, {}
        if path != PREFIX + "/data":
            return 404, {"message": "no such endpoint"}, {}
        return self._data(query)

    def _data(self, query: dict[str, list[str]]) -> Answer:
        one = {k: v[0] for k, v in query.items()}
        try:
            start, end = date.fromisoformat(one["startdate"]), date.fromisoformat(one["enddate"])
            limit, offset = int(one.get("limit", "25")), int(one.get("offset", "1"))
        except (KeyError, ValueError):
            return 400, {"message": "startdate and enddate (YYYY-MM-DD) are required"}, {}
        if one.get("datasetid") != "GHCND" or "units" in one or limit > 1000 or offset < 1:
            return 400, {"message": "unsupported request"}, {}
        if end < start or (end - start).days > 365:
            return 400, {"message": "The date range must be less than 1 year."}, {}
        stations, types = query.get("stationid", []), query.get("datatypeid", ["TMAX"])
        rows = []
        day = start
        while day <= end:
            for station in sorted(stations):
                for datatype in sorted(types):
                    value = self.values(station.removeprefix("GHCND:"), datatype, day)
                    if value is not None:
                        rows.append({"date": f"{day.isoformat()}T00:00:00", "datatype": datatype,
                                     "station": station, "attributes": ",,W,2400", "value": value})
            day += timedelta(days=1)
        if not rows:
            return 200, {}, {}  # CDO answers an empty object when nothing matches
        page = rows[offset - 1:offset - 1 + min(limit, self.page_cap)]
        return 200, {"metadata": {"resultset": {"offset": offset, "count": len(rows), "limit": limit}},
                     "results": page}, {}

    def _handler(self) -> type[JsonHandler]:
        fake = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, doc, extra = fake.answer(parts.path, parse_qs(parts.query), headers)
                if isinstance(doc, HostileBody):
                    doc.write_to(self, status)
                    return
                body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(body)))
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    return

        return Handler
