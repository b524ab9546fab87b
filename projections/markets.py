"""market_marks view: each market's last observed quotes and, once known, its outcome; the closing-line views
from the observations taken near its close (ADR 0419)."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from psycopg import Cursor
from psycopg.types.json import Jsonb

from paulp.domain.closing_lines import ClosingLine
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


class ClosingLinesProjection:
    """market_observations and closing_lines views from ClosingLine events (ADR 0419)."""

    name = "closing_lines"
    tables = ("market_observations", "closing_lines")

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events this view does not show."""

    @apply.register
    def _(self, e: ClosingLine.Observed, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "INSERT INTO market_observations (ticker, observed_at, mid_price, depth_yes_usd, depth_no_usd, spread,"
            " close_time, category, evidence_hash, notification_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            (e.ticker, e.at, e.mid_price, e.depth_yes, e.depth_no, e.spread, e.close_time,
             e.category, e.evidence_hash, notification_id),
        )

    @apply.register
    def _(self, e: ClosingLine.Estimated, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "INSERT INTO closing_lines (ticker, market_class, method, resolution_time, closing_line_price,"
            " quality_score, is_valid, scores, observation_count, valid_observation_count, estimated_at,"
            " notification_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (e.ticker, e.market_class, e.method, e.resolution_time, e.closing_line_price,
             e.quality_score, e.is_valid, Jsonb(e.scores), e.observation_count, e.valid_observation_count, e.at,
             notification_id),
        )
