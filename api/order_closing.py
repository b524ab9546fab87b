"""After each reconciliation run: FILLED orders to RECONCILED or RECONCILIATION_DRIFT, closed positions' RECONCILED
orders to ARCHIVED with their PnL (trading §1.4 steps 8-9, §7 "Order-level"; ADR 0410). Decisions are
``domain.order_closing``'s; this module reads the views they need and saves each order on its own.

LIVE orders are judged by the run against Kalshi; PAPER orders by the paper book (trading §7: in PAPER the venue
side is the paper positions), compared here and not in the Kalshi report. Every transition carries the run's id.
An order changed meanwhile by another writer keeps what that writer recorded; the next run looks at it again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from eventsourcing.persistence import IntegrityError

from paulp.domain.order_closing import (
    ExitSale,
    HeldFill,
    OrderVerdict,
    PositionNow,
    archivals,
    verdicts,
)
from paulp.domain.order_states import OrderState
from paulp.domain.reconciliation import Position, ReconciliationRun, exact, reconcile

log = logging.getLogger("paulp.reconcile.orders")

# FILLED orders and the book that judges them: LIVE by the Kalshi venue record's mode (as the run's internal side),
# PAPER by the mode the paper fill recorded.
FILLED_ORDERS = (
    "SELECT o.order_id, o.ticker, o.side, CASE WHEN k.execution_mode = 'LIVE' THEN 'LIVE'"
    " WHEN o.mode = 'PAPER' THEN 'PAPER' END FROM views.orders o"
    " LEFT JOIN views.kalshi_orders k ON k.order_id = o.order_id WHERE o.state = 'FILLED' ORDER BY o.order_id"
)
PAPER_INTERNAL = (  # as the venue run's internal side: bought in PAPER orders, less what PAPER exits sold
    "SELECT ticker, side, sum(n) FROM (SELECT ticker, side, filled_size AS n FROM views.orders"
    " WHERE mode = 'PAPER' AND filled_size > 0 UNION ALL SELECT ticker, side, -filled_size FROM views.position_exits"
    " WHERE mode = 'PAPER' AND state = 'FILLED') f GROUP BY ticker, side HAVING sum(n) <> 0"
)
PAPER_BOOK = (  # trading §1.6: the paper execution rows' filled counts (side lower case), exits' sells taken off
    "SELECT ticker, upper(record->>'side'), sum(CASE WHEN record->>'action' = 'sell' THEN -1 ELSE 1 END"
    " * coalesce((record->>'fill_count')::numeric, 0)) FROM views.kalshi_orders"
    " WHERE execution_mode = 'PAPER' AND ticker IS NOT NULL GROUP BY ticker, upper(record->>'side')"
    " HAVING sum(CASE WHEN record->>'action' = 'sell' THEN -1 ELSE 1 END"
    " * coalesce((record->>'fill_count')::numeric, 0)) <> 0"
)
RECONCILED_POSITIONS = ("SELECT DISTINCT strategy, ticker, side, coalesce(mode, 'LIVE') FROM views.orders"
                        " WHERE state = ANY(%s) ORDER BY 1, 2, 3, 4")
POSITION_FILLS = (
    "SELECT o.order_id, o.state, o.filled_size, o.avg_fill_price, o.fees_cents, o.fees_complete,"
    " (SELECT min(h.at) FROM views.order_history h WHERE h.order_uuid = o.order_uuid"
    "  AND h.to_state IN ('PARTIAL_FILL', 'FILLED')) FROM views.orders o"
    " WHERE o.strategy = %s AND o.ticker = %s AND o.side = %s AND coalesce(o.mode, 'LIVE') = %s"
    " AND o.filled_size > 0 AND o.avg_fill_price IS NOT NULL"
)
POSITION_EXITS = ("SELECT opened_at, filled_size, exit_price, state, fee_cents FROM views.position_exits"
                  " WHERE strategy = %s AND ticker = %s AND side = %s AND mode = %s")
POSITION_NOW = (
    "SELECT (SELECT CASE WHEN p.contracts > 0 THEN coalesce(p.first_fill_at, p.last_fill_at) END"
    "   FROM views.positions p WHERE p.strategy = %(s)s AND p.ticker = %(t)s AND p.side = %(side)s"
    "   AND p.mode = %(mode)s),"
    " (SELECT m.result FROM views.market_marks m WHERE m.ticker = %(t)s)"
)
UNFINISHED_EXITS = ("DECIDED", "IN_DOUBT")


@dataclass
class OrderSteps:
    """What one run did to orders, for the log (the report of the run itself is unchanged)."""

    reconciled: int = 0
    drifted: int = 0
    archived: int = 0
    skipped: int = 0


def filled_orders(container: Any) -> list[tuple[str, str, str, str | None]]:
    """(order id, ticker, side, LIVE|PAPER|None) of every FILLED order. Read before the run reads its internal side,
    so every order listed is in it; an order that fills later waits for the next run."""
    with container.pool.connection() as conn:
        return [(o, t, s, m) for o, t, s, m in conn.execute(FILLED_ORDERS)]


def paper_run(container: Any) -> ReconciliationRun:
    """Our PAPER fills against the paper book, graded by §7 like the venue run."""
    with container.pool.connection() as conn:
        internal = [Position(t, s, n) for t, s, n in conn.execute(PAPER_INTERNAL)]
        book = [Position(t, s, n) for t, s, n in conn.execute(PAPER_BOOK)]
    return reconcile(internal, book)


def close_orders(container: Any, run_id: str, candidates: list[tuple[str, str, str, str | None]],
                 live_run: ReconciliationRun, settled: Iterable[str], venue_read: bool) -> OrderSteps:
    """Step 8 for ``candidates`` (from ``filled_orders``) by the run's result, then step 9 for every RECONCILED
    order whose position is closed. Called only after the run was recorded: a failed run moves nothing. Trouble
    here does not undo the recorded run: it is logged, and the next run (orders still FILLED) tries again."""
    steps = OrderSteps()
    try:
        _close_orders(container, run_id, candidates, live_run, settled, venue_read, steps)
    except Exception:
        log.exception("reconcile %s: order steps stopped; the next run goes on", run_id)
    return steps


def _close_orders(container: Any, run_id: str, candidates: list[tuple[str, str, str, str | None]],
                  live_run: ReconciliationRun, settled: Iterable[str], venue_read: bool, steps: OrderSteps) -> None:
    live = verdicts(((o, t, s) for o, t, s, m in candidates if m == "LIVE"), live_run, settled, venue_read)
    paper_orders = [(o, t, s) for o, t, s, m in candidates if m == "PAPER"]
    paper = verdicts(paper_orders, paper_run(container), (), True) if paper_orders else {}
    moved: dict[str, OrderState] = {}
    for order_id, verdict in sorted({**live, **paper}.items()):
        state = _reconcile_one(container, order_id, verdict, run_id, steps)
        if state is not None:
            moved[order_id] = state
    for key in _positions_to_close(container):
        _archive_position(container, key, run_id, moved, steps)
    if steps.drifted:
        log.warning("reconcile %s: %d orders in RECONCILIATION_DRIFT", run_id, steps.drifted)
    log.info("reconcile %s: orders reconciled %d, drifted %d, archived %d, left %d", run_id, steps.reconciled,
             steps.drifted, steps.archived, steps.skipped)


def _reconcile_one(container: Any, order_id: str, verdict: OrderVerdict, run_id: str,
                   steps: OrderSteps) -> OrderState | None:
    order = container.orders.find(order_id)
    if order is None or order.state != OrderState.FILLED:  # moved since the view was read: left as it is
        steps.skipped += 1
        return None
    order.reconcile(verdict.result, container.clock.now(), {"runId": run_id, "basis": verdict.basis})
    if not _save(container, order):
        steps.skipped += 1
        return None
    if verdict.result.verified:
        steps.reconciled += 1
    else:
        steps.drifted += 1
    state: OrderState = order.state
    return state


def _positions_to_close(container: Any) -> list[tuple[str, str, str, str]]:
    with container.pool.connection() as conn:
        rows = conn.execute(RECONCILED_POSITIONS, ([OrderState.RECONCILED.value, OrderState.FILLED.value],))
        return [(s, t, side, m) for s, t, side, m in rows]


def _archive_position(container: Any, key: tuple[str, str, str, str], run_id: str, moved: dict[str, OrderState],
                      steps: OrderSteps) -> None:
    strategy, ticker, side, mode = key
    with container.pool.connection() as conn:
        fills = [HeldFill(o, moved.get(o, st), n, exact(p), at, fees, complete)
                 for o, st, n, p, fees, complete, at in conn.execute(POSITION_FILLS, key) if at is not None]
        exit_rows = conn.execute(POSITION_EXITS, key).fetchall()
        start, result = conn.execute(POSITION_NOW, {"s": strategy, "t": ticker, "side": side,
                                                    "mode": mode}).fetchone() or (None, None)
    sales = [ExitSale(at, n, Decimal(price), fee) for at, n, price, st, fee in exit_rows if st == "FILLED" and n > 0]
    unfinished = any(st in UNFINISHED_EXITS for *_, st, _fee in exit_rows)
    for archival in archivals(fills, sales, PositionNow(side, start, result, unfinished)):
        order = container.orders.find(archival.order_id)
        if order is None or order.state != OrderState.RECONCILED:
            steps.skipped += 1
            continue
        order.archive(container.clock.now(), float(archival.pnl_usd), archival.closing_notes, {"runId": run_id},
                      float(archival.fees_usd), float(archival.net_pnl_usd), archival.fees_complete)
        if _save(container, order):
            steps.archived += 1
        else:
            steps.skipped += 1


def _save(container: Any, order: Any) -> bool:
    try:
        container.orders.save(order)
    except IntegrityError:  # another writer saved the order first: what it recorded stands
        log.info("order %s changed concurrently; left for the next run", order.order_id)
        return False
    return True
