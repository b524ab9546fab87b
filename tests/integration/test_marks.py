"""Marks and unrealised PnL: a paper fill, the market read from the (fake) venue over signed HTTP, the mark
stored as an event with its evidence, and GET /admin/positions valuing the position against it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from paulp.adapters.evidence_store import EvidenceStore
from paulp.adapters.kalshi.client import KalshiClient, KalshiClientConfig
from paulp.adapters.kalshi.signing import load_credentials
from paulp.adapters.kalshi.venue import KalshiVenue
from paulp.adapters.market_data import StaticMarketData
from paulp.api.app import create_app
from paulp.api.market_jobs import open_position_tickers, refresh_marks
from paulp.domain.clock import FixedClock
from paulp.domain.evidence import sha256_hex
from paulp.domain.marks import InvalidMark, Quotes
from tests.fakes.kalshi_exchange import FakeKalshiExchange, Fault
from tests.integration.helpers import NOW, facts, make_container, signal
from tests.support.evidence_events import evidence_stored
from tests.support.seeding import catch_up

pytestmark = pytest.mark.integration
TOKEN = "test-admin-token-0123456789abcdef"
KEY_ID = str(uuid.uuid4())


class Clock:
    """Fixed time that the test moves forward."""

    def __init__(self) -> None:
        self.at = NOW

    def now(self):  # type: ignore[no-untyped-def]
        return self.at


@pytest.fixture
def setup(fresh_db, nats_url, namespace, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    clock = Clock()
    container = make_container(fresh_db, nats_url, namespace, clock=FixedClock(NOW), admin_token=TOKEN,
                               PAULP_EVIDENCE_DIR=tmp_path / "evidence")
    container.markets.clock = clock
    with FakeKalshiExchange(key.public_key(), KEY_ID) as exchange:
        ticker = min(t for t, v in exchange.markets.items() if 20 <= v["yes_bid"] < v["yes_ask"] <= 80)

        def refresh(tickers: list[str]) -> dict[str, str]:
            async def run() -> dict[str, str]:  # a client belongs to one event loop
                client = KalshiClient(EvidenceStore(tmp_path / "evidence"),
                                      config=KalshiClientConfig(base_url=exchange.base_url, timeout_s=2.0,
                                                                max_retries=0),
                                      credentials=load_credentials(KEY_ID, pem))
                try:
                    return await refresh_marks(container.markets, KalshiVenue(client), tickers)
                finally:
                    await client.aclose()

            return asyncio.run(run())

        yield container, exchange, refresh, ticker, clock
    container.close()


def _positions(container) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    r = TestClient(create_app(container)).get("/admin/positions", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200, r.text
    return r.json()["positions"]


def test_position_when_market_marked_then_valued_at_side_mid_with_evidence(setup):
    container, exchange, refresh, ticker, clock = setup
    out = container.pipeline(StaticMarketData({ticker: facts(ticker)})).process(signal("mark-1", ticker, 50, 42))
    assert out.state == "FILLED", out
    catch_up(container)
    (unmarked,) = _positions(container)
    assert unmarked["currentPriceAt"] is None  # no mark yet: valued at entry
    assert unmarked["currentPriceCents"] == unmarked["avgPriceCents"] and unmarked["unrealizedPnlUsd"] == 0

    assert open_position_tickers(container.pool) == [ticker]
    assert refresh([ticker]) == {ticker: "recorded"}
    catch_up(container)
    (pos,) = _positions(container)
    m = exchange.markets[ticker]
    mid = (m["yes_bid"] + m["yes_ask"]) / 2
    assert pos["currentPriceCents"] == mid
    assert pos["unrealizedPnlUsd"] == pytest.approx((mid - pos["avgPriceCents"]) * pos["contracts"] / 100)
    with psycopg.connect(container.database_url) as conn:
        (evidence,) = conn.execute("SELECT evidence_hash FROM views.market_marks WHERE ticker = %s",
                                   (ticker,)).fetchone()
    assert evidence and len(evidence) == 64  # the raw venue body it came from is kept

    clock.at = NOW + timedelta(minutes=1)  # same quotes a minute later: no new event
    assert refresh([ticker]) == {ticker: "unchanged"}


def test_refresh_when_venue_fails_then_last_mark_kept_and_failure_reported(setup):
    container, exchange, refresh, ticker, clock = setup
    assert refresh([ticker])[ticker] == "recorded"
    first = container.markets.mark(ticker)
    exchange.inject(Fault(status=500, method="GET", path_contains=f"/markets/{ticker}", times=10))
    clock.at = NOW + timedelta(minutes=1)
    outcome = refresh([ticker, "KX-NOT-LISTED"])
    assert outcome[ticker] != "recorded" and outcome["KX-NOT-LISTED"] != "recorded"
    assert container.markets.mark(ticker).at == first.at  # nothing invented


@pytest.mark.parametrize("quotes", [Quotes(yes_bid=101), Quotes(yes_bid=-1), Quotes(no_bid=60, no_ask=40)])
def test_observe_when_quotes_impossible_then_refused_and_nothing_stored(setup, quotes):
    container, _, _, ticker, _ = setup
    with pytest.raises(InvalidMark):
        container.markets.observe(ticker, quotes, NOW, None)
    assert container.markets.mark(ticker) is None


def test_scheduled_refresh_when_no_credentials_then_public_market_data_marks_open_positions(setup, monkeypatch,
                                                                                             tmp_path):
    from paulp.api.market_jobs import refresh_open_marks

    container, exchange, _, ticker, _ = setup
    assert asyncio.run(refresh_open_marks(container)) == {}  # no open position: no request at all
    assert exchange.requests == []
    assert container.pipeline(StaticMarketData({ticker: facts(ticker)})).process(
        signal("mark-2", ticker, 50, 42)).state == "FILLED"
    catch_up(container)
    monkeypatch.setenv("KALSHI_BASE_URL", exchange.base_url)
    monkeypatch.delenv("KALSHI_API_KEY", raising=False)
    monkeypatch.delenv("KALSHI_PRIVATE_KEY", raising=False)
    assert asyncio.run(refresh_open_marks(container)) == {ticker: "recorded"}
    assert [r.path for r in exchange.requests] == [f"/trade-api/v2/markets/{ticker}"]
    assert not exchange.requests[0].verified  # public data: nothing signed, no key needed
    assert any((tmp_path / "evidence").rglob("*"))  # the raw body was kept before it was used
    # ... its fetch indexed and chained in one transaction: an EvidenceStored event whose chain row carries the hash
    [(body, chained)] = evidence_stored(container.database_url)
    stored_hash = sha256_hex(EvidenceStore(tmp_path / "evidence").get(body["evidence_hash"]))
    assert chained == body["evidence_hash"] == stored_hash
    assert (body["source"], body["endpoint"], body["method"], body["status"]) == (
        "kalshi_trade_api", f"/trade-api/v2/markets/{ticker}", "GET", 200)


def test_dashboard_when_position_marked_then_open_positions_and_pnl_from_the_mark(setup):
    container, _, refresh, ticker, _ = setup
    assert container.pipeline(StaticMarketData({ticker: facts(ticker)})).process(
        signal("mark-3", ticker, 50, 42)).state == "FILLED"
    assert refresh([ticker]) == {ticker: "recorded"}
    catch_up(container)
    client = TestClient(create_app(container))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = client.get("/dashboard/positions/open", headers=auth).json()
    (pos,) = body["positions"]
    (admin,) = _positions(container)
    assert pos["market"] == ticker and pos["size"] == admin["contracts"] and pos["status"] == "open"
    assert pos["entry_price"] == pytest.approx(admin["avgPriceCents"] / 100)
    assert pos["current_price"] == pytest.approx(admin["currentPriceCents"] / 100)
    assert pos["unrealized_pnl"] == pytest.approx(admin["unrealizedPnlUsd"], abs=0.005)
    assert pos["unrealized_pnl_percent"] == pytest.approx(
        admin["unrealizedPnlUsd"] / (pos["entry_price"] * pos["size"]) * 100, abs=0.01)
    assert body["total_unrealized_pnl"] == pytest.approx(admin["unrealizedPnlUsd"], abs=0.005)
    summary = client.get("/dashboard/summary", headers=auth).json()
    assert summary["open_positions_count"] == 1
    assert summary["today_unrealized_pnl"] == pytest.approx(admin["unrealizedPnlUsd"], abs=0.005)


def test_position_when_market_resolves_then_realised_at_settlement_and_closed_today(setup):
    from datetime import UTC, datetime

    container, exchange, refresh, ticker, clock = setup
    assert container.pipeline(StaticMarketData({ticker: facts(ticker)})).process(
        signal("mark-4", ticker, 50, 42)).state == "FILLED"  # a YES position
    assert refresh([ticker]) == {ticker: "recorded"}
    exchange.markets[ticker].update(status="settled", result="yes")
    clock.at = datetime.now(UTC)
    assert refresh([ticker]) == {ticker: "resolved"}
    catch_up(container)
    (pos,) = _positions(container)
    assert pos["status"] == "resolved" and pos["currentPriceCents"] == 100 and pos["unrealizedPnlUsd"] == 0
    assert pos["realizedPnlUsd"] == pytest.approx((100 - pos["avgPriceCents"]) * pos["contracts"] / 100)
    assert open_position_tickers(container.pool) == []  # nothing left to mark

    client = TestClient(create_app(container))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/dashboard/positions/open", headers=auth).json()["count"] == 0
    daily = client.get("/dashboard/daily-pnl", headers=auth).json()
    assert daily["closed_positions"] == 1 and daily["wins"] == 1 and daily["open_positions"] == 0
    assert daily["realized_pnl"] == pytest.approx(pos["realizedPnlUsd"], abs=0.005)

    exchange.markets[ticker].update(result="no")  # the venue contradicts itself: refused, not overwritten
    clock.at = datetime.now(UTC)
    assert refresh([ticker]) == {ticker: "invalid_mark"}
    assert container.markets.mark(ticker).result == "YES"


@pytest.mark.parametrize(("path", "what"), [("/dashboard/positions/open", "open positions"),
                                            ("/dashboard/daily-pnl", "daily PnL"), ("/dashboard/summary", "summary")])
def test_dashboard_when_positions_unreadable_then_500_naming_what_failed(setup, path, what):
    container = setup[0]
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE views.positions RENAME TO positions_unavailable")
    r = TestClient(create_app(container), raise_server_exceptions=False).get(
        path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 500
    assert r.json() == {"error": f"Failed to fetch {what}", "code": "dashboard_unavailable"}
