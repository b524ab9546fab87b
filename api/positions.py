"""Positions valued against the market marks (ADR 0166): one query and one valuation rule for
``GET /admin/positions`` and the dashboard. A position in a market whose outcome is known is "resolved":
it is worth the settlement price, and the difference to its entry is realised."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from psycopg_pool import ConnectionPool

from paulp.api.adopted_positions import adopted_rows
from paulp.domain.marks import Quotes, settlement_price_cents, unrealized_pnl_usd
from paulp.projections.reconciliation import ADJUSTED_STRATEGY, NET_ADJUSTMENTS

ADJUSTED = ADJUSTED_STRATEGY  # the strategy column of contracts a rebuild adopted from the venue (ADR 0415)
QUERY = (
    "SELECT p.strategy, p.ticker, p.side, p.mode, p.contracts, p.cost_cents, p.realized_pnl_usd,"
    " coalesce(p.first_fill_at, p.last_fill_at), p.last_fill_at,"
    " m.yes_bid, m.yes_ask, m.no_bid, m.no_ask, m.observed_at, m.result, m.resolved_at,"
    " p.fees_cents, p.fees_complete FROM ("
    " SELECT strategy, ticker, side, mode, contracts::numeric, cost_cents, realized_pnl_usd, first_fill_at,"
    " last_fill_at, fees_cents, fees_complete FROM views.positions UNION ALL"
    f" SELECT '{ADJUSTED}', ticker, side, 'LIVE', contracts, NULL, 0, at, at, 0, true"
    f" FROM ({NET_ADJUSTMENTS}) a) p"
    " LEFT JOIN views.market_marks m ON m.ticker = p.ticker"
    " WHERE (p.contracts <> 0 OR %(closed)s) AND (%(s)s::text IS NULL OR p.strategy = %(s)s)"
    " ORDER BY p.strategy, p.ticker, p.side, p.mode"
)


@dataclass(frozen=True)
class ValuedPosition:
    strategy: str
    ticker: str
    side: str
    mode: str  # "PAPER" | "LIVE": paper and LIVE contracts are separate positions (ADR 0262)
    contracts: int | Decimal  # a Decimal only for a fraction of a contract a rebuild adopted (Kalshi fixed point)
    cost_cents: int
    realized_pnl_usd: Decimal
    first_fill_at: datetime
    last_fill_at: datetime
    avg_entry_cents: Decimal
    current_cents: Decimal  # settlement price; else side mid from the last mark; else the entry price
    marked_at: datetime | None  # when that price was observed (resolution time); None when valued at entry
    unrealized_pnl_usd: Decimal
    status: str  # "open" | "resolved" | "closed" (sold out by exits; listed only when asked for) | "adjusted"
    resolved_at: datetime | None
    fees_cents: Decimal = Decimal(0)  # known fees of its fills and exit sells (ADR 0437); gross figures exclude them
    fees_complete: bool = True  # False: some fill's fee is not known (recorded before fees, or not reported)

    @property
    def net_realized_pnl_usd(self) -> Decimal:
        """Realised PnL less every fee the position paid so far (entry and exit): cash out, net."""
        return self.realized_pnl_usd - self.fees_cents / 100


def valued_positions(pool: ConnectionPool[Any], strategy: str | None = None,
                     include_closed: bool = False) -> list[ValuedPosition]:
    """Positions holding contracts; with ``include_closed`` also those the exits sold out, whose PnL is
    all realised."""
    with pool.connection() as conn:
        rows = conn.execute(QUERY, {"s": strategy, "closed": include_closed}).fetchall()
        entries = {(t, side): entry for t, side, _, entry, *_ in adopted_rows(conn)} \
            if strategy in (None, ADJUSTED) else {}
    out = []
    for (s, t, side, mode, size, cost, pnl, first, last, yb, ya, nb, na, observed, result, resolved_at, fees,
         complete) in rows:
        c = int(size) if size == size.to_integral_value() else size
        if cost is None:  # adopted contracts pay no fee of ours (the query's 0 and true are the defaults)
            out.append(_adjusted(s, t, side, mode, c, first, Quotes(yb, ya, nb, na) if observed else None, observed,
                                 result, resolved_at, entries.get((t, side))))
            continue
        paid = {"fees_cents": Decimal(fees), "fees_complete": complete}  # beside the gross figures (ADR 0437)
        avg = Decimal(cost) / c if c else Decimal(0)
        if result is not None:
            settled = settlement_price_cents(result, side, avg)
            realized = Decimal(pnl) + unrealized_pnl_usd(avg, settled, c)
            out.append(ValuedPosition(s, t, side, mode, c, cost, realized, first, last, avg, settled, resolved_at,
                                      Decimal(0), "resolved", resolved_at, **paid))
            continue
        if c == 0:
            out.append(ValuedPosition(s, t, side, mode, c, cost, Decimal(pnl), first, last, avg, avg, None,
                                      Decimal(0), "closed", None, **paid))
            continue
        price = Quotes(yb, ya, nb, na).side_price(side) if observed is not None else None
        current = Decimal(repr(price)) if price is not None else avg
        out.append(ValuedPosition(s, t, side, mode, c, cost, Decimal(pnl), first, last, avg, current,
                                  observed if price is not None else None, unrealized_pnl_usd(avg, current, c),
                                  "open", None, **paid))
    return out


def _adjusted(strategy: str, ticker: str, side: str, mode: str, contracts: int | Decimal, at: datetime,
              quotes: Quotes | None, observed: datetime | None, result: str | None,
              resolved_at: datetime | None, entry: Decimal | None = None) -> ValuedPosition:
    """Contracts a rebuild adopted (ADR 0415), valued at the settlement price, else the side mid of the last mark.
    Their entry is the venue's average cost recorded at adoption, the one the exit monitor judges them against
    (ADR 0450); without one, the price they are valued at is their entry (else 0, unpriced): no PnL is made up."""
    price = quotes.side_price(side) if quotes is not None else None
    if result is not None:
        current, marked = settlement_price_cents(result, side, Decimal(0)), resolved_at
    elif price is not None:
        current, marked = Decimal(repr(price)), observed
    else:
        current, marked = (entry if entry is not None else Decimal(0)), None
    avg = current if entry is None else entry
    cost = int((avg * contracts).to_integral_value(ROUND_HALF_UP))
    return ValuedPosition(strategy, ticker, side, mode, contracts, cost, Decimal(0), at, at, avg, current, marked,
                          Decimal(0) if entry is None else unrealized_pnl_usd(avg, current, contracts), "adjusted",
                          resolved_at)


EXITS_SINCE = (
    "SELECT strategy, ticker, side, mode, filled_size, realized_pnl_usd, updated_at FROM views.position_exits"
    " WHERE state = 'FILLED' AND updated_at >= %s ORDER BY updated_at, exit_uuid"
)


@dataclass(frozen=True)
class ClosedByExit:
    """Contracts an exit sold (ADR 0260): closed at the exit price, its PnL realised then."""

    strategy: str
    ticker: str
    side: str
    mode: str
    contracts: int
    realized_pnl_usd: Decimal
    closed_at: datetime


def exits_filled_since(pool: ConnectionPool[Any], since: datetime) -> list[ClosedByExit]:
    with pool.connection() as conn:
        rows = conn.execute(EXITS_SINCE, (since,)).fetchall()
    return [ClosedByExit(s, t, side, mode, int(n), Decimal(pnl), at) for s, t, side, mode, n, pnl, at in rows]
