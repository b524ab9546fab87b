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
from tests.integration.helpers import facts, signal

pytestmark = pytest.mark.integration



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


# ------------------------------------------------------------------------------------ I3 correlated markets


def _edges(system, *rows: tuple[str, str, float, str]) -> None:
    """Graph edges as an operator declares them (the spec names no writer, ADR 0300)."""
    with psycopg.connect(system.database_url, autocommit=True) as conn:
        for row in rows:
            conn.execute("INSERT INTO views.event_graph_edges (market_id, related_market_id, correlation_score,"
                         " correlation_type) VALUES (%s, %s, %s, %s)", row)


def test_correlated_markets_when_edges_name_the_market_on_either_side_then_both_read_and_capped_by_type(clocked):
    # Arrange: the target is the edge's related market in two rows and its market in one
    system, _ = clocked
    _edges(system, ("KXB", "KXA", 1.0, "correlated_with"), ("KXA", "KXC", 0.95, "same_series"),
           ("KXD", "KXA", 0.9, "tagged_with_topic"), ("KXE", "KXF", 1.0, "correlated_with"))
    # Act
    found = system.portfolio().snapshot("weather", "KXA", "PAPER").correlated_markets
    # Assert: score = weight capped by the edge type (§3.4); an edge not naming KXA is not read
    assert found is not None
    assert sorted((c.market_id, c.correlation_score, c.correlation_type) for c in found) == [
        ("KXB", 1.0, "correlated_with"), ("KXC", 0.8, "same_series"), ("KXD", 0.5, "tagged_with_topic")]


def test_book_reading_when_taken_once_then_every_market_sees_the_same_positions_and_its_own_edges(clocked):
    # Arrange: one position, one reading of the book taken, then a second position fills
    system, clock = clocked
    book = {"KXONE-A": "a", "KXONE-B": "b", "KXONE-C": "c"}
    _fill(system, clock, book, ["KXONE-A"])
    reading = system.portfolio().snapshots("weather", "PAPER")
    _fill(system, clock, book, ["KXONE-B"])
    _edges(system, ("KXONE-A", "KXONE-C", 1.0, "correlated_with"))
    # Act
    for_c, for_b = reading("KXONE-C"), reading("KXONE-B")
    fresh = system.portfolio().snapshot("weather", "KXONE-C", "PAPER")
    # Assert: the reading keeps its positions (a scan judges all its signals against one book), while each
    # market's correlation is read for that market, after the edge was stored; a fresh snapshot sees both fills
    assert [p.market_id for p in for_c.positions] == [p.market_id for p in for_b.positions] == ["KXONE-A"]
    assert [c.market_id for c in for_c.correlated_markets or ()] == ["KXONE-A"]
    assert for_b.correlated_markets == ()
    assert sorted(p.market_id for p in fresh.positions) == ["KXONE-A", "KXONE-B"]


def test_market_exposure_when_held_markets_are_correlated_through_reverse_edges_then_i3_blocks(clocked):
    # Arrange: about $43 held in each of two markets the graph relates to KXCOR-A (stored as B->A, C->A)
    system, clock = clocked
    book = {"KXCOR-A": "a", "KXCOR-B": "b", "KXCOR-C": "c", "KXCOR-D": "d"}
    _fill(system, clock, book, ["KXCOR-B", "KXCOR-C", "KXCOR-B", "KXCOR-C"])
    _edges(system, ("KXCOR-B", "KXCOR-A", 1.0, "correlated_with"), ("KXCOR-C", "KXCOR-A", 0.9, "correlated_with"))
    # Act: $12.60 + $43 + $43 x 0.9 over weather's $300 = 31.4 % > 15 %; an uncorrelated market: 4.2 %
    blocked = _weather_order(system, clock, book, "wx-cor", "KXCOR-A")
    other = _weather_order(system, clock, book, "wx-free", "KXCOR-D")
    # Assert
    assert blocked.state == "RISK_REJECTED", blocked
    assert _denied_ids(system, blocked.order_id) == ["I3_MAX_MARKET_EXPOSURE"]
    assert other.state == "FILLED", (other, _denied_ids(system, other.order_id))


def test_correlation_lookup_when_edges_cannot_be_read_then_order_blocked_and_breaker_counter_untouched(clocked):
    # Arrange: the edge table is gone (a storage failure of the correlation input)
    system, clock = clocked
    with psycopg.connect(system.database_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE views.event_graph_edges RENAME TO event_graph_edges_gone")
    # Act
    out = _weather_order(system, clock, {"KXCOR-A": "a"}, "wx-nolookup", "KXCOR-A")
    # Assert: fail closed (§3.4), and not a risk failure for the breaker (§2.3)
    assert out.state == "RISK_REJECTED", out
    assert _denied_ids(system, out.order_id) == ["I3_CORRELATION_LOOKUP"]
    assert system.breaker.get().consecutive_failures == 0


# ------------------------------------------------------------------------------------ I17 views behind the log


def test_views_behind_the_log_when_risk_checked_then_i17_blocks_naming_them_and_passes_once_caught_up(
        clocked, monkeypatch: pytest.MonkeyPatch):
    """ADR 0441: a fill the positions view has not applied for longer than PAULP_RISK_MAX_VIEW_LAG_S (the relay
    or a projector stopped) would leave I1-I4 judging a book without it: the check fails closed on I17."""
    import time

    system, clock = clocked
    monkeypatch.setattr(system.settings, "PAULP_RISK_MAX_VIEW_LAG_S", 1.0)
    book = {"KXLAG-A": "economics", "KXLAG-B": "economics"}
    _fill(system, clock, book, ["KXLAG-A"])  # projected: the views are current
    clock.set(clock.now() + timedelta(seconds=2))
    assert system.pipeline(_book(book, clock.now())).process(signal("lag-1", "KXLAG-A")).state == "FILLED"
    time.sleep(1.5)  # that fill's events stay unapplied for longer than the allowed lag (wall clock)

    blocked = _weather_order(system, clock, book, "lag-wx", "KXLAG-B")

    assert blocked.state == "RISK_REJECTED", blocked
    assert _denied_ids(system, blocked.order_id) == ["I17_SYSTEM_HEALTH"]
    [checked] = [e for e in system.orders.history(blocked.order_id) if type(e).__name__ == "RiskChecked"]
    assert any("orders has not applied events stored since" in v for v in checked.result["violations"])
    for name in ("orders", "reconciliation", "market_correlations", "market_marks"):
        with psycopg.connect(system.database_url, autocommit=True) as conn:
            catch_up_from_log(conn, system.projections[name])
    monkeypatch.setattr(system.settings, "PAULP_RISK_MAX_VIEW_LAG_S", 30.0)  # the order's own events are new
    again = _weather_order(system, clock, book, "lag-wx-2", "KXLAG-B")
    assert again.state == "FILLED", again
