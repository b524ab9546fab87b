"""§1.8's two system-level idempotency statements, observed on the real system (ADR 0484).

1. "at most one non-closed order per (strategy, ticker, side); a new signal for the same key while one is active is
   ignored": ``create_orders`` (api/signal_jobs.py, SQL over ``views.orders``) on a container built on a throwaway
   database, as ``api_http_cases`` builds one (suite services, a cloned or new database, ``build``, dropped after).
2. "every command is applied at most once per (aggregateId, commandId); replaying events must not re-submit venue
   orders": the same signal (the same command on the same order id) processed twice by the container's pipeline on
   the paper venue, the order then reloaded from its events and advanced, and the projections caught up from the
   log; no event may be appended after the first run.

Both are observed once per interpreter (one database) and the facts cached; a case is judged against them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from paulp.adapters.market_data import StaticMarketData
from paulp.adapters.projector import catch_up_from_log
from paulp.api.signal_jobs import create_orders
from paulp.api.wiring import Container, build
from paulp.domain.book_depth import BookLevels
from paulp.domain.clock import FixedClock
from paulp.domain.execution_orders import MarketSnapshot
from paulp.domain.ports import MarketFacts
from paulp.domain.services.pipeline import TradeSignal
from paulp.domain.strategies.bonding_signals import BondingSignal
from tests.support.settings import IsolatedSettings

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday, inside trading hours
MARKET, PAPER_MARKET = "KXIDEM-26MAR-B1", "KXIDEM-26MAR-P1"


@dataclass(frozen=True)
class OpenOrderFacts:
    """Orders created by each signal of §1.8's de-duplication scenario (0 or 1 each)."""

    first: int  # a signal on (bonding, MARKET, YES): the book is empty
    same_key: int  # a second signal (another id) on the same key while the first order is open
    other_side: int  # a signal on (bonding, MARKET, NO) while the YES order is open
    after_close: int  # a signal on the YES key again after the first order was cancelled (closed)
    open_per_key: int  # most non-closed orders ever seen on one (strategy, ticker, side) in views.orders


@dataclass(frozen=True)
class ReplayFacts:
    """What a repeated command and a replay of the log did after the first submission."""

    first_state: str
    second_duplicate: bool  # the pipeline reported the second process of the same signal as a duplicate
    same_order: bool  # both runs named the same order (aggregate) id
    fills: int  # FillRecorded events of the order (the paper venue's execution), after everything
    events_after_first: int  # events appended to the log after the first run (the repeat, reload, replay)


_CACHE: dict[str, Any] = {}


def _facts(ticker: str) -> MarketFacts:
    book = BookLevels.of([(41, 5_000)], [(58, 5_000)])
    return MarketFacts(
        snapshot=MarketSnapshot(ticker=ticker, yes_bid=41, yes_ask=42, no_bid=58, no_ask=59, volume_24h=50_000,
                                settlement_time=NOW + timedelta(days=7), close_time=NOW + timedelta(days=7),
                                category="economics"),
        category="economics", book=book, vpin_score=0.1, settlement_date=NOW + timedelta(days=7),
        last_price_update=NOW - timedelta(seconds=5))


def _bond(signal_id: str, side: str = "YES") -> BondingSignal:
    return BondingSignal(signal_id=signal_id, market_id=MARKET, signal_type="bond", tail_type=None, target_size=20.0,
                         kelly_fraction=0.2, expected_edge=0.03, market_price=0.96 if side == "YES" else 0.04,
                         fair_probability=0.99 if side == "YES" else 0.01, confidence=0.9, created_at=NOW,
                         expires_at=NOW + timedelta(hours=1), side=side)


def _project(container: Container, *names: str) -> None:
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        for name in names:
            catch_up_from_log(conn, container.projections[name])


def _open_per_key(container: Container) -> int:
    with container.pool.connection() as conn:
        row = conn.execute("SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM views.orders"
                           " WHERE closed_at IS NULL GROUP BY strategy, ticker, side) k").fetchone()
    return int(row[0]) if row else 0


def _log_head(container: Container) -> int:
    with container.pool.connection() as conn:
        row = conn.execute("SELECT count(*) FROM paulp_events WHERE topic LIKE %s", ("%orders%",)).fetchone()
    return int(row[0]) if row else 0


def _open_orders(container: Container) -> OpenOrderFacts:
    def scan(signal: BondingSignal) -> int:
        created, _ = create_orders(container, "bonding", [signal], NOW)
        _project(container, "orders")
        return created

    first = scan(_bond("sig_bond_idem_1"))
    seen = _open_per_key(container)
    same_key = scan(_bond("sig_bond_idem_2"))  # a later scan: the source embeds the wall clock in the id
    seen = max(seen, _open_per_key(container))
    other_side = scan(_bond("sig_bond_idem_3", "NO"))
    with container.pool.connection() as conn:
        row = conn.execute("SELECT order_id FROM views.orders WHERE ticker = %s AND side = 'YES'",
                           (MARKET,)).fetchone()
    assert row is not None, "the first signal made no order: the scenario cannot be observed"
    order = container.orders.find(str(row[0]))
    assert order is not None and order.cancel(NOW + timedelta(minutes=1))
    container.orders.save(order)
    _project(container, "orders")
    after_close = scan(_bond("sig_bond_idem_4"))
    return OpenOrderFacts(first, same_key, other_side, after_close, max(seen, _open_per_key(container)))


def _replay(container: Container) -> ReplayFacts:
    pipeline = container.pipeline(StaticMarketData({PAPER_MARKET: _facts(PAPER_MARKET)}))
    signal = TradeSignal(signal_id="sig-idem-cmd", strategy="bonding", ticker=PAPER_MARKET, side="YES",
                         requested_size=50, max_price=42, model_probability=0.6, edge=0.18, confidence=0.8)
    first = pipeline.process(signal)
    head = _log_head(container)
    second = pipeline.process(signal)  # the same command again
    pipeline.advance(first.order_id)  # the order reloaded from its events and driven on
    _project(container, "orders", "venue_orders")  # the log replayed into the views
    fills = sum(type(e).__name__ == "FillRecorded" for e in container.orders.history(first.order_id))
    return ReplayFacts(first.state, second.duplicate, second.order_id == first.order_id, fills,
                       _log_head(container) - head)


def observe() -> tuple[OpenOrderFacts, ReplayFacts]:
    """Both scenarios on one throwaway database (cached for the interpreter)."""
    if "facts" not in _CACHE:
        from tests.conformance.checkers.api_http_cases import session

        s = session()
        namespace = f"{s.run_id}_{secrets.token_hex(3)}"
        with s.database() as db_url:
            settings = IsolatedSettings(
                ENVIRONMENT="test", PAULP_DATABASE_URL=db_url, PAULP_NATS_URL=s.services.nats_url,
                PAULP_NAMESPACE=namespace, PAULP_EVIDENCE_DIR=s.evidence_root / namespace,
                PAULP_ANCHOR_DATABASE_URL=db_url, PAULP_AUDIT_MIRROR_DIR=s.mirror(namespace))
            container = build(settings, db_url, s.services.nats_url, FixedClock(NOW))
            try:
                _CACHE["facts"] = (_open_orders(container), _replay(container))
            finally:
                container.close()
    facts: tuple[OpenOrderFacts, ReplayFacts] = _CACHE["facts"]
    return facts
