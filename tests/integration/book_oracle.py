"""The risk check's loss figures as they were computed before ADR 0521: every exit, entry fee and resolved position
of the book read on every check and folded from the first. Kept as the oracle the bounded reading must equal.

The one change: the old reads had no ORDER BY, so rows with equal times came in the heap's order; the oracle
orders them as the new reading does (exits by exit id, fills by notification id, resolutions by ticker and side;
the open positions' unrealised PnL is summed in the heap's order in both),
so that a tie is decided the same way in both (a tie's order can move the peak)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from psycopg import Connection

from paulp.domain.exact import as_written_decimal
from paulp.domain.marks import Quotes, settlement_price_cents, unrealized_pnl_usd

CENTS = Decimal(100)
_EXITS = ("SELECT realized_pnl_usd, fee_cents, updated_at FROM views.position_exits"
          " WHERE state = 'FILLED' AND realized_pnl_usd IS NOT NULL AND strategy = ANY(%s) AND mode = %s"
          " ORDER BY updated_at, exit_uuid")
_ENTRY_FEES = ("SELECT fee_cents, filled_at FROM views.order_fills"
               " WHERE strategy = ANY(%s) AND mode = %s AND fee_cents IS DISTINCT FROM 0"
               " ORDER BY filled_at, notification_id")
_BOOK = (
    "SELECT p.ticker, p.side, p.contracts, p.cost_cents, m.yes_bid, m.yes_ask, m.no_bid, m.no_ask, m.observed_at,"
    " m.result, m.resolved_at FROM views.positions p LEFT JOIN views.market_marks m ON m.ticker = p.ticker"
    " WHERE p.contracts > 0 AND p.strategy = ANY(%s) AND p.mode = %s"
)


def _usd(fee_cents: Any) -> Decimal | None:
    return None if fee_cents is None else Decimal(fee_cents) / CENTS


def old_figures(conn: Connection[Any], names: list[str], mode: str, capital: float,
                now: datetime) -> tuple[tuple[float, float, float], tuple[float, float, float, int, int, int] | None]:
    """((daily, weekly, drawdown), (daily fees, weekly, total, unknown daily, weekly, total) or None)."""
    closes: list[tuple[datetime, Decimal]] = []
    fees: list[tuple[datetime, Decimal | None]] = []
    for pnl, fee, at in conn.execute(_EXITS, (names, mode)).fetchall():
        closes.append((at, Decimal(pnl) - (_usd(fee) or 0)))
        fees.append((at, _usd(fee)))
    for fee, at in conn.execute(_ENTRY_FEES, (names, mode)).fetchall():
        if fee is not None:
            closes.append((at, -Decimal(fee) / CENTS))
        fees.append((at, _usd(fee)))
    unrealised = Decimal(0)
    settled = []
    for ticker, side, contracts, cost, yb, ya, nb, na, observed, result, resolved_at in conn.execute(
            _BOOK, (names, mode)).fetchall():
        avg = Decimal(cost) / contracts
        if result is not None:
            settled.append((resolved_at, ticker, side,
                            unrealized_pnl_usd(avg, settlement_price_cents(result, side, avg), contracts)))
            continue
        price = Quotes(yb, ya, nb, na).side_price(side) if observed is not None else None
        current = Decimal(repr(price)) if price is not None else avg
        unrealised += unrealized_pnl_usd(avg, current, contracts)
    closes += [(at, pnl) for at, _, _, pnl in sorted(settled, key=lambda s: s[:3])]
    paid_fees = tuple(f for f in fees if f[1] != 0)
    midnight, week = now.replace(hour=0, minute=0, second=0, microsecond=0), now - timedelta(days=7)
    figures = (loss_window_pnl(closes, unrealised, midnight), loss_window_pnl(closes, unrealised, week),
               current_drawdown(capital, closes, unrealised))
    if not paid_fees:
        return figures, None

    def paid(since: datetime | None) -> tuple[float, int]:
        inside = [fee for at, fee in paid_fees if since is None or at >= since]
        return float(sum((f for f in inside if f is not None), Decimal(0))), sum(f is None for f in inside)

    (daily, u_daily), (weekly, u_weekly), (total, u_total) = paid(midnight), paid(week), paid(None)
    return figures, (daily, weekly, total, u_daily, u_weekly, u_total)


def loss_window_pnl(closes: Sequence[tuple[datetime, Decimal]], unrealised: Decimal, since: datetime) -> float:
    return float(sum((pnl for at, pnl in closes if at >= since), Decimal(0)) + unrealised)


def current_drawdown(capital: float, closes: Sequence[tuple[datetime, Decimal]], unrealised: Decimal) -> float:
    equity = peak = as_written_decimal(capital)
    for _, pnl in sorted(closes, key=lambda c: c[0]):
        equity += pnl
        peak = max(peak, equity)
    equity += unrealised
    return float((peak - equity) / peak) if peak > 0 and equity < peak else 0.0
