"""The exit monitor (trading §3.5, every 5 minutes; ADR 0260): each open position against its exit rules.

A position is judged at the side mid of its last mark, and only if that mark is fresh: on a stale or
missing mark nothing is decided (a stop must not fire on an old price, nor be skipped silently — the
report lists it). Nor on a one-sided book (Kalshi's bid 0 / ask 100, ADR 0305): no rule fires on a mid half
made of the 50-cent stand-in; the report lists it under ``noQuote`` and only an unfinished exit is carried on.
Resolved markets are left to settlement: no exit is decided there, and one left unfinished (a LIVE sell in
doubt) is only looked up at Kalshi by client order id, never sent. A position is exited in its own mode
(positions are kept per mode, ADR 0262): paper on paper, LIVE at Kalshi, whatever its strategy's status is now.
Exits run in every breaker state: HALT stops new risk, and closing is what the operator docs leave open in
HALT. A LIVE exit never sells more than Kalshi says we hold (read once per run): on Kalshi, selling what is
not held opens the opposite position. A fraction of a contract held there is not ours to sell: only the whole
contracts below it are, and the position is listed under ``fractionalHeld`` (reconciliation grades it by §7's
bands; ADRs 0331, 0362). Contracts a DR rebuild adopted (strategy ``venue-adjustment``, LIVE) are judged by the
same rules against the venue's average cost recorded at adoption, held since the last adoption; without a usable
venue cost they are not judged and the report names them under ``unjudgedAdopted`` (ADR 0450). No LIVE sell is
sent while a position rebuild holds the venue (ADR 0480): such a run or close fails with ``rebuild_in_progress``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import replace
from datetime import datetime, timedelta
from fractions import Fraction
from functools import partial
from typing import Any

from paulp.api.adopted_positions import adopted_exact_entries, adopted_one, adopted_rows, judgeable
from paulp.api.advisory_locks import live_sells
from paulp.api.venue_session import credentialed_port_if, venue_call
from paulp.domain.exits import (
    CloseRefused,
    PositionNotOpen,
    evaluate_exit,
    holding_hours,
    operator_close,
    realized_pnl,
)
from paulp.domain.marks import Quotes
from paulp.domain.position_exits import ExitState, PositionExit
from paulp.domain.reconciliation import Position, json_number
from paulp.domain.services.base import retry_on_conflict
from paulp.domain.services.exits import ExitCandidate
from paulp.projections.reconciliation import ADJUSTED_STRATEGY

log = logging.getLogger("paulp.exits")
MAX_MARK_AGE = timedelta(minutes=10)  # either way: a mark stamped this far after now predates a step back (ADR 0522)
UNFINISHED = (ExitState.DECIDED, ExitState.IN_DOUBT)
LOCK_WAIT_S = 5.0  # a LIVE sell waits this long for a position rebuild to finish, then is refused (ADR 0480)
POSITION_ROWS = (
    "SELECT p.strategy, p.ticker, p.side, p.mode, p.contracts, p.cost_cents,"
    " coalesce(p.first_fill_at, p.last_fill_at), p.exits, m.yes_bid, m.yes_ask, m.no_bid, m.no_ask, m.observed_at,"
    " m.result FROM views.positions p LEFT JOIN views.market_marks m ON m.ticker = p.ticker"
)
OPEN_POSITIONS = POSITION_ROWS + " WHERE p.contracts > 0 ORDER BY p.strategy, p.ticker, p.side, p.mode"
ONE_POSITION = POSITION_ROWS + " WHERE p.strategy = %s AND p.ticker = %s AND p.side = %s AND p.mode = %s"
CLOSING_EXIT = (  # a closed position (no contracts) and its last exit, if that exit filled after the last buy
    "SELECT e.exit_uuid FROM views.positions p JOIN views.position_exits e ON (e.strategy, e.ticker, e.side, e.mode)"
    " = (p.strategy, p.ticker, p.side, p.mode) WHERE p.strategy = %s AND p.ticker = %s AND p.side = %s AND p.mode = %s"
    " AND p.contracts = 0 AND e.state = 'FILLED' AND e.updated_at >= p.last_fill_at"
    " ORDER BY e.updated_at DESC, e.decided_at DESC LIMIT 1"
)


def mark_stale(observed: datetime | None, now: datetime) -> bool:
    """No mark, or one more than ``MAX_MARK_AGE`` from ``now`` either way (ahead: read before the clock stepped
    back, ADRs 0522/0526): the exit monitor does not judge it and an operator close does not sell at it."""
    return observed is None or abs(now - observed) > MAX_MARK_AGE


def monitor_exits(container: Any) -> dict[str, Any]:
    started = time.monotonic()
    now = container.clock.now()
    with container.pool.connection() as conn:
        fetched = conn.execute(OPEN_POSITIONS).fetchall()
        rows = [(s, t, side, mode, n, cost / n, *rest) for s, t, side, mode, n, cost, *rest in fetched]
        # the average entry exactly, for judging the exit bands (ADR 0460): 100 cents over 3 contracts is 100/3
        exact_entries = {(s, t, side, mode): Fraction(cost) / Fraction(n) for s, t, side, mode, n, cost, *_ in fetched
                         if cost is not None and n}
        adopted_entries = adopted_exact_entries(conn)
        adopted = adopted_rows(conn, entries=adopted_entries)
        exact_entries.update({(ADJUSTED_STRATEGY, t, sd, "LIVE"): entry  # the venue's cost exactly too (ADR 0463)
                              for (t, sd), entry in adopted_entries.items()})
    report: dict[str, Any] = {"positions": len(rows), "adopted": len(adopted), "checked": 0, "exits": [],
                              "staleMarks": [], "noQuote": [], "errors": [], "notHeld": [], "fractionalHeld": [],
                              "unjudgedAdopted": [], "resolved": 0}
    rows += judgeable(report, adopted)
    work: list[tuple[ExitCandidate, Any]] = []
    settled: list[ExitCandidate] = []  # LIVE positions in resolved markets: only an unfinished exit is finished
    for strategy, ticker, side, mode, contracts, entry, opened, exits, yb, ya, nb, na, observed, result in rows:
        if result is not None:
            report["resolved"] += 1
            if mode == "LIVE":
                known = entry if entry is not None else 0.0  # adopted without a cost: no entry to book
                settled.append(ExitCandidate(strategy, ticker, side, mode, opened, exits, contracts, known, known,
                                             None))
            continue
        quotes = Quotes(yb, ya, nb, na)
        if mark_stale(observed, now) or quotes.side_price(side) is None:
            report["staleMarks"].append({"strategy": strategy, "ticker": ticker, "side": side, "mode": mode,
                                         "markedAt": observed.isoformat() if observed else None})
            continue
        judged = entry is not None  # adopted contracts without a venue cost: only an unfinished exit goes on
        current = quotes.two_sided_price(side)
        seen = quotes.side_price(side) or 0.0
        entry_cents: float = entry if entry is not None else (current if current is not None else seen)
        if current is None:  # a side of the held book is empty: no rule fires on it; an unfinished exit goes on
            report["noQuote"].append({"strategy": strategy, "ticker": ticker, "side": side, "mode": mode,
                                      "markedAt": observed.isoformat()})
            work.append((ExitCandidate(strategy, ticker, side, mode, opened, exits, contracts, entry_cents,
                                       seen or entry_cents, quotes.side_bid(side)), None))
            continue
        report["checked"] += judged
        candidate = ExitCandidate(strategy, ticker, side, mode, opened, exits, contracts, entry_cents, current,
                                  quotes.side_bid(side))
        exact_entry = exact_entries.get((strategy, ticker, side, mode), entry_cents)
        decision = evaluate_exit(exact_entry, current, holding_hours(opened, now), contracts) \
            if judged and 0 < entry_cents < 100 else None
        work.append((candidate, decision))
    settled = [c for c in settled if _state(container.exits.find(c)) in UNFINISHED]
    if not work and not settled:
        report["durationMs"] = _ms(started)
        return report
    # an unfinished LIVE exit is resumed at the venue even when its rule no longer fires; looked up once here.
    # A new sell is a new decision or a failed one decided again: each is capped at what Kalshi holds.
    runs = [(c, d, _state(container.exits.find(c)) if c.mode == "LIVE" else None) for c, d in work]
    needs_venue = bool(settled) or any(c.mode == "LIVE" and (d is not None or found in UNFINISHED)
                                       for c, d, found in runs)
    sells = live_sells(container, LOCK_WAIT_S) if needs_venue else nullcontext()  # never beside a rebuild
    with sells, credentialed_port_if(needs_venue, container.settings, "a LIVE position cannot be exited") as port:
        for candidate in settled:
            _run_one(report, candidate, partial(container.exits.finish_after_resolution, candidate, port))
        held: dict[tuple[str, str], int] = {}
        if port is not None and runs:
            held = _whole_held(report, venue_call("positions read", port.positions).positions)
        for candidate, decision, found in runs:
            if candidate.mode == "LIVE" and decision is not None and found in (None, ExitState.FAILED):
                capped = _capped_to_held(candidate, held)
                if capped is None:
                    report["notHeld"].append({"strategy": candidate.strategy, "ticker": candidate.ticker,
                                              "side": candidate.side, "contracts": candidate.contracts})
                    continue
                candidate = capped
            ex = _run_one(report, candidate, partial(container.exits.exit_position, candidate, decision,
                                                     port if candidate.mode == "LIVE" else None))
            if ex is not None and candidate.mode == "LIVE" and found not in (ExitState.FILLED, ExitState.IN_DOUBT) \
                    and ex.state in (ExitState.FILLED, ExitState.IN_DOUBT):
                key = (candidate.ticker, candidate.side)  # sold (or maybe sold) now: no longer held for the next
                held[key] = held.get(key, 0) - ex.contracts
    report["durationMs"] = _ms(started)
    return report


def close_position(container: Any, strategy: str, ticker: str, side: str, mode: str, operator: str,
                   note: str, dry_run: bool = False) -> dict[str, Any]:
    """An operator closes a whole open position now (ADR 0440; "HALT may only close positions"): the same
    exit as the monitor's, with reason OPERATOR_CLOSE and who asked and why in its decision, in any breaker
    state. Refused, with nothing recorded, where the monitor would not sell either: a resolved market (it
    settles), no fresh two-sided mark (no price to book or sell at), and for LIVE nothing held at Kalshi. An
    exit of this position already under way is carried on as it was decided, never sent twice. Contracts a
    rebuild adopted (strategy ``venue-adjustment``, LIVE only) are closed the same way, their whole contracts.
    ``dry_run``: every check made (Kalshi's holdings read for LIVE), what would be sold returned, nothing
    recorded or sent. When another writer saves the exit meanwhile, the close goes on from what it recorded (a
    monitor's sale of it is the close's answer)."""
    with container.pool.connection() as conn:
        if strategy == ADJUSTED_STRATEGY:
            found = adopted_one(conn, ticker, side) if mode == "LIVE" else None
        else:
            row = conn.execute(ONE_POSITION, (strategy, ticker, side, mode)).fetchone()
            found = None if row is None or row[4] <= 0 else (row[4], row[5] / row[4], *row[6:])
    if found is None:
        closed = None if dry_run or strategy == ADJUSTED_STRATEGY else _closing_exit(container, strategy, ticker,
                                                                                      side, mode)
        if closed is not None:  # a retried close whose first answer was lost: that close's exit (ADR 0517)
            return {**_closed(strategy, ticker, side, closed), "alreadyClosed": True}
        raise PositionNotOpen(f"no open {mode} position of {strategy} in {ticker} {side}")
    contracts, entry, opened, exits, yb, ya, nb, na, observed, result = found
    if result is not None:
        raise CloseRefused(f"{ticker} resolved {result}: the position settles, there is nothing to sell")
    quotes, now = Quotes(yb, ya, nb, na), container.clock.now()
    if mark_stale(observed, now):
        seen = observed.isoformat() if observed else "never"
        raise CloseRefused(f"no fresh mark of {ticker} (last {seen}; at most {MAX_MARK_AGE} from now either way):"
                           " no price to close at; the marks job refreshes it")
    current = quotes.two_sided_price(side)
    # adopted contracts: the venue's cost (ADR 0450), else no entry known and no PnL made up (ADR 0415)
    entry = current if entry is None else float(entry)
    if current is None or entry is None or not 0 < entry < 100:
        raise CloseRefused(f"{ticker} {side} has no two-sided quote (or an impossible entry {entry}): no price to"
                           " close at")
    if contracts < 1:
        raise CloseRefused(f"only a fraction of a {ticker} {side} contract ({contracts}) is held: not sellable")
    candidate = ExitCandidate(strategy, ticker, side, mode, opened, exits, int(contracts), float(entry), current,
                              quotes.side_bid(side))
    decision = operator_close(float(entry), current, int(contracts))
    under_way = container.exits.find(candidate)
    sells = live_sells(container, LOCK_WAIT_S) if mode == "LIVE" and not dry_run else nullcontext()
    with sells, credentialed_port_if(mode == "LIVE", container.settings, "a LIVE position cannot be closed") as port:
        if port is not None and _state(under_way) in (None, ExitState.FAILED):
            held = _whole_held({"fractionalHeld": []}, venue_call("positions read", port.positions).positions)
            capped = _capped_to_held(candidate, held)
            if capped is None:
                raise CloseRefused(f"Kalshi holds no {ticker} {side} contracts: nothing to sell (reconcile first)")
            candidate = capped
        if dry_run:
            return _preview(candidate, under_way)
        # another writer (the monitor, a second close) saving this exit between its load and save: carried on as
        # that writer left it, looked up again (a LIVE sell at Kalshi by client order id first; ADR 0512)
        ex = retry_on_conflict(lambda: container.exits.exit_position(candidate, decision, port, operator, note))
    if ex is None:
        raise CloseRefused("the previous exit's sell of this position still rests at Kalshi and could not be"
                           " cancelled; nothing sent beside it")
    return _closed(strategy, ticker, side, ex)


def _closed(strategy: str, ticker: str, side: str, ex: PositionExit) -> dict[str, Any]:
    return {"strategy": strategy, "ticker": ticker, "side": side, "mode": ex.mode, "reason": ex.reason.value,
            "requestedBy": ex.requested_by, "note": ex.note, "state": ex.state.value, "contracts": ex.contracts,
            "exitPrice": ex.exit_price, "realizedPnlUsd": ex.realized_pnl_usd, "detail": ex.detail,
            "clientOrderId": ex.client_order_id}


def _closing_exit(container: Any, strategy: str, ticker: str, side: str, mode: str) -> PositionExit | None:
    """The exit that sold this position out, when it is closed (a row with no contracts) and its last exit filled
    after its last buy: what a close asked for again, once the first one sold it, answers with (ADR 0517). None
    for a position never held, or one whose last exit is not what closed it."""
    with container.pool.connection() as conn:
        row = conn.execute(CLOSING_EXIT, (strategy, ticker, side, mode)).fetchone()
    if row is None:
        return None
    ex: PositionExit | None = container.exits.app.get_or_none(row[0])
    return ex if ex is not None and ex.state is ExitState.FILLED else None


def _preview(c: ExitCandidate, found: PositionExit | None) -> dict[str, Any]:
    """What a close would do now: the contracts and the price (LIVE: the bid it would sell at; PAPER: the mark),
    or the exit already under way (``found``) that it would carry on instead."""
    price = c.current_cents if c.mode == "PAPER" else c.bid_cents
    return {"dryRun": True, "strategy": c.strategy, "ticker": c.ticker, "side": c.side, "mode": c.mode,
            "contracts": c.contracts, "price": price, "entryPrice": c.entry_cents,
            "estimatedPnlUsd": None if price is None else round(realized_pnl(c.entry_cents, price, c.contracts) / 100,
                                                                6),
            "exitUnderWay": None if found is None or found.state is ExitState.FAILED else found.state.value}


def _capped_to_held(c: ExitCandidate, held: dict[tuple[str, str], int]) -> ExitCandidate | None:
    """A LIVE sell never takes more than Kalshi holds: the candidate cut to the whole contracts held, None when
    none are (selling what Kalshi says we do not hold would open the opposite position)."""
    at_venue = held.get((c.ticker, c.side), 0)
    return None if at_venue < 1 else replace(c, contracts=min(c.contracts, at_venue))


def _whole_held(report: dict[str, Any], positions: Iterable[Position]) -> dict[tuple[str, str], int]:
    """What Kalshi holds per (market, SIDE), in the whole contracts a sell may take: a fraction (a position our
    whole-contract orders cannot have made) is left below, never rounded up, and listed."""
    held: dict[tuple[str, str], int] = {}
    for p in positions:
        held[(p.market_id, p.side)] = math.floor(p.size)
        if p.size != p.size.to_integral_value():
            log.warning("Kalshi holds %s %s %s contracts: a fraction; at most %d sold", p.size, p.market_id, p.side,
                        math.floor(p.size))
            report["fractionalHeld"].append({"ticker": p.market_id, "side": p.side, "atVenue": json_number(p.size)})
    return held


def _run_one(report: dict[str, Any], candidate: ExitCandidate,
             step: Callable[[], PositionExit | None]) -> PositionExit | None:
    """One position's exit step, listed in the report; its trouble (a venue refusal, a conflict) must not keep
    the others' stops from firing. Its exit stays as it was saved; the next run asks the venue by client order
    id first."""
    try:
        ex = step()
    except Exception as exc:
        log.exception("exit of %s %s %s (%s) failed", candidate.strategy, candidate.ticker, candidate.side,
                      candidate.mode)
        report["errors"].append({"strategy": candidate.strategy, "ticker": candidate.ticker,
                                 "side": candidate.side, "mode": candidate.mode, "error": type(exc).__name__})
        return None
    if ex is not None:
        report["exits"].append({
            "strategy": candidate.strategy, "ticker": candidate.ticker, "side": candidate.side,
            "mode": ex.mode, "reason": ex.reason.value, "state": ex.state.value, "contracts": ex.contracts,
            "exitPrice": ex.exit_price, "realizedPnlUsd": ex.realized_pnl_usd, "detail": ex.detail,
            "clientOrderId": ex.client_order_id})
    return ex


def _state(found: PositionExit | None) -> ExitState | None:
    return found.state if found is not None else None


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
