"""The Kalshi-backed system of the orchestrator tests, shared by every module that trades through the
loopback exchange: the app over one container, the fake exchange behind it, and helpers to look into the
log, relay Kalshi's order updates and read the order, position and trade views. The ``key`` and ``exchange``
fixtures are in this folder's conftest."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from eventsourcing.persistence import StoredEvent
from fastapi.testclient import TestClient

from paulp.adapters.eventstore.codec import make_mapper
from paulp.adapters.evidence_audit import TOPIC as EVIDENCE_TOPIC
from paulp.adapters.evidence_store import EvidenceStore
from paulp.adapters.kalshi.client import KalshiClient, KalshiClientConfig
from paulp.adapters.kalshi.port import KalshiVenuePort
from paulp.adapters.kalshi.signing import load_credentials
from paulp.adapters.kalshi.venue import KalshiVenue
from paulp.adapters.market_data import StaticMarketData
from paulp.adapters.projector import catch_up_from_log
from paulp.api.app import create_app
from paulp.api.wiring import Container
from paulp.domain.clock import FixedClock
from paulp.domain.execution_orders import VenueOrder
from paulp.domain.execution_policy import ExecutionMode
from paulp.domain.marks import Quotes
from paulp.domain.orders import Order
from paulp.domain.ports import MarketFacts
from paulp.domain.services.pipeline import OrderPipeline
from tests.fakes.kalshi_exchange import FakeKalshiExchange
from tests.integration.helpers import NOW, deep_book, facts, make_container, signal
from tests.support.seeding import seed_executor_modes

TOKEN = "test-admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TRIGGER = "orch-trigger-token-0123456789abcdef"
KEY_ID = str(uuid.uuid4())


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def tradable_ticker(exchange: FakeKalshiExchange) -> str:
    """The fake's tightest market with an ask in 25-90 (deterministic: ties by ticker)."""
    markets = exchange.markets
    return min((t for t, v in markets.items() if 25 <= v["yes_ask"] <= 90),
               key=lambda t: (markets[t]["yes_ask"] - markets[t]["yes_bid"], t))


def facts_at_book(exchange: FakeKalshiExchange, ticker: str) -> MarketFacts:
    """The pipeline's market facts for ``ticker`` priced at the fake's book as it stands now."""
    m, base = exchange.markets[ticker], facts(ticker)
    book = replace(base.snapshot, yes_bid=m["yes_bid"], yes_ask=m["yes_ask"], no_bid=100 - m["yes_ask"],
                   no_ask=100 - m["yes_bid"])
    return replace(base, snapshot=book, book=deep_book(m["yes_bid"], m["yes_ask"]))


class System:
    """The app over one container, the fake exchange behind it, and helpers to look into the log."""

    def __init__(self, container: Container, exchange: FakeKalshiExchange, key: rsa.RSAPrivateKey) -> None:
        self.container, self.exchange, self.key = container, exchange, key
        self.client = TestClient(create_app(container))

    def order(self, order_id: str) -> Order:
        """The order as the log holds it now (it must exist)."""
        order = self.container.orders.find(order_id)
        assert order is not None
        return order

    def project(self, *names: str) -> None:
        with psycopg.connect(self.container.database_url, autocommit=True) as conn:
            for name in names or ("orders", "venue_orders", "market_marks"):
                catch_up_from_log(conn, self.container.projections[name])

    def head(self) -> int:
        """The log's last event other than the EvidenceStored record every venue response appends (ADR 0406):
        "nothing recorded since head" means nothing about orders, positions or records."""
        with psycopg.connect(self.container.database_url) as conn:
            row = conn.execute("SELECT coalesce(max(notification_id), 0) FROM paulp_events WHERE topic <> %s",
                               (EVIDENCE_TOPIC,)).fetchone()
        return int(row[0]) if row else 0

    def events(self, topic_part: str, after: int = 0) -> list[Any]:
        mapper = make_mapper()
        with psycopg.connect(self.container.database_url) as conn:
            rows = conn.execute("SELECT originator_id, originator_version, topic, state FROM paulp_events"
                                " WHERE topic LIKE %s AND notification_id > %s ORDER BY notification_id",
                                (f"%{topic_part}%", after)).fetchall()
        return [mapper.to_domain_event(StoredEvent(UUID(str(o)), v, t, bytes(s))) for o, v, t, s in rows]

    def tradable_ticker(self) -> str:
        return tradable_ticker(self.exchange)

    def venue_port(self) -> tuple[KalshiVenuePort, KalshiClient]:
        client = KalshiClient(EvidenceStore(self.container.settings.evidence_dir()),
                              config=KalshiClientConfig(base_url=self.exchange.base_url, timeout_s=2.0),
                              credentials=load_credentials(KEY_ID, pem(self.key)))
        return KalshiVenuePort(KalshiVenue(client)), client

    def live_order(self, signal_id: str, size: int, move_up_by: int = 0) -> tuple[str, Any]:
        """A LIVE bonding order through the real pipeline, priced at the fake's ask as we saw it; with
        ``move_up_by`` the market moves up before the order arrives, so it rests. (ticker, outcome)."""
        ticker = self.tradable_ticker()
        m = self.exchange.markets[ticker]
        market = facts_at_book(self.exchange, ticker)
        price = m["yes_ask"]
        m.update(yes_bid=m["yes_bid"] + move_up_by, yes_ask=m["yes_ask"] + move_up_by)
        return ticker, self.process_live(market, signal(signal_id, ticker, size=size, price=price))

    def process_live(self, market: Any, sig: Any) -> Any:
        """``sig`` through the real pipeline with bonding LIVE, the market as ``market`` (the facts we saw)
        and the venue this fake: the pipeline's outcome."""
        port, client = self.venue_port()
        try:
            c = self.container
            pipeline = OrderPipeline(c.orders, c.breaker, c.execution, StaticMarketData({sig.ticker: market}),
                                     c.portfolio(), port, modes={"bonding": ExecutionMode.LIVE})
            return pipeline.process(sig)
        finally:
            port.close(client)

    def live_fill(self, signal_id: str, size: int = 50) -> tuple[str, str]:
        """A LIVE bonding order filled at the fake through the real pipeline; (ticker, order id)."""
        ticker, out = self.live_order(signal_id, size)
        assert out.state == "FILLED", out
        return ticker, out.order_id

    def orphan_at_venue(self, ticker: str, count: int) -> None:
        """Contracts bought at the venue behind our back (no lifecycle order knows them)."""
        port, client = self.venue_port()
        try:
            ask = self.exchange.markets[ticker]["yes_ask"]
            port.submit(VenueOrder(ticker, f"manual-{uuid.uuid4().hex[:8]}", "yes", "buy", count, "limit", ask, None))
        finally:
            port.close(client)

    def paper_fill(self, signal_id: str, ticker: str) -> None:
        """50 YES contracts bought on paper at 43 (ask 42 + 1 cent of paper slippage), projected."""
        pipeline = self.container.pipeline(StaticMarketData({ticker: facts(ticker)}))
        assert pipeline.process(signal(signal_id, ticker)).state == "FILLED"
        self.project("orders", "venue_orders")

    def mark(self, ticker: str, quotes: Quotes, age: timedelta = timedelta(0), at: datetime = NOW) -> None:
        """The market's book observed ``age`` before ``at``, projected into market_marks."""
        assert self.container.markets.observe(ticker, quotes, at - age, None)
        self.project("market_marks")

    def sells(self) -> list[Any]:
        """Every sell the fake exchange was sent, in order."""
        return [r for r in self.exchange.requests
                if r.method == "POST" and r.path.endswith("/portfolio/orders") and b'"sell"' in r.body]

    def pending_order(self, sid: str, ticker: str, price: int, minutes: int = 0, strategy: str = "bonding",
                      max_price: int | None = None, edge: float = 0.1) -> str:
        order = Order.create(signal_id=sid, strategy=strategy, ticker=ticker, side="YES", requested_size=20,
                             max_price=price if max_price is None else max_price,
                             now=NOW + timedelta(minutes=minutes), signal_model_probability=0.6, signal_edge=edge,
                             signal_confidence=0.8)
        self.container.orders.save(order)
        return order.order_id


def resting_live_order(system: System, sid: str) -> tuple[str, str]:
    """A LIVE bonding order sent at the ask we saw, after the market moved up: it rests at the venue.
    Shared by the webhook-inbox and cancel-outstanding tests."""
    ticker, out = system.live_order(sid, size=40, move_up_by=3)
    assert out.state in ("SUBMITTED", "ORDER_ACKNOWLEDGED"), out
    return ticker, out.order_id


def pending_live_order(system: System) -> tuple[str, str]:
    """A PENDING LIVE bonding order one cent under the fake's ask (it rests once sent), on a market open after
    NOW: what the execute job reads the market for and sends. (ticker, order id)"""
    seed_executor_modes(system.container, {"kalshi": {"bonding": "LIVE"}})
    ticker = system.tradable_ticker()
    m = system.exchange.markets[ticker]
    later = (NOW + timedelta(days=5)).isoformat().replace("+00:00", "Z")
    m.update(close_time=later, expected_expiration_time=later, volume_24h=50_000)
    order = Order.create(signal_id="race-1", strategy="bonding", ticker=ticker, side="YES", requested_size=50,
                         max_price=m["yes_ask"] - 1, now=NOW, signal_model_probability=0.6, signal_edge=0.1,
                         signal_confidence=0.8)
    system.container.orders.save(order)
    system.project("orders")
    return ticker, order.order_id


def venue_order(system: System, order_id: str) -> dict[str, Any]:
    """Our order as the fake exchange holds it (by our client order id)."""
    [found] = [o for o in system.exchange.orders if o["client_order_id"] == order_id]
    return found


def relay_update(system: System, secret: str, order_id: str, status: str, count: int, event_id: str) -> None:
    """Kalshi's order update as the relay sends it: Kalshi's order id, ours, the cumulative count and the limit
    price the resting order filled at, and no fee."""
    venue = venue_order(system, order_id)
    body = {"event_type": "order_update", "event_id": event_id,
            "payload": {"orderId": venue["order_id"], "clientOrderId": order_id, "status": status,
                        "filledCount": count, "filledPrice": venue["yes_price"]}}
    r = system.client.post("/webhooks/kalshi/events", content=json.dumps(body).encode(),
                           headers={"x-kalshi-webhook-secret": secret, "Content-Type": "application/json"})
    assert r.status_code == 200, r.text


def order_row(system: System, order_id: str) -> dict[str, Any]:
    """Our order's row in ``GET /admin/orchestrator/orders`` (the views projected by the caller)."""
    rows = system.client.get("/admin/orchestrator/orders", headers=AUTH).json()["orders"]
    [row] = [r for r in rows if r["orderId"] == order_id]
    return dict(row)


def live_position(system: System, ticker: str) -> dict[str, Any]:
    """The LIVE position in ``ticker`` as ``GET /admin/positions`` lists it."""
    [position] = [p for p in system.client.get("/admin/positions", headers=AUTH).json()["positions"]
                  if p["mode"] == "LIVE" and p["ticker"] == ticker]
    return dict(position)


def venue_order_lookups(system: System, order_id: str) -> int:
    """How many times the order was read from the fake by Kalshi's order id."""
    kalshi_id = venue_order(system, order_id)["order_id"]
    return sum(1 for r in system.exchange.requests if r.method == "GET" and r.path.endswith(f"/orders/{kalshi_id}"))


def _system(fresh_db: str, nats_url: str, namespace: str, exchange: FakeKalshiExchange, key: rsa.RSAPrivateKey,
            tmp_path: Any, credentials: bool = True, **extra: Any) -> Iterator[System]:
    config: dict[str, Any] = {"KALSHI_BASE_URL": exchange.base_url, "PAULP_EVIDENCE_DIR": tmp_path / "evidence",
                              "WEBHOOK_TRIGGER_TOKEN": TRIGGER, **extra}
    if credentials:
        config.update(KALSHI_API_KEY=KEY_ID, KALSHI_PRIVATE_KEY=pem(key))
    container = make_container(fresh_db, nats_url, namespace, clock=FixedClock(NOW), admin_token=TOKEN, **config)
    try:
        yield System(container, exchange, key)
    finally:
        container.close()


def trade_row(system: System, client_order_id: str) -> dict[str, Any]:
    """Our order's row in ``GET /admin/trades`` (the venue record as operators see it), the views projected."""
    system.project("venue_orders")
    r = system.client.get("/admin/trades", params={"venue": "kalshi", "limit": 500}, headers=AUTH)
    assert r.status_code == 200, r.text
    [row] = [t for t in r.json()["trades"] if t.get("client_order_id") == client_order_id]
    return dict(row)


def add_bond_markets(system: System, tickers: Iterable[str]) -> None:
    """Near-certain markets (95/96 book, tight, traded, economics) whose 4.7 % yield beats the recorded 97.5 ¢
    bonds, so five of them are exactly the barbell's five 20 % slots (HHI 0.2 <= 0.25, ADR 0163)."""
    for ticker in tickers:
        system.exchange.markets[ticker] = {
            "ticker": ticker, "event_ticker": ticker.rsplit("-", 1)[0], "series_ticker": ticker.split("-")[0],
            "market_type": "binary", "status": "active", "title": ticker, "yes_bid": 95, "yes_ask": 96,
            "no_bid": 4, "no_ask": 5, "last_price": 95, "volume": 90_000, "volume_24h": 5_000,
            "open_interest": 1_000, "open_time": "2026-03-01T00:00:00Z", "close_time": "2026-03-20T00:00:00Z",
            "category": "economics", "rules_primary": f"Test market {ticker}."}


def run_cli(system: System, monkeypatch: Any, *args: str) -> Any:
    """``paulp *args`` in-process (typer's CliRunner) against this system's database, NATS and namespace, which the
    CLI resolves from the environment."""
    from typer.testing import CliRunner

    from paulp.api.cli import app

    c = system.container
    for name, value in (("ENVIRONMENT", "test"), ("PAULP_DATABASE_URL", c.database_url),
                        ("PAULP_NATS_URL", c.nats_url), ("PAULP_NAMESPACE", c.settings.PAULP_NAMESPACE)):
        monkeypatch.setenv(name, value)
    return CliRunner().invoke(app, list(args))


def point_cli_at(system: System, monkeypatch: Any) -> None:
    """The CLI, run in-process, pointed at the system's database, NATS, namespace, evidence folder and Kalshi
    (with its credentials), its consoles wide enough that rows are not wrapped."""
    from paulp.api.cli import console, err

    c = system.container
    monkeypatch.setattr(console, "width", 250)
    monkeypatch.setattr(err, "width", 250)
    key, secret = c.settings.KALSHI_API_KEY, c.settings.KALSHI_PRIVATE_KEY
    assert key is not None and secret is not None
    for name, value in (("ENVIRONMENT", "test"), ("PAULP_DATABASE_URL", c.database_url), ("PAULP_NATS_URL", c.nats_url),
                        ("PAULP_NAMESPACE", c.settings.PAULP_NAMESPACE), ("KALSHI_BASE_URL", system.exchange.base_url),
                        ("KALSHI_API_KEY", key.get_secret_value()), ("KALSHI_PRIVATE_KEY", secret.get_secret_value()),
                        ("PAULP_EVIDENCE_DIR", str(c.settings.evidence_dir()))):
        monkeypatch.setenv(name, value)
