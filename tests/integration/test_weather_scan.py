"""The weather strategy end to end (trading §6.2; ADR 0278): weather markets in the loopback Kalshi catalogue,
station history from the loopback NOAA CDO, signals → PENDING orders → PAPER fills, on real PostgreSQL + NATS.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from paulp.api.signal_jobs import execute_pending
from paulp.domain.execution import execution_priority
from paulp.domain.execution_policy import ExecutionMode
from paulp.domain.throttle import ExecutionThrottle, throttle_scope
from tests.fakes.kalshi_exchange import FakeKalshiExchange
from tests.fakes.noaa_cdo import FakeNoaaCdo, NoaaFault
from tests.integration.helpers import NOAA_TOKEN
from tests.integration.kalshi_system import AUTH, System, _system

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
# The fake's early-March NYC highs are ~41.5 °F ± ~6 °F: "above 35" is likely, "above 50" unlikely.
LIKELY, UNLIKELY = "KXHIGHNY-26MAR05-T35", "KXHIGHNY-26MAR05-T50"


def weather_market(ticker: str, yes_bid: int, yes_ask: int, last: int, **over: Any) -> dict[str, Any]:
    event = ticker.rsplit("-", 1)[0]
    market = {"ticker": ticker, "event_ticker": event, "series_ticker": event.split("-", 1)[0],
              "market_type": "binary", "status": "active", "title": f"NYC high on Mar 5 ({ticker})",
              "yes_bid": yes_bid, "yes_ask": yes_ask, "no_bid": 100 - yes_ask, "no_ask": 100 - yes_bid,
              "last_price": last, "volume": 20_000, "volume_24h": 20_000, "open_interest": 5_000,
              "open_time": "2026-02-26T15:00:00Z", "close_time": "2026-03-06T04:59:00Z",
              "category": "Climate and Weather", "rules_primary": "Highest temperature in Central Park."}
    return {**market, **over}


@pytest.fixture
def weather_exchange(exchange: FakeKalshiExchange) -> FakeKalshiExchange:
    exchange.markets[LIKELY] = weather_market(LIKELY, 39, 40, 40)
    exchange.markets[UNLIKELY] = weather_market(UNLIKELY, 47, 48, 48)
    exchange.markets["KXHIGHNY-26MAR05-B40.5"] = weather_market("KXHIGHNY-26MAR05-B40.5", 20, 22, 21)  # unparsed
    exchange.markets["KXHIGHNY-26FEB20-T35"] = weather_market("KXHIGHNY-26FEB20-T35", 39, 40, 40,
                                                              close_time="2026-02-21T04:59:00Z")  # closed
    return exchange


@pytest.fixture
def system(fresh_db, nats_url, namespace, weather_exchange, key, tmp_path, noaa) -> Iterator[System]:
    yield from _system(fresh_db, nats_url, namespace, weather_exchange, key, tmp_path,
                       NOAA_CDO_TOKEN=NOAA_TOKEN, NOAA_CDO_BASE_URL=noaa.base_url, NOAA_CDO_REQUESTS_PER_SECOND=1000)


def scan(system: System) -> dict[str, Any]:
    r = system.client.post("/admin/orchestrator/trigger/scan", headers=AUTH)
    assert r.status_code == 200, r.text
    rows = {row["strategy"]: row for row in r.json()["result"]["strategies"]}
    return rows["weather"]


def test_scan_when_weather_markets_listed_then_both_sides_ordered_and_paper_filled(system: System,
                                                                                   noaa: FakeNoaaCdo) -> None:
    # Act: scan (Kalshi catalogue + NOAA history), then execute the pending orders in PAPER
    weather = scan(system)
    # Assert: two priceable markets, one station, 30 settled years = 30 CDO requests
    assert "error" not in weather, weather
    assert (weather["marketsScanned"], weather["signalCount"], weather["ordersCreated"]) == (2, 2, 2)
    assert (weather["noaaRequests"], weather["noaaPagesReused"]) == (30, 0)
    assert all(r.headers["token"] == NOAA_TOKEN for r in noaa.requests)
    listings = [r for r in system.exchange.requests
                if r.method == "GET" and r.path.endswith("/markets") and "cursor=" not in r.query]
    assert len(listings) == 1  # bonding and weather share the scan's one catalogue read
    created = {e.ticker: e for e in system.events("Order.Created")}
    assert set(created) == {LIKELY, UNLIKELY}
    yes, no = created[LIKELY], created[UNLIKELY]
    assert (yes.strategy, yes.side, yes.max_price) == ("weather", "YES", 40)
    assert (no.strategy, no.side, no.max_price) == ("weather", "NO", 52)  # NO limited at 100 - last YES 48
    assert yes.signal_model_probability > 0.7 > 0.3 > no.signal_model_probability  # P(YES) on both

    system.project("orders")
    r = system.client.post("/admin/orchestrator/trigger/execute", headers=AUTH)
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    # Both are executed: the batch waits out the PAPER policy's 1000 ms order spacing between them (§5.2)
    # instead of letting the spacing check reject the second (the test's clock moves by the wait).
    assert (result["processed"], result["rejected"], result["deferred"]) == (2, [], []), result
    assert set(result["executed"]) == {yes.order_id, no.order_id}
    counted = [e.at for e in system.events("ExecutionThrottle.OrderCounted")]
    assert len(counted) == 2 and counted[1] - counted[0] == timedelta(seconds=1)
    # in queue order: priority desc (both saturate at 100 here), then first created (same scan: order id)
    queue = sorted((yes, no), key=lambda o: (-execution_priority(o.signal_edge, o.signal_confidence), o.order_id))
    assert [e.originator_id for e in system.events("FillRecorded")] == [o.originator_id for o in queue]
    system.project()
    with psycopg.connect(system.container.database_url) as conn:
        rows = conn.execute("SELECT ticker, record->>'side', execution_mode, status FROM views.kalshi_orders"
                            " WHERE strategy = 'weather' ORDER BY ticker").fetchall()
    assert rows == sorted([(o.ticker, o.side.lower(), "PAPER", "filled") for o in (yes, no)])
    filled = yes
    trades = system.client.get("/admin/trades", headers=AUTH)
    assert trades.status_code == 200 and filled.ticker in trades.text
    gate = system.client.get("/admin/gates/verify/2", headers=AUTH).json()
    [fact] = [c for c in gate["results"] if c["criterionId"] == "P2_WEATHER_PAPER_TRADING"]
    assert fact["actualValue"] == 2 and not fact["passed"]  # counted; 10 are needed


def test_execute_when_spacing_wait_exceeds_the_run_budget_then_order_deferred_pending_and_sent_next_run(
        system: System, noaa: FakeNoaaCdo) -> None:
    assert scan(system)["ordersCreated"] == 2
    system.project("orders")
    first = execute_pending(system.container, max_wait_s=0.5)  # the 1 s spacing does not fit in 0.5 s
    assert (first["processed"], len(first["executed"]), first["rejected"]) == (1, 1, []), first
    [held] = first["deferred"]
    assert system.container.orders.find(held).state.value == "PENDING"  # nothing rejected, nothing lost
    system.project("orders")
    system.container.clock.sleep(1.0)  # the next run, a second later, needs no wait
    second = execute_pending(system.container, max_wait_s=0.0)
    assert (second["executed"], second["deferred"]) == ([held], []), second


def test_execute_when_the_strategys_minute_is_full_then_orders_deferred_not_rejected_until_it_rolls(
        system: System, noaa: FakeNoaaCdo) -> None:
    # Arrange: the PAPER throttle (every paper strategy's, ADR 0307) already counted 10 orders this minute,
    # 1-10 s ago
    now = system.container.clock.now()
    throttle = ExecutionThrottle(throttle_scope(ExecutionMode.PAPER), now - timedelta(seconds=10))
    for k in range(10, 0, -1):
        throttle.count_order(100, now - timedelta(seconds=k))
    system.container.orders.save(throttle)
    assert scan(system)["ordersCreated"] == 2
    system.project("orders")
    # Act: the minute rolls 50 s from now, past the run's 30 s budget
    held = execute_pending(system.container)
    # Assert: nothing sent, nothing rejected: both orders stay PENDING for a later run
    assert (held["processed"], held["executed"], held["rejected"], len(held["deferred"])) == (0, [], [], 2), held
    assert {system.container.orders.find(o).state.value for o in held["deferred"]} == {"PENDING"}
    system.container.clock.sleep(50)
    sent = execute_pending(system.container)
    assert (sorted(sent["executed"]), sent["deferred"]) == (sorted(held["deferred"]), []), sent


def test_scan_when_run_again_then_settled_years_reused_and_no_duplicate_orders(system: System,
                                                                              noaa: FakeNoaaCdo) -> None:
    first = scan(system)
    second = scan(system)
    assert first["ordersCreated"] == 2 and (first["noaaRequests"], first["noaaPagesReused"]) == (30, 0)
    assert (second["signalCount"], second["ordersCreated"]) == (2, 0)  # one open order per market and side
    assert (second["noaaRequests"], second["noaaPagesReused"]) == (0, 30)
    assert len(noaa.data_requests()) == 30
    with psycopg.connect(system.container.database_url) as conn:  # the token is a header: stored nowhere
        leaks = conn.execute("SELECT (SELECT count(*) FROM paulp_events WHERE position(%s IN state) > 0)"
                             " + (SELECT count(*) FROM evidence_fetches WHERE (endpoint || coalesce("
                             "request_params::text, '')) LIKE %s)", (NOAA_TOKEN.encode(), f"%{NOAA_TOKEN}%")
                             ).fetchone()
        indexed = conn.execute("SELECT count(*) FROM evidence_fetches WHERE source = 'noaa_cdo'").fetchone()
    assert leaks == (0,) and indexed == (30,)


def test_scan_when_noaa_fails_then_weather_row_errors_and_bonding_still_runs(system: System,
                                                                            noaa: FakeNoaaCdo) -> None:
    noaa.inject(NoaaFault(status=403))  # refused outright: not retried, so no back-off sleeps here
    r = system.client.post("/admin/orchestrator/trigger/scan", headers=AUTH)
    assert r.status_code == 200, r.text
    rows = {row["strategy"]: row for row in r.json()["result"]["strategies"]}
    assert rows["weather"]["error"] == "NOAA CDO history read failed: noaa_auth_failed (HTTP 403)"
    assert "error" not in rows["bonding"] and rows["bonding"]["marketsScanned"] > 0
    assert len(noaa.requests) == 1
    assert all(e.strategy == "bonding" for e in system.events("Order.Created"))


def test_scan_when_noaa_token_unset_then_weather_not_configured_and_nothing_sent(
        fresh_db, nats_url, namespace, weather_exchange, key, tmp_path, noaa) -> None:
    for unconfigured in _system(fresh_db, nats_url, namespace, weather_exchange, key, tmp_path,
                                NOAA_CDO_TOKEN="  ", NOAA_CDO_BASE_URL=noaa.base_url):
        weather = scan(unconfigured)
        assert "NOAA_CDO_TOKEN" in weather["error"] and weather["signalCount"] == 0
    assert noaa.requests == []
