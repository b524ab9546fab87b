"""Scheduled jobs of the routing context; the runtime scheduler calls ``routing_tick(container)`` each tick.

- Nightly stability drift sweep (llm-routing §7.1) at/after 03:00 UTC, once per UTC day: the result is a
  ``DriftSweepRecord.Recorded`` event; its block decision reaches the go-live gate through
  ``views.llm_drift_sweeps`` (§7.3).
- A failed sweep is a critical breaker alert (trading §2.3, "LLM drift failure"), raised once, by the process
  that stored the day's sweep; a sweep that failed only because it had no scoring runs to judge is recorded as
  a warning alert instead (ADR 0395).
- Stale budget holds (a process died between reserve and settle) are charged at their reserved amount, so
  no reservation leaks and no money that may have been spent goes back to the budget: in today's and yesterday's
  ledgers and in every older one the budget view lists with open holds (ADR 0526).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from paulp.api.wiring import Container
from paulp.domain.governance import SweepSample
from paulp.domain.llm_records import DriftSweepRecord

log = logging.getLogger("paulp.routing.jobs")
SWEEP_AT = time(3, 0)
SWEEP_WINDOW = timedelta(days=7)
SWEEP_MAX_RUNS = 100


@dataclass(frozen=True)
class TickResult:
    sweep: dict[str, Any] | None
    charged_holds: int


def recent_scoring_samples(container: Container, now: datetime) -> list[SweepSample]:
    """§7.1 step 1: scoring runs of the last 7 days, newest first, at most 100 (from the read model)."""
    with container.pool.connection() as conn:
        rows = conn.execute(
            "SELECT confidence, warnings FROM views.llm_scoring_runs WHERE created_at >= %s"
            " ORDER BY created_at DESC LIMIT %s", (now - SWEEP_WINDOW, SWEEP_MAX_RUNS)).fetchall()
    return [SweepSample(conf, warnings if isinstance(warnings, list) else None) for conf, warnings in rows]


DRIFT_ALERT = "LLM_DRIFT_FAILURE"


def drift_alert_severity(runs_analyzed: int) -> str:
    """Critical only when there were runs to judge: with none the sweep fails by definition (mean confidence 0,
    ADR 0189), and escalating the breaker every night on a system that scores nothing would train operators to
    ignore it; that case stays visible as a warning (recorded, no transition)."""
    return "critical" if runs_analyzed > 0 else "warning"


def run_drift_sweep(container: Container) -> dict[str, Any]:
    """Run the nightly stability sweep now; the §7.1 step-6 response (a repeat on the same day stores nothing)."""
    now = container.clock.now()
    report, stored = container.routing.record_drift_sweep(recent_scoring_samples(container, now))
    sweep_id = DriftSweepRecord.create_id(str(report.sweep.sweep_type), report.sweep.run_at.strftime("%Y-%m-%d"))
    alert = None
    if report.drift_warning:
        log.warning("drift sweep failed: %s", "; ".join(report.sweep.failure_reasons))
        if stored:
            alert = drift_alert_severity(report.runs_analyzed)
            container.breaker.raise_alert(DRIFT_ALERT, alert, "LLM drift sweep failed: "
                                          + "; ".join(report.sweep.failure_reasons))
    return {"triggered": True, "stored": stored, "breakerAlert": alert, "runsAnalyzed": report.runs_analyzed,
            "avgConfidence": report.avg_confidence, "lowConfidenceCount": report.low_confidence_count,
            "lowConfidenceRate": report.low_confidence_rate, "flaggedCount": report.flagged_count,
            "driftWarning": report.drift_warning, "persistedSweepId": str(sweep_id), "persistedSchema": "v2",
            "failureReasons": list(report.sweep.failure_reasons)}


MAX_OPEN_PERIODS = 200  # ledgers with open holds looked at per tick, oldest first (normally today's and the month's)


def open_hold_periods(container: Container) -> list[tuple[str, datetime]]:
    """(category, period start) of every budget ledger the view lists with open holds, oldest first, at most
    ``MAX_OPEN_PERIODS`` (index ``llm_budget_open_holds``, migration 0112): the stale-hold sweep looks at these
    besides today's and yesterday's, so a hold left in a period the wall clock stepped past is charged (ADR 0526)."""
    with container.pool.connection() as conn:
        rows = conn.execute(
            "SELECT category, period_key FROM views.llm_budget WHERE open_reservations > 0"
            " ORDER BY period_key LIMIT %s", (MAX_OPEN_PERIODS,)).fetchall()
    return [(str(cat), datetime.fromisoformat(str(key)).replace(tzinfo=UTC)) for cat, key in rows]


def routing_tick(container: Container) -> TickResult:
    """Idempotent: safe to call every scheduler tick, from several processes."""
    now = container.clock.now().astimezone(UTC)
    charged = container.routing.charge_stale_reservations(open_periods=open_hold_periods(container))
    sweep = None
    if now.time() >= SWEEP_AT and not container.routing.nightly_sweep_done(now.strftime("%Y-%m-%d")):
        sweep = run_drift_sweep(container)
    return TickResult(sweep, charged)
