"""Station history for the weather model (trading §6.2; ADR 0278): whole-year GHCND blocks, read once.

A scan asks for every station's last 30 complete years of daily highs, one request per station-year
(≤ 366 rows: one page). Markets sharing a station share the blocks within a scan, and a block whose year
is settled (`YearBlock.is_final`) is read back from the evidence store on later scans instead of being
fetched again: the stored body is the evidence, so reuse keeps the evidence-first rule and the 1000
requests/day CDO quota (a cold start for all ten stations is 300 requests; a warm scan is none).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from paulp.adapters.evidence_store import EvidenceFetch, EvidenceStore, record_fetch
from paulp.adapters.kalshi.client_errors import json_object
from paulp.adapters.noaa.client import EVIDENCE_SOURCE, NoaaCdoClient
from paulp.adapters.noaa.errors import NoaaResponseInvalid
from paulp.domain.evidence import redact_params
from paulp.domain.strategies.noaa import (
    DAILY_HIGH,
    DATASET,
    PAGE_LIMIT,
    MalformedNoaaPayload,
    YearBlock,
    daily_highs_f,
    year_blocks,
)

MAX_PAGES = 10  # one page is what a year block needs; ten means a resultset we do not understand
Connect = Callable[[], AbstractContextManager[Connection[Any]]]
Point = tuple[date, float]

_LATEST_OK = """
SELECT evidence_hash FROM evidence_fetches
WHERE source = %s AND endpoint = %s AND request_params = %s AND response_status = 200 AND fetched_at >= %s
ORDER BY fetched_at DESC, id DESC LIMIT 1
"""


def recorder(connect: Connect) -> Callable[[EvidenceFetch], None]:
    """Index each fetch (with its status) on its own short transaction, as soon as its body is stored."""
    def record(fetch: EvidenceFetch) -> None:
        with connect() as conn:
            record_fetch(conn, fetch)
    return record


class StoredPages:
    """Bodies CDO already gave us, found through the evidence index and re-verified by hash on read."""

    def __init__(self, connect: Connect, store: EvidenceStore) -> None:
        self._connect, self._store = connect, store

    def latest(self, endpoint: str, params: Mapping[str, Any], since: datetime) -> dict[str, Any] | None:
        with self._connect() as conn:
            row = conn.execute(_LATEST_OK, (EVIDENCE_SOURCE, endpoint, Jsonb(redact_params(params)),
                                            since)).fetchone()
        if row is None:
            return None
        try:
            return json_object(self._store.get(str(row[0])))
        except (LookupError, ValueError):  # missing or corrupted blob: fetch again rather than trust it
            return None


class StationHistory:
    """Daily highs (°F) per station over the last ``lookback_years`` complete years, for one scan."""

    def __init__(self, client: NoaaCdoClient, stored: StoredPages | None, now: datetime,
                 lookback_years: int = 30) -> None:
        self.client, self.stored, self.now, self.lookback_years = client, stored, now, lookback_years
        self._memo: dict[YearBlock, list[Point]] = {}
        self.reused_pages = 0

    def highs(self, station: str) -> list[Point]:
        """Every block's points, newest first (the forecast's trend term reads the first point, §6.2)."""
        points: list[Point] = []
        for block in year_blocks([station], self.now.date(), self.lookback_years):
            if block not in self._memo:
                self._memo[block] = self._read(block)
            points.extend(self._memo[block])
        return sorted(points, key=lambda p: p[0], reverse=True)

    def _read(self, block: YearBlock) -> list[Point]:
        params = {"datasetid": DATASET, "stationid": block.station, "datatypeid": DAILY_HIGH,
                  "startdate": block.start.isoformat(), "enddate": block.end.isoformat()}  # no units: raw tenths
        since = block.reusable_since(self.now)
        points: list[Point] = []
        offset = 1
        for _ in range(MAX_PAGES):
            query = {**params, "limit": PAGE_LIMIT, "offset": offset}
            data, evidence = self._page(query, since)
            try:
                points.extend(daily_highs_f(data))
            except MalformedNoaaPayload as exc:
                raise NoaaResponseInvalid(f"GET /data {block.station} {block.year}: {exc}",
                                          evidence_hash=evidence) from exc
            rows, meta = data.get("results"), data.get("metadata")
            resultset = meta.get("resultset") if isinstance(meta, dict) else None
            count = resultset.get("count") if isinstance(resultset, dict) else None
            offset += len(rows) if isinstance(rows, list) else 0  # CDO may send fewer rows than asked
            if not rows or not isinstance(count, int) or offset > count:
                return points
        raise NoaaResponseInvalid(f"GET /data {block.station} {block.year}: more than {MAX_PAGES} pages")

    def _page(self, query: dict[str, Any], since: datetime) -> tuple[dict[str, Any], str | None]:
        if self.stored is not None:
            reused = self.stored.latest(self.client.url_for("/data"), query, since)
            if reused is not None:
                self.reused_pages += 1
                return reused, None
        response = self.client.get("/data", query)
        return response.data, response.evidence_hash

