"""A venue or data source that echoes our credential in its answer: the evidence store keeps the answer, never the
credential (api-and-security §4.6, §8; ADR 0514).

Kalshi's key id travels in ``KALSHI-ACCESS-KEY`` and NOAA's token in the ``token`` header; neither is ever in a
request we store. An error body that quotes one (``unknown api key <id>``, ``token <t> is not valid``) was stored
byte for byte, and the stored blob outlives any rotation of the credential. The LLM clients already replaced an
echoed key before storing (ADR 0391); these two clients now do the same, and mark the fetch
``responseRedacted``. Against the loopback fakes, over real HTTP.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from paulp.adapters.evidence_store import EvidenceFetch, EvidenceStore
from paulp.adapters.kalshi.client import KalshiClient, KalshiClientConfig
from paulp.adapters.kalshi.client_errors import KalshiError, VenueAuthFailed, VenueUnavailable
from paulp.adapters.kalshi.signing import KalshiCredentials
from paulp.adapters.noaa.client import NoaaCdoClient, NoaaClientConfig
from paulp.adapters.noaa.errors import NoaaAuthFailed, NoaaError, NoaaUnavailable
from tests.fakes.kalshi_exchange import FakeKalshiExchange, Fault
from tests.fakes.noaa_cdo import FakeNoaaCdo, NoaaFault

pytestmark = [pytest.mark.integration, pytest.mark.timeout(20)]
KEY_ID = str(uuid.uuid4())
NOAA_TOKEN = "cdo-echo-token-6c1f0a9e2d"
YEAR = {"datasetid": "GHCND", "stationid": "GHCND:USW00094728", "datatypeid": "TMAX", "startdate": "2025-01-01",
        "enddate": "2025-12-31", "limit": 1000, "offset": 1}


def _blobs(store: EvidenceStore) -> list[bytes]:
    return [f.read_bytes() for f in store.root.rglob("*") if f.is_file()]


def _kalshi_call(exchange: FakeKalshiExchange, key: rsa.RSAPrivateKey, store: EvidenceStore,
                 fetches: list[EvidenceFetch]) -> KalshiError:
    async def go() -> KalshiError:
        config = KalshiClientConfig(base_url=exchange.base_url, timeout_s=2.0, backoff_base_s=0.01,
                                    backoff_cap_s=0.02, max_retries=0)
        async with KalshiClient(store, config=config, credentials=KalshiCredentials(KEY_ID, key),
                                record=fetches.append) as client:
            with pytest.raises(KalshiError) as raised:
                await client.get_balance()
        return raised.value

    return asyncio.run(asyncio.wait_for(go(), 10))


@pytest.mark.parametrize(("status", "error"), [(401, VenueAuthFailed), (500, VenueUnavailable)])
def test_kalshi_when_error_body_echoes_the_key_id_then_stored_redacted_and_marked(
        key: rsa.RSAPrivateKey, tmp_path: Path, status: int, error: type[KalshiError]) -> None:
    # Arrange: the venue quotes the key id, as sent and percent-encoded, in its error body
    store, fetches = EvidenceStore(tmp_path / "evidence"), []
    body = {"error": {"code": "authentication_error", "message": f"unknown api key {KEY_ID}",
                      "details": f"/portfolio/balance?key={quote(KEY_ID, safe='')}"}}
    with FakeKalshiExchange(key.public_key(), KEY_ID) as exchange:
        exchange.inject(Fault(status=status, body=body, path_contains="/portfolio/balance"))
        # Act
        raised = _kalshi_call(exchange, key, store, fetches)
    # Assert: the same error as before, pointing at a stored blob that holds the rest of the answer
    assert type(raised) is error and raised.status == status and raised.venue_code == "authentication_error"
    [blob] = _blobs(store)
    assert KEY_ID.encode() not in blob and b"unknown api key ***" in blob, blob
    [fetch] = fetches
    assert fetch.evidence_hash == raised.evidence_hash and fetch.request_params == {"responseRedacted": True}
    assert store.get(raised.evidence_hash) == blob  # the hash is of the bytes stored


def test_kalshi_when_answer_does_not_echo_the_key_id_then_stored_exactly(key: rsa.RSAPrivateKey,
                                                                          tmp_path: Path) -> None:
    store, fetches = EvidenceStore(tmp_path / "evidence"), []
    with FakeKalshiExchange(key.public_key(), KEY_ID) as exchange:
        exchange.inject(Fault(status=401, path_contains="/portfolio/balance"))
        raised = _kalshi_call(exchange, key, store, fetches)
        [seen] = exchange.requests
    assert _blobs(store) == [seen.response_body] and fetches[0].request_params is None
    assert isinstance(raised, VenueAuthFailed)


@pytest.mark.parametrize(("status", "error"), [(401, NoaaAuthFailed), (503, NoaaUnavailable)])
def test_noaa_when_error_body_echoes_the_token_then_stored_redacted_and_marked(
        tmp_path: Path, status: int, error: type[NoaaError]) -> None:
    # Arrange
    store, fetches = EvidenceStore(tmp_path / "evidence"), []
    echoed = json.dumps({"status": status, "message": f"Token {NOAA_TOKEN} is not valid"}).encode()
    with FakeNoaaCdo(NOAA_TOKEN) as noaa:
        noaa.inject(NoaaFault(status=status, body=echoed))
        config = NoaaClientConfig(base_url=noaa.base_url, timeout_s=2.0, max_retries=0, requests_per_s=1000.0)
        with NoaaCdoClient(store, NOAA_TOKEN, config=config, record=fetches.append,
                           sleep=lambda _s: None) as client, pytest.raises(NoaaError) as raised:
            # Act
            client.get("/data", YEAR)
    # Assert
    assert type(raised.value) is error and raised.value.status == status
    [blob] = _blobs(store)
    assert NOAA_TOKEN.encode() not in blob and b"Token *** is not valid" in blob, blob
    [fetch] = fetches
    assert fetch.evidence_hash == raised.value.evidence_hash
    assert fetch.request_params == {**YEAR, "responseRedacted": True}

