"""Kalshi market objects in either shape (ADR 0321): the whole-cent fields, the fixed-point ``*_dollars`` /
``*_fp`` strings, or both. Read through the real client from the loopback exchange, every shape gives the
same quotes, and with the cent fields gone the system still scans, fills and marks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from paulp.adapters.evidence_store import EvidenceStore
from paulp.adapters.kalshi.client import KalshiClient, KalshiClientConfig
from paulp.adapters.kalshi.venue import KalshiVenue
from paulp.api.market_jobs import refresh_marks
from paulp.api.signal_jobs import catalogue_market
from tests.fakes.kalshi_exchange import FakeKalshiExchange
from tests.integration.helpers import NOW
from tests.integration.kalshi_system import AUTH, KEY_ID, System, add_bond_markets

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
BONDS = tuple(f"KXSHAPE-26MAR-B{i}" for i in range(5))  # five equal bonds: HHI 0.2 <= 0.25 (ADR 0163)


@pytest.fixture
def exchange(key: rsa.RSAPrivateKey) -> Iterator[FakeKalshiExchange]:
    """The exchange as Kalshi will be once the integer fields are withdrawn: fixed-point strings only."""
    with FakeKalshiExchange(key.public_key(), KEY_ID, shape="dollars") as fake:
        yield fake


def read_markets(exchange: FakeKalshiExchange, evidence: Path, tickers: list[str]) -> tuple[Any, Any]:
    async def run() -> tuple[Any, Any]:
        async with KalshiClient(EvidenceStore(evidence),
                                config=KalshiClientConfig(base_url=exchange.base_url, timeout_s=2.0)) as client:
            venue = KalshiVenue(client)
            snaps = [(await venue.get_market(t)).value for t in tickers]
            return snaps, (await venue.list_markets(max_pages=50)).value

    return asyncio.run(asyncio.wait_for(run(), timeout=20))


@pytest.mark.parametrize("shape", ["both", "cents", "dollars"])
def test_market_when_sent_in_any_shape_then_same_quotes_snapshot_and_catalogue_row(
        exchange: FakeKalshiExchange, tmp_path: Path, shape: str) -> None:
    tickers = sorted(t for t, m in exchange.markets.items() if 1 <= m["yes_bid"] < m["yes_ask"] <= 99)[:5]
    assert tickers
    exchange.shape = shape
    snaps, catalogue = read_markets(exchange, tmp_path / "evidence", tickers)
    got = {s.ticker: (s.yes_bid, s.yes_ask, s.no_bid, s.no_ask, s.volume_24h) for s in snaps}
    assert got == {t: (m["yes_bid"], m["yes_ask"], m["no_bid"], m["no_ask"], float(m["volume_24h"]))
                   for t, m in exchange.markets.items() if t in tickers}
    rows = {m.market_id: m for m in (catalogue_market(raw) for raw in catalogue) if m is not None}
    for t in tickers:
        m = exchange.markets[t]
        assert (rows[t].yes_price, rows[t].average_spread, rows[t].peak_volume_24h) == (
            (m["yes_bid"] + m["yes_ask"]) / 200, (m["yes_ask"] - m["yes_bid"]) / 100, float(m["volume_24h"]))


def test_market_when_a_price_is_sub_cent_then_the_read_fails_and_nothing_is_rounded(
        exchange: FakeKalshiExchange, tmp_path: Path) -> None:
    ticker = min(t for t, m in exchange.markets.items() if 1 <= m["yes_bid"] < m["yes_ask"] <= 99)
    exchange.markets[ticker]["yes_bid"] = 42.5  # sent as "0.4250"
    with pytest.raises(Exception) as err:
        read_markets(exchange, tmp_path / "evidence", [ticker])
    assert getattr(err.value, "code", None) == "venue_response_invalid" and err.value.evidence_hash  # type: ignore[attr-defined]


def add_bonds(system: System) -> None:
    add_bond_markets(system, BONDS)


def test_system_when_kalshi_sends_only_fixed_point_fields_then_it_scans_fills_and_marks(
        system: System, tmp_path: Path) -> None:
    # Arrange: bonds with current fair values, on an exchange that sends no whole-cent field
    add_bonds(system)
    for ticker in BONDS:
        system.container.fair_values.set(ticker, 0.99, "desk research", "settles on a published figure",
                                         "ops-dana", timedelta(hours=24))
    # Act: the scheduled scan and execute steps
    head = system.head()
    r = system.client.post("/admin/orchestrator/trigger/scan", headers=AUTH)
    assert r.status_code == 200, r.text
    created = [e for e in system.events("Order.Created", head) if e.strategy == "bonding"]
    system.project("orders")
    r = system.client.post("/admin/orchestrator/trigger/execute", headers=AUTH)
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    # Assert: priced at the 95/96 book read from "0.9500"/"0.9600", bought at the ask + 1 paper slippage
    assert sorted(e.ticker for e in created) == list(BONDS)
    assert {(e.side, e.max_price) for e in created} == {("YES", 96)}
    assert {round(e.signal_edge, 6) for e in created} == {0.035}  # fair 0.99 - mid 0.955
    assert (result["processed"], result["rejected"]) == (5, []), result
    fills = system.events("FillRecorded", head)
    assert len(fills) == 5 and {(f.fill_size, f.fill_price) for f in fills} == {(26, 97)}, fills

    async def marks() -> dict[str, str]:
        async with KalshiClient(EvidenceStore(tmp_path / "marks"),
                                config=KalshiClientConfig(base_url=system.exchange.base_url, timeout_s=2.0)) as c:
            return await refresh_marks(system.container.markets, KalshiVenue(c), list(BONDS))

    system.container.markets.clock.set(NOW + timedelta(minutes=1))  # type: ignore[attr-defined]
    assert asyncio.run(marks()) == dict.fromkeys(BONDS, "recorded")
