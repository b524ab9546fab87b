"""Marks for open positions: read each market from the venue (raw body kept as evidence first, by the
client), record its quotes as a MarketMark event. Positions are valued against the market_marks view.
Near a market's close its order book is read too, as an observation for its closing line (ADR 0419)."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from psycopg_pool import ConnectionPool

from paulp.adapters.evidence_store import EvidenceStore, fetch_recorder
from paulp.adapters.kalshi.client import KalshiClient
from paulp.adapters.kalshi.venue import KalshiVenue
from paulp.api.compliance_gate import BLOCKED, admit
from paulp.api.compliance_outcomes import note_failure
from paulp.domain.book_depth import BookLevels
from paulp.domain.closing_lines import observation_due, observation_from_book
from paulp.domain.compliance_outcomes import KALSHI_SOURCE
from paulp.domain.errors import DomainError
from paulp.domain.execution_orders import MarketSnapshot
from paulp.domain.marks import Quotes
from paulp.domain.services.markets import MarketsService
from paulp.projections.reconciliation import NET_ADJUSTMENTS

log = logging.getLogger("paulp.marks")


def open_position_tickers(pool: ConnectionPool[Any]) -> list[str]:
    with pool.connection() as conn:
        return [t for (t,) in conn.execute(
            "SELECT DISTINCT p.ticker FROM (SELECT ticker FROM views.positions WHERE contracts <> 0"
            f" UNION SELECT ticker FROM ({NET_ADJUSTMENTS}) a) p"  # adopted contracts are valued too (ADR 0415)
            " LEFT JOIN views.market_marks m ON m.ticker = p.ticker WHERE m.result IS NULL ORDER BY p.ticker")]


# Markets the closing line needs as well (ADR 0419): orders working at a venue, and filled orders whose market has
# not closed for them yet (a position exited before the close still gets its CLV).
MARKED_TICKERS = (
    "SELECT DISTINCT t.ticker FROM (SELECT p.ticker FROM views.positions p WHERE p.contracts <> 0"
    " UNION SELECT o.ticker FROM views.orders o WHERE o.state IN ('SUBMITTED', 'ORDER_ACKNOWLEDGED', 'PARTIAL_FILL')"
    " OR (o.filled_size > 0 AND o.closing_line_at IS NULL)) t"
    " LEFT JOIN views.market_marks m ON m.ticker = t.ticker WHERE m.result IS NULL ORDER BY t.ticker"
)


def marked_tickers(pool: ConnectionPool[Any]) -> list[str]:
    """Markets the marks job reads: open positions, working orders, filled orders still without a closing line."""
    with pool.connection() as conn:
        return [t for (t,) in conn.execute(MARKED_TICKERS)]


async def observe_for_closing_line(markets: MarketsService, venue: KalshiVenue, snap: MarketSnapshot) -> bool:
    """In the window before the market's close, read its book and keep one observation (ADR 0419); True if
    recorded. A failed read or a one-sided book records nothing: the closing line is never invented."""
    now = markets.clock.now()
    if not observation_due(snap.close_time, snap.category, now):
        return False
    try:
        answer = await venue.get_orderbook(snap.ticker)
    except Exception as exc:  # the mark is already taken; one missed observation lowers the line's quality only
        note_failure(KALSHI_SOURCE, exc)
        log.warning("closing-line observation of %s not taken: %s", snap.ticker, exc)
        return False
    book = answer.value
    observation = observation_from_book(BookLevels.of(book.yes_bids, book.no_bids), now)
    if observation is None:
        return False
    evidence = answer.evidence_hashes[0] if answer.evidence_hashes else None
    return await asyncio.to_thread(markets.record_observation, snap.ticker, observation, snap.close_time,
                                   snap.category, evidence)


async def refresh_marks(markets: MarketsService, venue: KalshiVenue, tickers: list[str]) -> dict[str, str]:
    """One mark per ticker; returns ticker -> "resolved" | "recorded" | "unchanged" | the error code. A
    market that cannot be read keeps its last mark (or none): a valuation is never invented."""
    outcome: dict[str, str] = {}
    for ticker in tickers:
        try:
            answer = await venue.get_market(ticker)
        except Exception as exc:  # one market's failure must not stop the others
            outcome[ticker] = str(getattr(exc, "code", type(exc).__name__))
            note_failure(KALSHI_SOURCE, exc)  # counted once per run and type by the job runner (ADR 0400)
            log.warning("mark for %s not refreshed: %s", ticker, exc)
            continue
        snap = answer.value
        evidence = answer.evidence_hashes[0] if answer.evidence_hashes else None
        try:
            if snap.result is not None:
                done = await asyncio.to_thread(markets.resolve, ticker, snap.result, markets.clock.now(), evidence)
                outcome[ticker] = "resolved" if done else "unchanged"
                continue
            quotes = Quotes(snap.yes_bid, snap.yes_ask, snap.no_bid, snap.no_ask)
            recorded = await asyncio.to_thread(markets.observe, ticker, quotes, markets.clock.now(), evidence)
            await observe_for_closing_line(markets, venue, snap)
        except DomainError as exc:  # impossible quotes, or an outcome that contradicts the recorded one
            outcome[ticker] = exc.code
            log.error("mark for %s refused: %s", ticker, exc)
            continue
        outcome[ticker] = "recorded" if recorded else "unchanged"
    return outcome


async def refresh_open_marks(container: Any) -> dict[str, str]:
    """Scheduled: mark every market with an open position, a working order or a filled order awaiting its closing
    line (none of these, no request), once the compliance gate
    allows Kalshi market data (§7.2). Market data is public: without Kalshi credentials the client still reads
    it, and signs nothing."""
    tickers = await asyncio.to_thread(marked_tickers, container.pool)
    if not tickers:
        return {}
    decision = await asyncio.to_thread(admit, container, "kalshi", "fetch_markets", "marks")
    if not decision.allowed:  # no request; the block is audited, and asked again at the next minute
        return {t: BLOCKED for t in tickers}
    client = KalshiClient.from_env(os.environ, EvidenceStore(container.settings.evidence_dir()),
                                   record=fetch_recorder(container.pool.connection))
    try:
        return await refresh_marks(container.markets, KalshiVenue(client), tickers)
    finally:
        await client.aclose()
