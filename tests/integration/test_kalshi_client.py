"""Kalshi REST client and venue against the loopback fake exchange (api-and-security §3, §4; ADR 0230/0231).

Keys are generated per test module; every request goes to 127.0.0.1; every test is bounded.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from paulp.adapters.evidence_store import EvidenceStore, StoredBlob
from paulp.adapters.kalshi.client import KalshiClient, KalshiClientConfig
from paulp.adapters.kalshi.client_errors import (
    EvidenceWriteFailed,
    KalshiError,
    VenueAuthFailed,
    VenueNotFound,
    VenueOutcomeUnknown,
    VenueRateLimited,
    VenueUnavailable,
    retry_after_seconds,
)
from paulp.adapters.kalshi.rate_limit import RateTier, TokenBucket, request_kind
from paulp.adapters.kalshi.signing import HEADER_SIGNATURE, KalshiCredentials, KalshiCredentialsError
from paulp.adapters.kalshi.venue import KalshiVenue, VenueOrderStatus
from paulp.domain.execution_orders import VenueOrder
from tests.fakes.kalshi_exchange import FakeKalshiExchange, Fault

pytestmark = pytest.mark.timeout(10)
KEY_ID = str(uuid.uuid4())
T = TypeVar("T")


def run(coro: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout=8)

    return asyncio.run(bounded())


@pytest.fixture
def fake(key: rsa.RSAPrivateKey) -> Iterator[FakeKalshiExchange]:
    with FakeKalshiExchange(key.public_key(), KEY_ID) as exchange:
        yield exchange


@pytest.fixture
def store(tmp_path: Path) -> EvidenceStore:
    return EvidenceStore(tmp_path / "evidence")


def make_client(fake: FakeKalshiExchange, store: EvidenceStore, key: rsa.RSAPrivateKey | None, *,
                sleeps: list[float] | None = None, jitter: float = 1.0, **config: Any) -> KalshiClient:
    settings: dict[str, Any] = {"base_url": fake.base_url, "timeout_s": 2.0, "backoff_base_s": 0.01,
                                "backoff_cap_s": 0.05}
    settings.update(config)

    async def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)
        await asyncio.sleep(seconds)

    creds = KalshiCredentials(KEY_ID, key) if key is not None else None
    return KalshiClient(store, config=KalshiClientConfig(**settings), credentials=creds, sleep=sleep,
                        jitter=lambda: jitter)


def with_client(fake: FakeKalshiExchange, store: EvidenceStore, key: rsa.RSAPrivateKey | None,
                body: Callable[[KalshiClient], Awaitable[T]], **kw: Any) -> T:
    async def go() -> T:
        async with make_client(fake, store, key, **kw) as client:
            return await body(client)

    return run(go())


def tradable(fake: FakeKalshiExchange) -> dict[str, Any]:
    """A recorded market with a real bid and ask on the YES side."""
    return next(m for m in fake.markets.values() if 2 <= m["yes_ask"] <= 99 and m["yes_bid"] >= 1)


def order(market: dict[str, Any], price: int, client_order_id: str | None = None) -> VenueOrder:
    return VenueOrder(ticker=market["ticker"], client_order_id=client_order_id or str(uuid.uuid4()), side="yes",
                      action="buy", count=3, type="limit", yes_price=price, no_price=None)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- signing, verified by the fake ------------------------------------------------------------------------------


def test_get_with_query_when_signed_then_fake_verifies_path_without_query(fake, store, key) -> None:
    # Act
    resp = with_client(fake, store, key, lambda c: c.get_orders(limit=5, status="resting"))
    # Assert
    (seen,) = fake.requests
    assert (seen.path, seen.query, seen.status, seen.verified) == (
        "/trade-api/v2/portfolio/orders", "status=resting&limit=5", 200, True)
    assert resp.data == {"orders": [], "cursor": ""}


def test_post_with_body_when_signed_then_fake_verifies_and_holds_the_order(fake, store, key) -> None:
    market = tradable(fake)
    result = with_client(fake, store, key, lambda c: KalshiVenue(c).submit_order(order(market, 1, "coid-post")))
    (seen,) = fake.requests
    assert (seen.method, seen.status, seen.verified) == ("POST", 201, True)
    assert json.loads(seen.body)["client_order_id"] == "coid-post"
    assert result.order.client_order_id == "coid-post" and not result.duplicate
    assert [o["client_order_id"] for o in fake.orders] == ["coid-post"]


def test_delete_when_signed_then_fake_verifies_and_cancels(fake, store, key) -> None:
    market = tradable(fake)

    async def body(client: KalshiClient) -> Any:
        venue = KalshiVenue(client)
        placed = await venue.submit_order(order(market, market["yes_ask"] - 1))
        return await venue.cancel_order(placed.order.order_id)

    cancelled = with_client(fake, store, key, body)
    delete = fake.requests[-1]
    assert (delete.method, delete.status, delete.verified) == ("DELETE", 200, True)
    assert cancelled.value.status is VenueOrderStatus.CANCELLED


def test_public_get_when_no_credentials_then_sent_unsigned(fake, store) -> None:
    market = tradable(fake)
    result = with_client(fake, store, None, lambda c: KalshiVenue(c).get_market(market["ticker"]))
    (seen,) = fake.requests
    assert HEADER_SIGNATURE.lower() not in seen.headers and seen.status == 200
    assert (result.value.yes_bid, result.value.yes_ask) == (market["yes_bid"], market["yes_ask"])


@pytest.mark.parametrize("env, names", [
    ({}, "KALSHI_API_KEY"),
    ({"KALSHI_API_KEY": KEY_ID}, "KALSHI_PRIVATE_KEY"),
    ({"KALSHI_API_KEY": KEY_ID, "KALSHI_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\nnope\n"}, "KALSHI_PRIVATE_KEY"),
    ({"KALSHI_API_KEY": "not-a-uuid", "KALSHI_PRIVATE_KEY": "x"}, "KALSHI_API_KEY"),
])
def test_private_call_when_credentials_missing_or_invalid_then_nothing_is_sent(fake, store, env, names) -> None:
    async def body() -> None:
        config = KalshiClientConfig(base_url=fake.base_url)
        async with KalshiClient.from_env(env, store, config=config) as client:
            await client.get_balance()

    with pytest.raises(KalshiCredentialsError) as err:
        run(body())
    assert names in str(err.value) and err.value.code == "venue_credentials_invalid"
    assert fake.requests == []


def test_private_call_when_key_unknown_to_venue_then_auth_failed_once_and_evidenced(fake, store) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(VenueAuthFailed) as err:
        with_client(fake, store, stranger, lambda c: c.get_balance())
    (seen,) = fake.requests  # 401 is never retried
    assert err.value.code == "venue_auth_failed" and err.value.status == 401
    assert err.value.evidence_hash == sha(seen.response_body)
    assert store.get(err.value.evidence_hash) == seen.response_body


# -- 429 / 5xx / timeouts on reads ------------------------------------------------------------------------------


def test_get_when_429_with_retry_after_then_waits_at_least_that_long(fake, store, key) -> None:
    fake.inject(Fault(429, retry_after="0.3", times=2, path_contains="/portfolio/balance"))
    resp = with_client(fake, store, key, lambda c: c.get_balance(), jitter=0.0)
    times = [r.at for r in fake.requests]
    assert [r.status for r in fake.requests] == [429, 429, 200] and resp.attempts == 3
    assert all(b - a >= 0.28 for a, b in itertools.pairwise(times))


def test_get_when_429_persists_then_rate_limited_after_three_retries(fake, store, key) -> None:
    fake.inject(Fault(429, retry_after="0", times=10))
    with pytest.raises(VenueRateLimited) as err:
        with_client(fake, store, key, lambda c: c.get_balance())
    assert len(fake.requests) == 4 and err.value.code == "venue_rate_limited"
    assert store.exists(err.value.evidence_hash)


def test_get_when_retry_after_longer_than_allowed_then_gives_up_at_once(fake, store, key) -> None:
    fake.inject(Fault(429, retry_after="120", times=10))
    with pytest.raises(VenueRateLimited) as err:
        with_client(fake, store, key, lambda c: c.get_balance())
    assert len(fake.requests) == 1 and err.value.retry_after_s == 120


def test_get_when_5xx_twice_then_retried_with_exponential_backoff(fake, store, key) -> None:
    fake.inject(Fault(503, times=2))
    sleeps: list[float] = []
    resp = with_client(fake, store, key, lambda c: c.get_balance(), sleeps=sleeps, jitter=1.0)
    assert [r.status for r in fake.requests] == [503, 503, 200]
    assert sleeps == pytest.approx([0.01, 0.02])
    assert resp.data["balance"] == fake.balance_cents


def test_get_when_5xx_persists_then_unavailable_after_four_attempts(fake, store, key) -> None:
    fake.inject(Fault(502, times=10))
    with pytest.raises(VenueUnavailable) as err:
        with_client(fake, store, key, lambda c: c.get_positions())
    assert len(fake.requests) == 4 and err.value.code == "venue_unavailable" and err.value.status == 502


def test_get_when_first_attempt_times_out_then_retried(fake, store, key) -> None:
    fake.inject(Fault(None, delay_s=1.5))
    resp = with_client(fake, store, key, lambda c: c.get_balance(), timeout_s=0.75)
    assert len(fake.requests) == 2 and resp.status == 200


# -- ambiguous order outcomes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", [
    Fault(500, process=True, method="POST"),
    Fault(None, delay_s=1.5, process=True, method="POST"),
    Fault(503, delay_s=0.0, process=True, method="POST"),
], ids=["accepted-then-500", "accepted-then-timeout", "accepted-then-503"])
def test_order_post_when_outcome_ambiguous_then_unknown_and_resolved_without_second_order(
        fake, store, key, fault) -> None:
    market = tradable(fake)
    fake.inject(fault)
    venue_order = order(market, 1, "coid-ambiguous")

    async def body(client: KalshiClient) -> Any:
        venue = KalshiVenue(client)
        with pytest.raises(VenueOutcomeUnknown) as err:
            await venue.submit_order(venue_order)
        found = await venue.get_order_by_client_order_id("coid-ambiguous", ticker=market["ticker"])
        again = await venue.submit_order(venue_order)  # a later retry reuses the id: the venue de-duplicates
        return err.value, found, again

    error, found, again = with_client(fake, store, key, body, timeout_s=0.75)
    assert error.code == "venue_outcome_unknown"
    assert [r.method for r in fake.requests].count("POST") == 2  # the original and the explicit retry, no blind one
    assert found.value is not None and found.value.client_order_id == "coid-ambiguous"
    assert again.duplicate and again.order.order_id == found.value.order_id
    assert len(fake.orders) == 1


def test_order_post_when_500_before_acceptance_then_lookup_finds_none_and_resubmit_places_one(fake, store, key) -> None:
    market = tradable(fake)
    fake.inject(Fault(500, method="POST"))
    venue_order = order(market, 1, "coid-lost")

    async def body(client: KalshiClient) -> Any:
        venue = KalshiVenue(client)
        with pytest.raises(VenueOutcomeUnknown):
            await venue.submit_order(venue_order)
        missing = await venue.get_order_by_client_order_id("coid-lost")
        return missing, await venue.submit_order(venue_order)

    missing, placed = with_client(fake, store, key, body)
    assert missing.value is None and missing.evidence_hashes
    assert not placed.duplicate and len(fake.orders) == 1


def test_order_post_when_429_then_not_retried_and_nothing_placed(fake, store, key) -> None:
    fake.inject(Fault(429, retry_after="0", method="POST"))
    with pytest.raises(VenueRateLimited):
        with_client(fake, store, key, lambda c: KalshiVenue(c).submit_order(order(tradable(fake), 1)))
    assert [r.method for r in fake.requests] == ["POST"] and fake.orders == []


def test_cancel_when_venue_cancels_then_500_then_unknown_and_order_query_resolves(fake, store, key) -> None:
    market = tradable(fake)

    async def body(client: KalshiClient) -> Any:
        venue = KalshiVenue(client)
        placed = await venue.submit_order(order(market, 1))
        fake.inject(Fault(500, process=True, method="DELETE"))
        with pytest.raises(VenueOutcomeUnknown):
            await venue.cancel_order(placed.order.order_id)
        return await venue.get_order(placed.order.order_id)

    assert with_client(fake, store, key, body).value.status is VenueOrderStatus.CANCELLED
    assert [r.method for r in fake.requests].count("DELETE") == 1


# -- pacing -----------------------------------------------------------------------------------------------------


def test_token_bucket_when_many_concurrent_reads_then_rate_bounded_at_the_fake(fake, store) -> None:
    rate, burst, n = 10.0, 2.0, 12
    ticker = tradable(fake)["ticker"]

    async def body(client: KalshiClient) -> None:
        await asyncio.gather(*(client.get_market(ticker) for _ in range(n)))

    with_client(fake, store, None, body, tier=RateTier("test", rate, 5), burst_seconds=burst / rate)
    times = sorted(r.at for r in fake.requests)
    assert len(times) == n
    for i in range(n):
        for j in range(i + 1, n):
            assert j - i + 1 <= burst + rate * (times[j] - times[i]) + 1, (i, j, times[j] - times[i])
    assert times[-1] - times[0] >= (n - burst) / rate - 0.1


def test_token_bucket_when_clock_advances_then_tokens_refill_up_to_burst() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(4, 2, clock=lambda: now[0], sleep=sleep)

    async def take(k: int) -> None:
        for _ in range(k):
            await bucket.acquire()

    run(take(4))
    assert slept == pytest.approx([0.25, 0.25])  # two banked, then one every 1/rate
    now[0] += 10
    run(take(2))
    assert len(slept) == 2  # the bank refilled, but never past the burst


def test_request_kind_when_order_write_then_write_else_read() -> None:
    assert request_kind("POST", "/trade-api/v2/portfolio/orders") == "write"
    assert request_kind("DELETE", "/trade-api/v2/portfolio/orders/abc") == "write"
    assert request_kind("GET", "/trade-api/v2/portfolio/orders") == "read"


# -- evidence first -----------------------------------------------------------------------------------------------


def test_success_body_when_received_then_stored_before_use_under_its_hash(fake, store, key) -> None:
    ticker = tradable(fake)["ticker"]
    resp = with_client(fake, store, key, lambda c: c.get_orderbook(ticker, depth=2))
    (seen,) = fake.requests
    assert resp.evidence_hash == sha(seen.response_body) and store.get(resp.evidence_hash) == seen.response_body
    assert resp.fetch.response_status == 200 and resp.fetch.source == "kalshi_trade_api"
    assert resp.fetch.endpoint == f"/trade-api/v2/markets/{ticker}/orderbook?depth=2"


def test_error_body_when_received_then_stored_and_hash_carried_by_error(fake, store, key) -> None:
    with pytest.raises(VenueNotFound) as err:
        with_client(fake, store, key, lambda c: c.get_market("NO-SUCH-MARKET"))
    (seen,) = fake.requests
    assert err.value.evidence_hash == sha(seen.response_body)
    assert store.get(err.value.evidence_hash) == seen.response_body
    assert err.value.fetch is not None and err.value.fetch.response_status == 404
    assert err.value.venue_code == "market_not_found" and "NO-SUCH" not in str(err.value.evidence_hash)


class BrokenStore(EvidenceStore):
    def put(self, body: bytes) -> StoredBlob:
        raise OSError("disk full")


def test_read_when_evidence_cannot_be_stored_then_fetch_fails(fake, tmp_path, key) -> None:
    with pytest.raises(EvidenceWriteFailed):
        with_client(fake, BrokenStore(tmp_path), key, lambda c: c.get_balance())


def test_order_when_evidence_cannot_be_stored_then_outcome_unknown(fake, tmp_path, key) -> None:
    with pytest.raises(VenueOutcomeUnknown):
        with_client(fake, BrokenStore(tmp_path), key, lambda c: KalshiVenue(c).submit_order(order(tradable(fake), 1)))
    assert len(fake.orders) == 1  # the venue acted; only the caller's knowledge is missing


# -- recorded market data through the venue ------------------------------------------------------------------------


def test_recorded_market_when_queried_then_book_candles_and_positions_are_consistent(fake, store, key) -> None:
    market = tradable(fake)
    ticker, series = market["ticker"], market["series_ticker"]
    recorded = fake.candles[ticker]

    async def body(client: KalshiClient) -> Any:
        venue = KalshiVenue(client)
        book = await venue.get_orderbook(ticker)
        candles = await client.get_candlesticks(series, ticker, period_interval=60, start_ts=0,
                                                end_ts=recorded[-1]["end_period_ts"])
        await venue.submit_order(order(market, market["yes_ask"]))  # marketable: fills at once
        return book, candles, await venue.list_positions()

    book, candles, positions = with_client(fake, store, key, body)
    assert (book.value.best_yes_bid, book.value.best_yes_ask) == (market["yes_bid"], market["yes_ask"])
    assert candles.data["candlesticks"] == recorded
    assert [(p.ticker, p.yes_contracts) for p in positions.value] == [(ticker, 3)]


def test_base_url_when_plain_http_to_remote_host_then_refused(store) -> None:
    with pytest.raises(KalshiError) as err:
        KalshiClient(store, config=KalshiClientConfig(base_url="http://api.example.com/trade-api/v2"))
    assert err.value.code == "venue_config_invalid"


@pytest.mark.parametrize("value, expected", [
    ("2", 2.0), ("0.5", 0.5), ("-3", 0.0), ("soon", None), (None, None),
    ("Wed, 25 Nov 2026 12:00:10 GMT", 10.0),
])
def test_retry_after_when_seconds_or_http_date_then_delay_in_seconds(value, expected) -> None:
    now_ms = 1_795_608_000_000  # 2026-11-25T12:00:00Z
    assert retry_after_seconds(value, now_ms) == expected
