"""kalshi_orders / ibkr_orders views: venue order records with their filter columns extracted."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import singledispatchmethod
from typing import Any

from psycopg import Cursor
from psycopg.types.json import Jsonb

from paulp.domain.venue_orders import VenueOrder, status_key

STRATEGY_FIELD = {"kalshi": "source_strategy", "ibkr": "hedge_strategy"}
TABLE = {"kalshi": "kalshi_orders", "ibkr": "ibkr_orders"}


# The range of a JavaScript Date (±100,000,000 days from the epoch), which the reference parses into.
_JS_DATE_LIMIT_MS = 8_640_000_000_000_000


def parse_created(value: Any) -> datetime | None:
    """Parsed as a date as the reference's ``new Date(value)`` does on its UTC host: an ISO date or
    date-time (date-only and offset-less read as UTC), an RFC 2822 date, or a number of epoch milliseconds.
    Missing or unparseable -> NULL (sorts last)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or abs(value) > _JS_DATE_LIMIT_MS:
            return None
        try:
            return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=value)
        except OverflowError:  # representable in JavaScript, beyond Python's year 1-9999
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            at = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def columns(venue: str, record: dict[str, Any]) -> dict[str, Any]:
    strategy = record.get(STRATEGY_FIELD[venue])
    ticker, status, mode = record.get("ticker"), record.get("status"), record.get("execution_mode")
    return {
        "record": Jsonb(record),
        "strategy": strategy if isinstance(strategy, str) else None,
        "ticker": ticker if isinstance(ticker, str) else None,
        "status": status_key(status) if isinstance(status, str) else None,  # the record keeps it as written
        "execution_mode": mode.upper() if isinstance(mode, str) else None,
        "created_at": parse_created(record.get("created_at")),
    }


class VenueOrdersProjection:
    name = "venue_orders"
    tables = ("kalshi_orders", "ibkr_orders")

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events this view does not show."""

    @apply.register
    def _(self, event: VenueOrder.Recorded, cur: Cursor[Any], notification_id: int) -> None:
        cols = columns(event.venue, event.record)
        cur.execute(
            f"INSERT INTO {TABLE[event.venue]} (order_id, record, strategy, ticker, status, execution_mode,"
            " created_at, seq) VALUES (%(order_id)s, %(record)s, %(strategy)s, %(ticker)s, %(status)s,"
            " %(execution_mode)s, %(created_at)s, %(seq)s) ON CONFLICT (order_id) DO NOTHING",
            {**cols, "order_id": event.order_id, "seq": notification_id},
        )

    @apply.register
    def _(self, event: VenueOrder.Updated, cur: Cursor[Any], notification_id: int) -> None:
        table = TABLE[event.venue]
        row = cur.execute(f"SELECT record FROM {table} WHERE order_id = %s", (event.order_id,)).fetchone()
        if row is None:
            raise LookupError(f"update for unknown {event.venue} order {event.order_id}")
        cols = columns(event.venue, {**row[0], **event.changes})
        cur.execute(
            f"UPDATE {table} SET record = %(record)s, strategy = %(strategy)s, ticker = %(ticker)s,"
            " status = %(status)s, execution_mode = %(execution_mode)s, created_at = %(created_at)s"
            " WHERE order_id = %(order_id)s",
            {**cols, "order_id": event.order_id},
        )
