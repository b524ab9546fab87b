"""reconciliation_runs and reconciliation_drifts views (trading §7, §9; ADR 0393): one row per completed run and
one per compared (market, SIDE) it graded minor, major or critical, from ``ReconciliationReport.Completed``;
position_rebuilds and position_adjustments from ``PositionRebuild`` (the venue's positions adopted, ADR 0415).

Figures are stored as exact decimals: the report keeps JSON numbers (ADR 0362), which ``exact`` reads as the
decimal they print as, so 40.5 contracts stay 40.5 and never 40.499999…. The severity and status are the ones
the run recorded (a report graded before ADR 0362 keeps its grade): the view shows what happened, it does not
re-grade it.
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from psycopg import Cursor

from paulp.domain.orchestration import ReconciliationReport
from paulp.domain.position_rebuild import PositionRebuild
from paulp.domain.reconciliation import DriftSeverity, exact

INSERT_RUN = (
    "INSERT INTO reconciliation_runs (run_id, report_uuid, venue, at, internal_count, venue_count, matched_count,"
    " drift_count, max_drift_pct, total_absolute_drift, status, triggered_by, source, slot, evidence_hashes,"
    " notification_id) VALUES (%(run_id)s, %(report_uuid)s, %(venue)s, %(at)s, %(internal_count)s,"
    " %(venue_count)s, %(matched_count)s, %(drift_count)s, %(max_drift_pct)s, %(total_absolute_drift)s,"
    " %(status)s, %(triggered_by)s, %(source)s, %(slot)s, %(evidence_hashes)s, %(notification_id)s)"
    " ON CONFLICT (run_id) DO NOTHING"
)
INSERT_DRIFT = (
    "INSERT INTO reconciliation_drifts (run_id, market_id, side, internal_size, venue_size, drift, drift_pct,"
    " severity, at, notification_id) VALUES (%(run_id)s, %(market_id)s, %(side)s, %(internal_size)s,"
    " %(venue_size)s, %(drift)s, %(drift_pct)s, %(severity)s, %(at)s, %(notification_id)s)"
    " ON CONFLICT (run_id, market_id, side) DO NOTHING"
)


def drift_rows(run_id: str, drifts: list[dict[str, Any]], at: Any, notification_id: int) -> list[dict[str, Any]]:
    """The §7 drift rows of one report: every compared key but the matched ones (severity none)."""
    return [{"run_id": run_id, "market_id": d["marketId"], "side": d["side"],
             "internal_size": exact(d["internalSize"]), "venue_size": exact(d["venueSize"]),
             "drift": exact(d["drift"]), "drift_pct": exact(d["driftPct"]), "severity": d["severity"], "at": at,
             "notification_id": notification_id}
            for d in drifts if d["severity"] != DriftSeverity.NONE.value]


# Internal positions the rebuilds adopted, net per (market, SIDE) (ADR 0415), less what an operator's close of
# them sold (ADR 0440): read wherever internal LIVE positions are (/admin/positions, the risk snapshot's exposure,
# the marks job, the operator's close). ``at`` is the last adoption's time: the episode an exit of them belongs to.
# (The reconcile job reads the adjustments and every LIVE exit on its own, so it counts these exits once.)
ADJUSTED_STRATEGY = "venue-adjustment"  # the strategy column of adopted contracts and of their exits
NET_ADJUSTMENTS = (
    "SELECT ticker, side, sum(contracts) AS contracts, max(at) FILTER (WHERE adopted) AS at FROM ("
    " SELECT ticker, side, contracts, at, true AS adopted FROM views.position_adjustments"
    " UNION ALL SELECT ticker, side, -filled_size, updated_at, false FROM views.position_exits"
    f" WHERE strategy = '{ADJUSTED_STRATEGY}' AND mode = 'LIVE' AND state = 'FILLED') adopted_less_sold"
    " GROUP BY ticker, side HAVING sum(contracts) <> 0"
)
INSERT_REBUILD = (
    "INSERT INTO position_rebuilds (rebuild_id, rebuild_uuid, venue, operator, reason, breaker_state, venue_read_at,"
    " status_before, evidence_hashes, at, notification_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (rebuild_id) DO NOTHING"
)
INSERT_ADJUSTMENT = (
    "INSERT INTO position_adjustments (rebuild_id, ticker, side, internal_size, venue_size, contracts,"
    " venue_cost_cents, at, notification_id) SELECT rebuild_id, %s, %s, %s, %s, %s, %s, at, %s FROM position_rebuilds"
    " WHERE rebuild_uuid = %s ON CONFLICT (rebuild_id, ticker, side) DO NOTHING"
)


class ReconciliationProjection:
    name = "reconciliation"
    tables = ("reconciliation_runs", "reconciliation_drifts", "position_rebuilds", "position_adjustments")

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events this view does not show."""

    @apply.register
    def _(self, e: ReconciliationReport.Completed, cur: Cursor[Any], notification_id: int) -> None:
        result = e.result
        cur.execute(INSERT_RUN, {
            "run_id": e.run_id, "report_uuid": e.originator_id, "venue": e.venue, "at": e.at,
            "internal_count": result["internalPositionCount"], "venue_count": result["venuePositionCount"],
            "matched_count": result["matchedCount"], "drift_count": e.drift_count,
            "max_drift_pct": exact(result["maxDriftPct"]),
            "total_absolute_drift": exact(result["totalAbsoluteDrift"]), "status": result["status"],
            "triggered_by": e.triggered_by, "source": e.source, "slot": e.slot,
            "evidence_hashes": list(e.evidence_hashes), "notification_id": notification_id})
        rows = drift_rows(e.run_id, list(result["drifts"]), e.at, notification_id)
        if rows:
            cur.executemany(INSERT_DRIFT, rows)

    @apply.register
    def _(self, e: PositionRebuild.Started, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(INSERT_REBUILD, (e.rebuild_id, e.originator_id, e.venue, e.operator, e.reason, e.breaker_state,
                                     e.venue_read_at, e.comparison["status"], list(e.evidence_hashes), e.at,
                                     notification_id))

    @apply.register
    def _(self, e: PositionRebuild.Adjusted, cur: Cursor[Any], notification_id: int) -> None:
        cost = None if e.venue_cost_cents is None else exact(e.venue_cost_cents)  # v1: None (ADR 0450)
        cur.execute(INSERT_ADJUSTMENT, (e.market_id, e.side, exact(e.internal_size), exact(e.venue_size),
                                        exact(e.contracts), cost, notification_id, e.originator_id))
