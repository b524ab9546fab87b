"""orders, order_history and positions views from the Order aggregate's events.

Order's apply methods live on OrderRecord, so its events are OrderRecord.* classes (only Created is Order's).
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from psycopg import Cursor

from paulp.domain.order_record import OrderRecord
from paulp.domain.orders import Order


class OrdersProjection:
    name = "orders"
    tables = ("orders", "order_history", "positions")

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events this view does not show."""

    @apply.register
    def _(self, e: Order.Created, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "INSERT INTO orders (order_uuid, order_id, signal_id, strategy, ticker, side, requested_size, max_price,"
            " state, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'PENDING', %s, %s)"
            " ON CONFLICT DO NOTHING",
            (e.originator_id, e.order_id, e.signal_id, e.strategy, e.ticker, e.side, e.requested_size, e.max_price,
             e.created_at, e.created_at),
        )

    @apply.register
    def _(self, e: OrderRecord.Transitioned, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute("UPDATE orders SET state = %s, updated_at = %s WHERE order_uuid = %s",
                    (e.to_state, e.at, e.originator_id))
        cur.execute(
            "INSERT INTO order_history (notification_id, order_uuid, from_state, to_state, reason, at)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (notification_id, e.originator_id, e.from_state, e.to_state, e.reason, e.at),
        )

    @apply.register
    def _(self, e: OrderRecord.RiskChecked, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute("UPDATE orders SET requested_size = %s WHERE order_uuid = %s", (e.requested_size, e.originator_id))

    @apply.register
    def _(self, e: OrderRecord.ErrorRecorded, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute("UPDATE orders SET last_error = %s WHERE order_uuid = %s", (e.message, e.originator_id))

    @apply.register
    def _(self, e: OrderRecord.FillRecorded, cur: Cursor[Any], notification_id: int) -> None:
        row = cur.execute(
            "UPDATE orders SET filled_size = %s, avg_fill_price = %s, updated_at = %s WHERE order_uuid = %s"
            " RETURNING strategy, ticker, side",
            (e.filled_size, e.avg_fill_price, e.at, e.originator_id),
        ).fetchone()
        if row is None:
            raise LookupError(f"fill for unknown order {e.originator_id}")
        cost = round(e.fill_size * e.fill_price)
        cur.execute(
            "INSERT INTO positions (strategy, ticker, side, contracts, cost_cents, first_fill_at, last_fill_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (strategy, ticker, side) DO UPDATE SET"
            " contracts = positions.contracts + EXCLUDED.contracts,"
            " cost_cents = positions.cost_cents + EXCLUDED.cost_cents, last_fill_at = EXCLUDED.last_fill_at,"
            " first_fill_at = coalesce(positions.first_fill_at, EXCLUDED.first_fill_at)",
            (*row, e.fill_size, cost, e.at, e.at),
        )
