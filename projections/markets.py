"""market_marks view: each market's last observed quotes and, once known, its outcome."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from psycopg import Cursor

from paulp.domain.marks import MarketMark


class MarketMarksProjection:
    name = "market_marks"
    tables = ("market_marks",)

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events this view does not show."""

    @apply.register
    def _(self, e: MarketMark.Quoted, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "INSERT INTO market_marks (ticker, yes_bid, yes_ask, no_bid, no_ask, observed_at, evidence_hash,"
            " last_notification_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (ticker) DO UPDATE SET"
            " yes_bid = EXCLUDED.yes_bid, yes_ask = EXCLUDED.yes_ask, no_bid = EXCLUDED.no_bid,"
            " no_ask = EXCLUDED.no_ask, observed_at = EXCLUDED.observed_at, evidence_hash = EXCLUDED.evidence_hash,"
            " last_notification_id = EXCLUDED.last_notification_id"
            " WHERE market_marks.last_notification_id < EXCLUDED.last_notification_id",
            (e.ticker, e.yes_bid, e.yes_ask, e.no_bid, e.no_ask, e.at, e.evidence_hash, notification_id),
        )

    @apply.register
    def _(self, e: MarketMark.Resolved, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "INSERT INTO market_marks (ticker, result, resolved_at, evidence_hash, last_notification_id)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (ticker) DO UPDATE SET result = EXCLUDED.result,"
            " resolved_at = EXCLUDED.resolved_at, evidence_hash = EXCLUDED.evidence_hash,"
            " last_notification_id = EXCLUDED.last_notification_id"
            " WHERE market_marks.last_notification_id < EXCLUDED.last_notification_id",
            (e.ticker, e.result, e.at, e.evidence_hash, notification_id),
        )
