"""Marks and unrealised PnL: a paper fill, the market read from the (fake) venue over signed HTTP, the mark
stored as an event with its evidence, and GET /admin/positions valuing the position against it."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paulp.adapters.evidence_store import EvidenceStore
from paulp.adapters.kalshi.client import KalshiClient, KalshiClientConfig
from paulp.adapters.kalshi.signing import load_credentials
from paulp.adapters.kalshi.venue import KalshiVenue
from paulp.adapters.market_data import StaticMarketData
from paulp.api.app import create_app
from paulp.api.cli import app as cli_app
from paulp.api.clv_job import clv_sweep, disable_degraded
from paulp.api.jobs import daily_report_job
from paulp.api.market_jobs import marked_tickers, open_position_tickers, refresh_marks
from paulp.domain.clock import FixedClock
from paulp.domain.clv_monitor import DEGRADATION_ALERT, DegradationRule
from paulp.domain.evidence import sha256_hex
from paulp.domain.execution_policy import ExecutionMode
from paulp.domain.marks import InvalidMark, Quotes
from paulp.domain.order_states import OrderState, shortest_path
from paulp.domain.orders import Order
from paulp.domain.strategy_registry import StrategyStatus
from tests.fakes.kalshi_exchange import FakeKalshiExchange, Fault
from tests.integration.helpers import (
    NOW,
    assert_live_equals_replay,
    facts,
    make_container,
    max_notification_id,
    signal,
    wait_tracked,
    workers,
)
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


CLV_VIEWS = ("orders", "market_marks", "closing_lines", "strategies", "breaker_state")


def _settled(container) -> None:  # type: ignore[no-untyped-def]
    """Every view the CLV path reads has applied the whole log (relay over NATS, projectors; bounded waits)."""
    last = max_notification_id(container.database_url)
    for name in CLV_VIEWS:
        wait_tracked(container.database_url, name, last)


def _filled_with_line(container, n: int, clv_cents: float, line_time) -> None:  # type: ignore[no-untyped-def]
    """A filled weather order at 50c whose market closed at ``line_time`` with a YES mid of 50 + clv."""
    order = Order.create(signal_id=f"clv-hist-{n}", strategy="weather", ticker=f"KXCLVHIST-{n}", side="YES",
                         requested_size=1, max_price=60, now=NOW)
    for target in shortest_path(OrderState.PENDING, OrderState.SUBMITTED):
        order.transition(target, "seeded", NOW)
    order.record_fill(1, 50, NOW)
    assert order.record_closing_line((50 + clv_cents) / 100, 1.0, True, "T-5min", "weather", True, line_time, NOW)
    container.orders.save(order)


def test_clv_when_market_observed_near_close_and_resolved_then_orders_carry_clv_and_degradation_disables(
        setup, monkeypatch, fresh_db, nats_url, namespace):
    """Observations from the book in the class window -> the market resolves -> the filled order gets its CLV
    (side-native, once) -> avgCLV in the daily report; then a strategy whose CLVs degrade is disabled with an
    alert, and is not disabled again on the same evidence after an operator re-enables it."""
    container, exchange, refresh, ticker, clock = setup
    exchange.markets[ticker].update(close_time=(NOW + timedelta(minutes=4)).isoformat().replace("+00:00", "Z"),
                                    category="Weather")
    exchange.set_book(ticker, yes=[(44, 5_000)], no=[(54, 5_000)])  # YES 44/46: mid 0.45, spread 0.02, deep
    with workers(container, projections=list(CLV_VIEWS)):
        out = container.pipeline(StaticMarketData({ticker: facts(ticker)})).process(signal("clv-1", ticker, 50, 42))
        assert out.state == "FILLED", out
        _settled(container)
        assert marked_tickers(container.pool) == [ticker]
        for minute in range(4):  # NOW .. NOW+3m: inside the weather window (T-5min) before the close at NOW+4m
            clock.at = NOW + timedelta(minutes=minute)
            assert refresh([ticker])[ticker] in ("recorded", "unchanged")
        exchange.markets[ticker].update(status="settled", result="yes")
        clock.at = NOW + timedelta(minutes=6)
        assert refresh([ticker]) == {ticker: "resolved"}
        _settled(container)
        with psycopg.connect(container.database_url) as conn:
            observed = conn.execute("SELECT count(*), min(depth_yes_usd), min(spread) FROM views.market_observations"
                                    " WHERE ticker = %s", (ticker,)).fetchone()
        assert observed[0] == 4 and float(observed[1]) >= 500 and float(observed[2]) == pytest.approx(0.02)

        report = clv_sweep(container)
        assert (report["markets"], report["ordersRecorded"], report["invalid"], report["failed"]) == (1, 1, 0, {})
        _settled(container)
        assert clv_sweep(container)["ordersRecorded"] == 0  # once per order
        with psycopg.connect(container.database_url) as conn:
            avg_fill, line, clv, valid, quality = conn.execute(
                "SELECT avg_fill_price, closing_line_price, clv, clv_valid, closing_line_quality FROM views.orders"
                " WHERE ticker = %s", (ticker,)).fetchone()
            line_row = conn.execute("SELECT market_class, closing_line_price, is_valid FROM views.closing_lines"
                                    " WHERE ticker = %s", (ticker,)).fetchone()
        assert (line_row[0], float(line_row[1]), line_row[2]) == ("weather", pytest.approx(0.45), True)
        assert valid is True and float(quality) >= 0.5 and float(line) == pytest.approx(45)
        assert float(clv) == pytest.approx(45 - float(avg_fill))
        daily = daily_report_job(container, NOW)
        assert (daily["clvOrders"], daily["avgCLV"]) == (1, pytest.approx(45 - float(avg_fill)))

        # weather's valid CLVs: +5c on three markets, then -10c on the latest: degraded under a (1 recent, 3 prior) rule
        rule = DegradationRule(recent=1, min_prior=3)
        for n, value in enumerate((5.0, 6.0, 4.0, -10.0)):
            _filled_with_line(container, n, value, NOW - timedelta(hours=4 - n))
        _settled(container)
        assert disable_degraded(container, DegradationRule(recent=1, min_prior=4)) == {}  # below the minimum
        disabled = disable_degraded(container, rule)
        assert list(disabled) == ["weather"] and disabled["weather"].degraded
        info = container.strategies.info("weather")
        assert container.strategies.status_of(info) is StrategyStatus.DISABLED
        assert container.execution_mode("weather") is ExecutionMode.DISABLED
        _settled(container)
        with psycopg.connect(container.database_url) as conn:
            alerts = conn.execute("SELECT message FROM views.breaker_alerts WHERE code = %s",
                                  (DEGRADATION_ALERT,)).fetchall()
        assert len(alerts) == 1 and alerts[0][0].startswith("weather disabled: CLV degraded")
        assert disable_degraded(container, rule) == {}  # already disabled: nothing new
        container.strategies.set_status("weather", StrategyStatus.PAPER, "operator", "reviewed the CLV drop")
        assert disable_degraded(container, rule) == {}  # no CLV since the operator's decision
        _settled(container)
        for name in ("closing_lines", "orders"):
            assert_live_equals_replay(container, name)

    for name, value in (("ENVIRONMENT", "test"), ("PAULP_DATABASE_URL", fresh_db), ("PAULP_NATS_URL", nats_url),
                        ("PAULP_NAMESPACE", namespace)):
        monkeypatch.setenv(name, value)  # `paulp clv show`, in-process, reads the same orders view
    shown = CliRunner().invoke(cli_app, ["clv", "show", "--strategy", "weather", "--json"])
    assert shown.exit_code == 0, shown.output
    (weather,) = json.loads(shown.output)
    assert (weather["validClvs"], weather["meanClvCents"]) == (4, pytest.approx(1.25))
    assert weather["trend"] is None  # the default rule needs 50 valid CLVs
    assert CliRunner().invoke(cli_app, ["clv", "show", "--strategy", "nope"]).exit_code == 2
