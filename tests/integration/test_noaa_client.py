"""NOAA CDO client and station history against the loopback fake (api-and-security §3.3, §4, §7.3; ADR 0278).

One database (the evidence index only) and one fake per module; every request goes to 127.0.0.1, back-off
sleeps are recorded and shortened, and every test is bounded.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from paulp.adapters.evidence_store import EVIDENCE_DDL, EvidenceStore
from paulp.adapters.noaa.client import NoaaCdoClient, NoaaClientConfig
from paulp.adapters.noaa.errors import (
    NoaaAuthFailed,
    NoaaNotConfigured,
    NoaaRateLimited,
    NoaaResponseInvalid,
    NoaaTimeout,
)
from paulp.adapters.noaa.history import StationHistory, StoredPages, recorder
from paulp.adapters.services import Services
from paulp.domain.evidence import sha256_hex
from paulp.domain.strategies.noaa import station_for
from tests.conftest import create_database, drop_database_later
from tests.fakes.noaa_cdo import FakeNoaaCdo, NoaaFault
from tests.integration.helpers import NOAA_TOKEN as TOKEN

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
NYC = station_for("NYC")
YEAR = {"datasetid": "GHCND", "stationid": NYC, "datatypeid": "TMAX", "startdate": "2025-01-01",
        "enddate": "2025-12-31"}


@pytest.fixture(scope="module")
def db(services: Services, run_id: str) -> Iterator[str]:
    name = f"paulp_{run_id}_noaa_{secrets.token_hex(3)}"
    url = create_database(services.database_url, name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(EVIDENCE_DDL)
    yield url
    drop_database_later(services.database_url, name)


@pytest.fixture
def fake(noaa: FakeNoaaCdo) -> FakeNoaaCdo:
    return noaa


@pytest.fixture
def store(tmp_path: Path) -> EvidenceStore:
    return EvidenceStore(tmp_path / "evidence")


def connect(db: str) -> Any:
    return lambda: psycopg.connect(db, autocommit=True)


def client(fake: FakeNoaaCdo, store: EvidenceStore, db: str, token: str | None = TOKEN, *,
           sleeps: list[float] | None = None, now: datetime = NOW, **config: Any) -> NoaaCdoClient:
    settings: dict[str, Any] = {"base_url": fake.base_url, "timeout_s": 2.0, "backoff_base_s": 0.01,
                                "backoff_cap_s": 0.05, "requests_per_s": 1000.0, "contact": "ops@example.org"}
    settings.update(config)

    def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    return NoaaCdoClient(store, token, config=NoaaClientConfig(**settings), record=recorder(connect(db)),
                         now=lambda: now, sleep=sleep, jitter=lambda: 1.0)


def fetches(db: str, since_id: int = 0) -> list[tuple[Any, ...]]:
    with psycopg.connect(db) as conn:
        return conn.execute("SELECT id, evidence_hash, endpoint, request_params, response_status FROM"
                            " evidence_fetches WHERE id > %s ORDER BY id", (since_id,)).fetchall()


def last_fetch_id(db: str) -> int:
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM evidence_fetches").fetchone()
    return int(row[0]) if row else 0


# -- transport -------------------------------------------------------------------------------------------------


def test_get_when_token_set_then_sent_as_header_and_evidence_indexed_before_use(fake, store, db) -> None:
    mark = last_fetch_id(db)
    with client(fake, store, db) as c:
        resp = c.get("/data", {**YEAR, "limit": 1000, "offset": 1})
    (seen,) = fake.requests
    assert seen.headers["token"] == TOKEN and seen.status == 200
    assert seen.headers["user-agent"] == "Paul-P/1.0 (NOAA CDO client; contact: ops@example.org)"
    assert "units" not in seen.query  # raw tenths of °C: the value / 10 rule holds (ADR 0278)
    assert len(resp.data["results"]) == 365 and resp.attempts == 1
    [(_, digest, endpoint, params, status)] = fetches(db, mark)
    assert (digest, status) == (resp.evidence_hash, 200)
    assert endpoint == fake.base_url + "/data" and params == {**YEAR, "limit": 1000, "offset": 1}
    assert sha256_hex(store.get(digest)) == digest


def test_get_when_5xx_then_429_then_ok_then_retried_with_backoff_and_retry_after_and_each_evidenced(
        fake, store, db) -> None:
    fake.inject(NoaaFault(status=503, body=b"upstream down"))
    fake.inject(NoaaFault(status=429, retry_after="0.3"))
    mark, sleeps = last_fetch_id(db), []
    with client(fake, store, db, sleeps=sleeps) as c:
        resp = c.get("/data", {**YEAR, "limit": 1000, "offset": 1})
    assert resp.attempts == 3 and [r.status for r in fake.requests] == [503, 429, 200]
    assert sleeps == [0.01, 0.3]  # full back-off (jitter 1.0) then at least Retry-After
    rows = fetches(db, mark)
    assert [r[4] for r in rows] == [503, 429, 200]
    assert store.get(rows[0][1]) == b"upstream down"  # the error body itself is evidence


def test_get_when_429_persists_then_three_retries_and_rate_limited(fake, store, db) -> None:
    fake.inject(NoaaFault(status=429, retry_after="0", times=4))
    with client(fake, store, db) as c, pytest.raises(NoaaRateLimited) as err:
        c.get("/data", {**YEAR, "limit": 1000, "offset": 1})
    assert len(fake.requests) == 4 and err.value.status == 429 and err.value.evidence_hash


def test_get_when_retry_after_longer_than_allowed_then_gives_up_at_once(fake, store, db) -> None:
    fake.inject(NoaaFault(status=429, retry_after="120"))
    with client(fake, store, db) as c, pytest.raises(NoaaRateLimited) as err:
        c.get("/data", {**YEAR, "limit": 1000, "offset": 1})
    assert len(fake.requests) == 1 and err.value.retry_after_s == 120


def test_get_when_token_wrong_then_401_not_retried_and_error_evidenced(fake, store, db) -> None:
    mark = last_fetch_id(db)
    with client(fake, store, db, token="not-the-token") as c, pytest.raises(NoaaAuthFailed) as err:
        c.get("/data", {**YEAR, "limit": 1000, "offset": 1})
    assert err.value.code == "noaa_auth_failed" and err.value.status == 401
    assert [r.status for r in fake.requests] == [401]
    [(_, digest, _, _, status)] = fetches(db, mark)
    assert status == 401 and digest == err.value.evidence_hash and b"Token" in store.get(digest)


@pytest.mark.parametrize("token", [None, "", "   "])
def test_get_when_token_missing_or_blank_then_not_configured_and_nothing_sent(fake, store, db, token) -> None:
    mark = last_fetch_id(db)
    with client(fake, store, db, token=token) as c, pytest.raises(NoaaNotConfigured) as err:
        c.get("/data", YEAR)
    assert "NOAA_CDO_TOKEN" in str(err.value) and err.value.code == "noaa_not_configured"
    assert fake.requests == [] and fetches(db, mark) == []


def test_get_when_answer_slower_than_timeout_then_retried_and_then_ok(fake, store, db) -> None:
    fake.inject(NoaaFault(status=None, delay_s=0.5))
    with client(fake, store, db, timeout_s=0.2) as c:
        resp = c.get("/data", {**YEAR, "limit": 1000, "offset": 1})
    assert resp.attempts == 2 and len(fake.requests) == 2


def test_get_when_every_attempt_times_out_then_noaa_timeout(fake, store, db) -> None:
    fake.inject(NoaaFault(status=None, delay_s=0.3, times=2))
    with client(fake, store, db, timeout_s=0.1, max_retries=1) as c, pytest.raises(NoaaTimeout):
        c.get("/data", YEAR)
    assert len(fake.requests) == 2


def test_get_when_2xx_body_is_not_json_then_invalid_but_stored(fake, store, db) -> None:
    fake.inject(NoaaFault(status=None, body=b"<html>maintenance</html>"))
    with client(fake, store, db) as c, pytest.raises(NoaaResponseInvalid) as err:
        c.get("/data", YEAR)
    assert err.value.evidence_hash == sha256_hex(b"<html>maintenance</html>")
    assert store.get(err.value.evidence_hash) == b"<html>maintenance</html>"


@pytest.mark.parametrize("url", ["http://www.ncdc.noaa.gov/cdo-web/api/v2", "ftp://127.0.0.1/x", "nonsense"])
def test_client_when_base_url_plain_http_off_loopback_then_not_configured(store, url) -> None:
    with pytest.raises(NoaaNotConfigured):
        NoaaCdoClient(store, TOKEN, config=NoaaClientConfig(base_url=url))


def test_evidence_when_anything_fetched_then_token_never_in_the_index(fake, store, db) -> None:
    fake.inject(NoaaFault(status=500))
    with client(fake, store, db) as c:
        c.get("/data", {**YEAR, "limit": 1000, "offset": 1})
    with psycopg.connect(db) as conn:
        dumped = json.dumps([conn.execute(f"SELECT * FROM {t}").fetchall()
                             for t in ("evidence_fetches", "evidence_blobs")], default=str)
    assert TOKEN not in dumped and "noaa_cdo" in dumped


# -- station history ---------------------------------------------------------------------------------------------


def history(c: NoaaCdoClient, store: EvidenceStore, db: str, now: datetime = NOW) -> StationHistory:
    return StationHistory(c, StoredPages(connect(db), store), now)


def test_highs_when_read_then_one_request_per_complete_year_newest_first_in_fahrenheit(fake, store, db) -> None:
    with client(fake, store, db) as c:
        points = history(c, store, db).highs(NYC)
        again = history(c, store, db).highs(NYC)
    years = sorted({int(r.query["startdate"][0][:4]) for r in fake.data_requests()})
    assert years == list(range(1996, 2026)) and len(fake.data_requests()) == 30  # 2026 is incomplete
    assert all(r.query["enddate"][0][5:] == "12-31" for r in fake.data_requests())
    assert points[0][0] == date(2025, 12, 31) and points[-1][0] == date(1996, 1, 1)
    raw = fake.values(NYC.removeprefix("GHCND:"), "TMAX", date(2025, 12, 31))
    assert raw is not None and points[0][1] == pytest.approx(raw / 10 * 9 / 5 + 32)
    assert again == points and len(fake.data_requests()) == 30  # settled years: read back from evidence


def test_highs_when_year_not_settled_then_reused_within_a_day_and_fetched_again_after(fake, store, db) -> None:
    january = datetime(2026, 1, 20, 12, tzinfo=UTC)  # 2025 ended 20 days ago: NOAA may still add to it
    with client(fake, store, db, now=january) as c:
        history(c, store, db, january).highs(station_for("SEA"))
    with client(fake, store, db, now=january + timedelta(hours=23)) as c:
        history(c, store, db, january + timedelta(hours=23)).highs(station_for("SEA"))
    assert len(fake.data_requests()) == 30
    with client(fake, store, db, now=january + timedelta(hours=25)) as c:
        history(c, store, db, january + timedelta(hours=25)).highs(station_for("SEA"))
    assert [r.query["startdate"][0] for r in fake.data_requests()[30:]] == ["2025-01-01"]


def test_highs_when_cdo_pages_short_then_offsets_follow_the_rows_received(fake, store, db) -> None:
    fake.page_cap = 150
    with client(fake, store, db) as c:
        h = StationHistory(c, None, NOW, lookback_years=1)
        points = h.highs(station_for("ATL"))
    assert [r.query["offset"][0] for r in fake.data_requests()] == ["1", "151", "301"]
    assert len(points) == 365 and len(set(points)) == 365


def test_highs_when_a_page_is_malformed_then_response_invalid_with_its_evidence(fake, store, db) -> None:
    body = b'{"results": [{"date": "2025-01-01", "datatype": "TMAX"}]}'
    fake.inject(NoaaFault(status=None, body=body))
    with client(fake, store, db) as c, pytest.raises(NoaaResponseInvalid) as err:
        StationHistory(c, None, NOW).highs(station_for("PHX"))
    assert err.value.evidence_hash == sha256_hex(body)
