"""Contracts a DR rebuild adopted (ADR 0415) as the exit monitor and an operator's close see them: what is still
held per (market, SIDE), the episode its exits belong to (the last adoption), and the entry: the venue's average
cost recorded at adoption, or None when it gave no usable one, and then no rule judges them (ADR 0450)."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

from paulp.domain.position_rebuild import adopted_entry
from paulp.domain.reconciliation import json_number
from paulp.projections.reconciliation import ADJUSTED_STRATEGY, NET_ADJUSTMENTS

ADOPTED = (  # adopted contracts still held per (market, SIDE), and the exits of their episode that filled
    "SELECT a.ticker, a.side, a.contracts, a.at, (SELECT count(*) FROM views.position_exits x WHERE x.strategy ="
    " %(s)s AND x.ticker = a.ticker AND x.side = a.side AND x.mode = 'LIVE' AND x.state = 'FILLED'"
    " AND x.opened_at = a.at), m.yes_bid, m.yes_ask, m.no_bid, m.no_ask, m.observed_at, m.result"
    f" FROM ({NET_ADJUSTMENTS}) a LEFT JOIN views.market_marks m ON m.ticker = a.ticker"
    " WHERE a.contracts > 0 AND (%(t)s::text IS NULL OR (a.ticker = %(t)s AND a.side = %(side)s))"
    " ORDER BY a.ticker, a.side"
)
ADOPTED_MOVES = (  # what made them, in time order: adjustments with the venue's cost, then sold by filled exits
    "SELECT ticker, side, contracts, venue_cost_cents, venue_size FROM ("
    " SELECT ticker, side, at, contracts, venue_cost_cents, venue_size, 0 AS k FROM views.position_adjustments"
    " UNION ALL SELECT ticker, side, updated_at, -filled_size, NULL, NULL, 1 FROM views.position_exits"
    " WHERE strategy = %(s)s AND mode = 'LIVE' AND state = 'FILLED') moves"
    " WHERE %(t)s::text IS NULL OR (ticker = %(t)s AND side = %(side)s) ORDER BY ticker, side, at, k"
)


def adopted_rows(conn: Any, ticker: str | None = None, side: str | None = None,
                 entries: dict[tuple[str, str], Fraction] | None = None) -> list[tuple[Any, ...]]:
    """Adopted contracts still held (ADR 0415), each as (ticker, side, contracts held, average entry from the
    venue's cost or None, the last adoption's time, exits of that episode filled, marks…) (ADR 0450). ``entries``:
    the exact entries already read (``adopted_exact_entries`` for the same ticker and side), so a caller that needs
    both reads the adoption moves once."""
    params = {"s": ADJUSTED_STRATEGY, "t": ticker, "side": side}
    entries = adopted_exact_entries(conn, ticker, side) if entries is None else entries
    return [(t, sd, held, _decimal(entries.get((t, sd))), at, int(exits), *marks)
            for t, sd, held, at, exits, *marks in conn.execute(ADOPTED, params).fetchall()]


def adopted_exact_entries(conn: Any, ticker: str | None = None,
                          side: str | None = None) -> dict[tuple[str, str], Fraction]:
    """The average entry of the adopted contracts still held, exactly, per (market, SIDE) that has one: the exit
    monitor judges the bands on it (100 cents for 3 contracts is 100/3, not a rounded 33.33…; ADR 0463)."""
    params = {"s": ADJUSTED_STRATEGY, "t": ticker, "side": side}
    moves: dict[tuple[str, str], list[tuple[Decimal, Fraction | None]]] = {}
    for t, sd, contracts, cost, venue_size in conn.execute(ADOPTED_MOVES, params).fetchall():
        unit = None if cost is None else Fraction(Decimal(cost)) / Fraction(Decimal(venue_size))
        moves.setdefault((t, sd), []).append((Decimal(contracts), unit))
    found = {key: adopted_entry(m) for key, m in moves.items()}
    return {key: entry for key, entry in found.items() if entry is not None}


def _decimal(entry: Fraction | None) -> Decimal | None:
    """The entry as the positions view and the operator's close use it (a Decimal, rounded once)."""
    return None if entry is None else Decimal(entry.numerator) / Decimal(entry.denominator)


def adopted_one(conn: Any, ticker: str, side: str) -> tuple[Any, ...] | None:
    """Adopted contracts as a position row: whole contracts only (a fraction is not ours to sell), the venue's
    average cost as the entry where it is known (else None)."""
    found = adopted_rows(conn, ticker, side)
    if not found:
        return None
    _, _, contracts, entry, at, exits, *marks = found[0]
    return (math.floor(contracts), entry, at, exits, *marks)


def judgeable(report: dict[str, Any], adopted: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Adopted contracts as the monitor's position rows (whole contracts, strategy ``venue-adjustment``, LIVE);
    those it cannot judge (no venue cost, or only a fraction held) are named in the report (ADR 0450). A row
    without a cost stays in, with no entry, so that an exit already under way (an operator's close) is finished."""
    rows = []
    for ticker, side, held, entry, at, exits, *marks in adopted:
        whole = math.floor(held)
        if entry is None or whole < 1:
            report["unjudgedAdopted"].append({
                "ticker": ticker, "side": side, "contracts": json_number(Decimal(held)),
                "reason": "no venue cost recorded at adoption" if entry is None else "only a fraction held"})
        if whole >= 1:
            rows.append((ADJUSTED_STRATEGY, ticker, side, "LIVE", whole, None if entry is None else float(entry), at,
                         exits, *marks))
    return rows
