"""The correlations I3 counts, as ``paulp risk correlations list`` and ``GET /admin/risk/correlations`` show
them: every row of ``views.event_graph_edges`` with the score the risk check will use (ADR 0365)."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from paulp.domain.risk_correlation import edge_score

_LIST = ("SELECT market_id, related_market_id, correlation_type, correlation_score, declared_by, reason,"
         " declared_at, version FROM views.event_graph_edges")
_FOR_MARKET = " WHERE market_id = %s OR related_market_id = %s"
_ORDER = " ORDER BY market_id, related_market_id"


def correlation_rows(conn: Connection[Any], market: str | None = None) -> list[dict[str, Any]]:
    """All rows, or those naming ``market`` on either end; ``declaredBy`` None = inserted by hand, not in the log."""
    query, params = (_LIST + _ORDER, ()) if market is None else (_LIST + _FOR_MARKET + _ORDER, (market, market))
    return [{"marketId": a, "relatedMarketId": b, "type": kind, "weight": weight,
             "effectiveScore": edge_score(kind, weight), "declaredBy": actor, "reason": reason, "declaredAt": at,
             "version": version}
            for a, b, kind, weight, actor, reason, at, version in conn.execute(query, params).fetchall()]


def correlation_rule_rows(conn: Connection[Any]) -> list[dict[str, Any]]:
    """The active §3.4 rules (ADR 0431), as I3 reads them."""
    return [{"field": f, "value": v, "type": t, "weight": w, "declaredBy": actor, "reason": reason,
             "declaredAt": at, "version": version}
            for f, v, t, w, actor, reason, at, version in conn.execute(
                "SELECT field, value, rule_type, weight, declared_by, reason, declared_at, version"
                " FROM views.correlation_rules ORDER BY field, value").fetchall()]
