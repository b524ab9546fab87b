"""The NOAA CDO client against answers that drip, flood or over-declare their length (ADR 0513).

Before ADR 0513 a dripped ``/data`` page held the scan for the whole drip (3 s against a 1 s timeout) and was
accepted, and a 100 MB page was read whole and stored as a 100 MB evidence blob.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paulp.adapters.config import Settings
from paulp.adapters.evidence_store import EvidenceFetch, EvidenceStore
from paulp.adapters.noaa.client import NoaaCdoClient, NoaaClientConfig
from paulp.adapters.noaa.errors import NoaaError, NoaaResponseTooLarge, NoaaTimeout, NoaaUnavailable
from tests.fakes.hostile import MB, declared, drip, flood
from tests.fakes.noaa_cdo import FakeNoaaCdo, NoaaFault

pytestmark = pytest.mark.timeout(15)
TOKEN = "noaa-bounds-token"
DEADLINE_S = 0.4
SLACK_S = 1.5  # room for a loaded CI host; still far below the 3 s an unbounded client waits a drip out
CAP = 64 * 1024
# The flood tests are about the cap: a deadline far beyond the time 64 KiB takes, so only the cap can cut them (with
# the 0.4 s one a loaded CI run once saw the deadline come first; the fake's own thread sends the flood).
FLOOD_DEADLINE_S = 10.0
YEAR = {"datasetid": "GHCND", "stationid": "GHCND:USW00094728", "datatypeid": "TMAX", "startdate": "2025-01-01",
        "enddate": "2025-12-31", "limit": 1000}


@pytest.fixture(scope="module")
def cdo() -> Iterator[FakeNoaaCdo]:
    with FakeNoaaCdo(TOKEN) as fake:
        yield fake


@pytest.fixture
def fake(cdo: FakeNoaaCdo) -> FakeNoaaCdo:
    cdo.reset()
    return cdo


def fetch_year(fake: FakeNoaaCdo, store: EvidenceStore, fetches: list[EvidenceFetch],
               **config: Any) -> tuple[Any, float]:
    settings: dict[str, Any] = {"base_url": fake.base_url, "timeout_s": DEADLINE_S, "max_response_bytes": CAP,
                                "max_retries": 0, "requests_per_s": 1000.0}
    settings.update(config)
    client = NoaaCdoClient(store, TOKEN, config=NoaaClientConfig(**settings), record=fetches.append,
                           sleep=lambda s: time.sleep(min(s, 0.01)))
    started = time.monotonic()
    try:
        outcome: Any = client.get("/data", YEAR)
    except NoaaError as exc:
        outcome = exc
    finally:
        client.close()
    return outcome, time.monotonic() - started


def marker(fetch: EvidenceFetch) -> str | None:
    return (fetch.request_params or {}).get("responseCutOff")


def test_page_when_it_drips_past_the_deadline_then_timeout_at_the_deadline_retried_and_evidenced(
        fake, tmp_path: Path) -> None:
    fake.inject(NoaaFault(status=200, hostile=drip(every_s=0.05, for_s=3.0), times=2))
    store, fetches = EvidenceStore(tmp_path), []
    error, took = fetch_year(fake, store, fetches, max_retries=1)
    assert isinstance(error, NoaaTimeout) and error.code == "noaa_timeout" and "0.4 s deadline" in str(error)
    assert 2 * DEADLINE_S <= took < 2 * DEADLINE_S + SLACK_S  # each attempt cut at the deadline, not after the drip
    assert len(fake.data_requests()) == 2 and [marker(f) for f in fetches] == ["deadline", "deadline"]
    assert store.get(fetches[0].evidence_hash).startswith(b'{"dripped":')


def test_page_when_it_floods_then_refused_at_the_cap_not_retried_and_first_cap_bytes_evidenced(
        fake, tmp_path: Path) -> None:
    fake.inject(NoaaFault(status=200, hostile=flood(200 * MB), times=2))
    store, fetches = EvidenceStore(tmp_path), []
    error, took = fetch_year(fake, store, fetches, max_retries=1, timeout_s=FLOOD_DEADLINE_S)
    assert isinstance(error, NoaaResponseTooLarge) and error.code == "noaa_response_too_large"
    assert took < DEADLINE_S + SLACK_S and len(fake.data_requests()) == 1
    (fetch,) = fetches
    assert (marker(fetch), fetch.size_bytes, fetch.response_status) == ("size_cap", CAP, 200)
    assert store.get(error.evidence_hash or "") == b'{"pad":"' + b"x" * (CAP - 8)
    # the marker keeps it out of StoredPages' reuse, which matches a year's params exactly
    assert {k: v for k, v in (fetch.request_params or {}).items() if k != "responseCutOff"} == YEAR


def test_page_when_content_length_is_over_the_cap_then_refused_on_the_headers(fake, tmp_path: Path) -> None:
    fake.inject(NoaaFault(status=200, hostile=declared(50_000 * MB, for_s=3.0)))
    store, fetches = EvidenceStore(tmp_path), []
    error, took = fetch_year(fake, store, fetches)
    assert isinstance(error, NoaaResponseTooLarge) and "declared 50000000000 bytes" in str(error)
    assert took < DEADLINE_S + SLACK_S and [(marker(f), f.size_bytes) for f in fetches] == [("declared_size", 0)]


def test_page_when_a_503_floods_then_retried_as_a_503(fake, tmp_path: Path) -> None:
    fake.inject(NoaaFault(status=503, hostile=flood(200 * MB), times=2))
    store, fetches = EvidenceStore(tmp_path), []
    error, _ = fetch_year(fake, store, fetches, max_retries=1, timeout_s=FLOOD_DEADLINE_S)
    assert isinstance(error, NoaaUnavailable) and error.status == 503
    assert [(f.response_status, marker(f)) for f in fetches] == [(503, "size_cap")] * 2


def test_page_within_bounds_when_fetched_then_unchanged(fake, tmp_path: Path) -> None:
    store, fetches = EvidenceStore(tmp_path), []
    page, _ = fetch_year(fake, store, fetches)
    assert len(page.data["results"]) == 365 and marker(fetches[0]) is None


def test_settings_when_cap_set_then_read_and_a_non_positive_one_refused() -> None:
    assert Settings(ENVIRONMENT="test", NOAA_CDO_MAX_RESPONSE_BYTES=1024).NOAA_CDO_MAX_RESPONSE_BYTES == 1024
    assert Settings(ENVIRONMENT="test").NOAA_CDO_MAX_RESPONSE_BYTES == 4 * 1024 * 1024
    with pytest.raises(ValueError, match="NOAA_CDO_MAX_RESPONSE_BYTES"):
        Settings(ENVIRONMENT="test", NOAA_CDO_MAX_RESPONSE_BYTES=0)
