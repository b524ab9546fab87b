"""The rows of the regulatory export (ADR 0371): orders from the orders view, created in a period, that went
to the venue in one of the given execution modes, and the sells of filled position exits decided in the period
in those modes (ADR 0414): an exit's sell is an order at the venue too, ``action`` tells the two apart. An exit's
id is the client order id its filled attempt was sent under (``PositionExit.client_order_id``).

An order's mode is the one its SUBMITTED step recorded, else its venue record's (a LIVE order Kalshi rejected
at submission has only the latter). An order with neither never left Paul P and is not a market order to
report. No view keeps a market's question text, so none is read: the record describes the market by its id.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import Connection
from psycopg.rows import dict_row

ROWS = """
SELECT o.order_id, o.order_uuid, o.signal_id, coalesce(k.record->>'venue', 'kalshi') AS venue, o.strategy,
       o.ticker, o.side, o.category, o.requested_size, o.filled_size, o.max_price, o.avg_fill_price, o.state,
       coalesce(o.mode, k.execution_mode) AS mode, o.last_error, o.created_at, o.updated_at,
       f.filled_at, f.partially_filled_at, 'buy' AS action
  FROM views.orders o
  LEFT JOIN views.kalshi_orders k ON k.order_id = o.order_id
  LEFT JOIN LATERAL (
       SELECT min(h.at) FILTER (WHERE h.to_state = 'FILLED') AS filled_at,
              min(h.at) FILTER (WHERE h.to_state = 'PARTIAL_FILL') AS partially_filled_at
         FROM views.order_history h WHERE h.order_uuid = o.order_uuid) f ON true
 WHERE o.created_at >= %(start)s AND o.created_at < %(end)s
   AND coalesce(o.mode, k.execution_mode) = ANY(%(modes)s)
UNION ALL
SELECT 'exit-' || left(replace(x.exit_uuid::text, '-', ''), 20) || '-' || x.attempt, x.exit_uuid, NULL, 'kalshi',
       x.strategy, x.ticker, x.side, c.category, x.contracts, x.filled_size, x.observed_price, x.exit_price,
       'FILLED', x.mode, NULL, x.decided_at, x.updated_at, x.updated_at, NULL, 'sell'
  FROM views.position_exits x
  LEFT JOIN LATERAL (
       SELECT o.category FROM views.orders o WHERE o.ticker = x.ticker AND o.category IS NOT NULL
        ORDER BY o.created_at LIMIT 1) c ON true
 WHERE x.state = 'FILLED' AND x.filled_size > 0 AND x.decided_at >= %(start)s AND x.decided_at < %(end)s
   AND x.mode = ANY(%(modes)s)
 ORDER BY created_at, order_id
"""


def read_order_rows(conn: Connection[Any], start: datetime, end: datetime,
                    modes: Sequence[str]) -> list[dict[str, Any]]:
    """Orders created (and exit sells decided) in ``[start, end)`` whose execution mode is one of ``modes``, oldest
    first; one statement, so one snapshot: a row and its fill history agree."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(ROWS, {"start": start, "end": end, "modes": list(modes)}).fetchall()
