"""The exposure inputs of the live risk check (trading §3.1, §3.3 I3/I4, §3.4), on real PostgreSQL: existing
positions carry their market's category (ADR 0299), and correlated markets come from the stored graph edges
in both directions, capped by edge type, failing closed when they cannot be read (ADR 0300)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import psycopg
import pytest

from paulp.adapters.market_data import StaticMarketData
from paulp.adapters.projector import catch_up_from_log
from paulp.domain.clock import FixedClock
from tests.integration.helpers import NOW, facts, make_container, signal

pytestmark = pytest.mark.integration


@pytest.fixture
def clocked(fresh_db, nats_url, namespace):
    clock = FixedClock(NOW)
    container = make_container(fresh_db, nats_url, namespace, clock=clock)
    yield container, clock
    container.close()


def _book(categories: dict[str, str], at) -> StaticMarketData:
    """The helpers' market in each ticker with the given category, priced 5 s before ``at``."""
    return StaticMarketData({t: replace(facts(t), category=c, last_price_update=at - timedelta(seconds=5),
                                        settlement_date=at + timedelta(days=30)) for t, c in categories.items()})


def _fill(system, clock: FixedClock, book: dict[str, str], tickers: list[str]) -> None:
    """One bonding order of 50 contracts (about $21.50 filled) per ticker, 2 s apart, then the views caught up."""
    for ticker in tickers:
        clock.set(clock.now() + timedelta(seconds=2))
        out = system.pipeline(_book(book, clock.now())).process(signal(f"fill-{ticker}-{clock.now():%H%M%S}", ticker))
        assert out.state == "FILLED", out
    with psycopg.connect(system.database_url, autocommit=True) as conn:
        catch_up_from_log(conn, system.projections["orders"])


def _weather_order(system, clock: FixedClock, book: dict[str, str], sid: str, ticker: str):
    """30 weather contracts at 42c ($12.60): 4.2 % of weather's $300, so only exposure can refuse it."""
    clock.set(clock.now() + timedelta(seconds=2))
    return system.pipeline(_book(book, clock.now())).process(replace(signal(sid, ticker, size=30), strategy="weather"))


def _denied_ids(system, order_id: str) -> list[str]:
    checked = [e for e in system.orders.history(order_id) if type(e).__name__ == "RiskChecked"]
    return list(checked[-1].result.get("invariantIds") or ())


# ------------------------------------------------------------------------------------ I4 category exposure


def test_category_exposure_when_two_positions_share_the_requests_category_then_i4_blocks(clocked):
    # Arrange: two economics positions of about $43 each (two fills per market) = $86
    system, clock = clocked
    book = {"KXECO-A": "economics", "KXECO-B": "economics", "KXECO-C": "economics", "KXPOL-D": "politics"}
    _fill(system, clock, book, ["KXECO-A", "KXECO-B", "KXECO-A", "KXECO-B"])
    # Act: a weather order in a third economics market: ($86 + $12.60) / $300 = 32.9 % > 30 %
    blocked = _weather_order(system, clock, book, "wx-eco", "KXECO-C")
    # ... and the same order in a politics market: $12.60 / $300 = 4.2 %
    other = _weather_order(system, clock, book, "wx-pol", "KXPOL-D")
    # Assert
    assert blocked.state == "RISK_REJECTED", blocked
    assert _denied_ids(system, blocked.order_id) == ["I4_MAX_CATEGORY_EXPOSURE"]
    assert other.state == "FILLED", (other, _denied_ids(system, other.order_id))


def test_category_exposure_when_position_market_has_no_category_then_it_counts_as_unknown(clocked):
    # Arrange: the same $86 in markets whose facts name no category
    system, clock = clocked
    book = {"KXUNK-A": "", "KXUNK-B": "", "KXECO-C": "economics", "KXUNK-D": ""}
    _fill(system, clock, book, ["KXUNK-A", "KXUNK-B", "KXUNK-A", "KXUNK-B"])
    # Act / Assert: they are 'unknown' (§3.1 default): not economics, but the same as another unknown market
    assert _weather_order(system, clock, book, "wx-eco", "KXECO-C").state == "FILLED"
    unknown = _weather_order(system, clock, book, "wx-unk", "KXUNK-D")
    assert unknown.state == "RISK_REJECTED", unknown
    assert _denied_ids(system, unknown.order_id) == ["I4_MAX_CATEGORY_EXPOSURE"]
