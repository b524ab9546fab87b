"""portfolio_snapshots view: every valuation of the book handed to the breaker (trading §9; ADR 0356).

The breaker records a valuation only when it changes a latch (ADRs 0301, 0325); what the log keeps of each
one is the exits run's report, ``JobRun.Completed.result["portfolio"]``. That event does not name its job, so
the run's ``Created`` is remembered until the run ends. A failed valuation (``{"error": …}``) or an exits run
recorded before the book was valued (no ``portfolio``) is no snapshot; a valuation missing one of its figures
fails, so the projector dead-letters it rather than showing a row it made up.
"""

from __future__ import annotations

from datetime import datetime
from functools import singledispatchmethod
from typing import Any

from psycopg import Cursor

from paulp.domain.orchestration import JobRun

VALUING_JOB = "exits"  # the job that values the book for the breaker (api/portfolio_job.py)


def _snapshot(report: dict[str, Any], completed_at: datetime) -> dict[str, Any] | None:
    """The row a run's report holds, or None when the run valued nothing. Reports before ADR 0356 carry no
    position count (NULL, not guessed) and no valuation time (the run's completion, seconds after it)."""
    valuation = report.get("portfolio")
    if not isinstance(valuation, dict) or "error" in valuation:
        return None
    count = valuation.get("positionCount")
    valued_at = valuation.get("valuedAt")
    return {
        "mode": str(valuation["mode"]),
        "total_value": float(valuation["totalValue"]),
        "daily_pnl": float(valuation["dailyPnl"]),
        "weekly_pnl": float(valuation["weeklyPnl"]),
        "max_drawdown": float(valuation["maxDrawdown"]),
        "position_count": None if count is None else int(count),
        "valued_at": datetime.fromisoformat(valued_at) if valued_at is not None else completed_at,
    }


class PortfolioSnapshotsProjection:
    name = "portfolio_snapshots"
    tables = ("portfolio_snapshot_runs", "portfolio_snapshots")

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events this view does not show."""

    @apply.register
    def _(self, e: JobRun.Created, cur: Cursor[Any], notification_id: int) -> None:
        if e.job == VALUING_JOB:
            cur.execute("INSERT INTO portfolio_snapshot_runs (run_uuid) VALUES (%s) ON CONFLICT DO NOTHING",
                        (e.originator_id,))

    @apply.register
    def _(self, e: JobRun.Completed, cur: Cursor[Any], notification_id: int) -> None:
        row = _snapshot(e.result, e.at)
        if row is not None:
            cur.execute(
                "INSERT INTO portfolio_snapshots (notification_id, mode, total_value, daily_pnl, weekly_pnl,"
                " max_drawdown, position_count, valued_at) SELECT %(nid)s, %(mode)s, %(total_value)s,"
                " %(daily_pnl)s, %(weekly_pnl)s, %(max_drawdown)s, %(position_count)s, %(valued_at)s"
                " FROM portfolio_snapshot_runs WHERE run_uuid = %(run)s ON CONFLICT DO NOTHING",
                {**row, "nid": notification_id, "run": e.originator_id},
            )
        self._finished(e, cur)

    @apply.register
    def _(self, e: JobRun.Failed, cur: Cursor[Any], notification_id: int) -> None:
        self._finished(e, cur)

    @staticmethod
    def _finished(e: JobRun.Completed | JobRun.Failed, cur: Cursor[Any]) -> None:
        cur.execute("DELETE FROM portfolio_snapshot_runs WHERE run_uuid = %s", (e.originator_id,))
