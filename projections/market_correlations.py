"""event_graph_edges and correlation_rules views: the active operator-declared correlations, one row per pair
(ADR 0365), and the active rules, one row per category or series (ADR 0431).

The row holds the declared weight; the cap by type is applied where the risk check reads it
(``risk_correlation.edge_score``, trading §3.4), so a changed cap needs no rebuild. The aggregate orders a
pair's tickers, so a row is written as (lower, higher); a hand-inserted row the other way round is the same
pair and is replaced or removed with it.
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from psycopg import Cursor

from paulp.domain.market_correlations import MarketCorrelation, MarketCorrelationRule

_REVERSED = "DELETE FROM event_graph_edges WHERE market_id = %s AND related_market_id = %s"
_UPSERT = (
    "INSERT INTO event_graph_edges (market_id, related_market_id, correlation_score, correlation_type, declared_by,"
    " reason, declared_at, version, notification_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (market_id, related_market_id) DO UPDATE SET correlation_score = EXCLUDED.correlation_score,"
    " correlation_type = EXCLUDED.correlation_type, declared_by = EXCLUDED.declared_by, reason = EXCLUDED.reason,"
    " declared_at = EXCLUDED.declared_at, version = EXCLUDED.version, notification_id = EXCLUDED.notification_id"
)
_REMOVE = (
    "DELETE FROM event_graph_edges WHERE (market_id = %s AND related_market_id = %s)"
    " OR (market_id = %s AND related_market_id = %s) RETURNING market_id"
)

_RULE_UPSERT = (
    "INSERT INTO correlation_rules (field, value, rule_type, weight, declared_by, reason, declared_at, version,"
    " notification_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (field, value) DO UPDATE SET"
    " rule_type = EXCLUDED.rule_type, weight = EXCLUDED.weight, declared_by = EXCLUDED.declared_by,"
    " reason = EXCLUDED.reason, declared_at = EXCLUDED.declared_at, version = EXCLUDED.version,"
    " notification_id = EXCLUDED.notification_id"
)
_RULE_REMOVE = "DELETE FROM correlation_rules WHERE field = %s AND value = %s RETURNING field"


class MarketCorrelationsProjection:
    name = "market_correlations"
    tables = ("event_graph_edges", "correlation_rules")

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events this view does not show."""

    @apply.register
    def _(self, e: MarketCorrelation.Declared, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(_REVERSED, (e.related_market_id, e.market_id))
        cur.execute(_UPSERT, (e.market_id, e.related_market_id, e.weight, e.correlation_type, e.actor, e.reason,
                              e.declared_at, e.originator_version, notification_id))

    @apply.register
    def _(self, e: MarketCorrelation.Withdrawn, cur: Cursor[Any], notification_id: int) -> None:
        pair = (e.market_id, e.related_market_id)
        if not cur.execute(_REMOVE, (*pair, *reversed(pair))).fetchall():
            # the aggregate only withdraws what it declared, so a missing row means the view was edited
            raise LookupError(f"withdrawal of a correlation not in the view: {pair[0]} / {pair[1]}")

    @apply.register
    def _(self, e: MarketCorrelationRule.Declared, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(_RULE_UPSERT, (e.field, e.value, e.rule_type, e.weight, e.actor, e.reason, e.declared_at,
                                   e.originator_version, notification_id))

    @apply.register
    def _(self, e: MarketCorrelationRule.Withdrawn, cur: Cursor[Any], notification_id: int) -> None:
        if not cur.execute(_RULE_REMOVE, (e.field, e.value)).fetchall():
            raise LookupError(f"withdrawal of a correlation rule not in the view: {e.field} {e.value!r}")
