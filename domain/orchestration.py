"""Orchestrator records (api-and-security §1.3 "Orchestrator control", §7.1; trading §7).

A ``JobRun`` is one triggered run of a scheduled job: who triggered it, from where, and how it ended. It is
saved when the run starts, so a trigger whose process dies mid-run still leaves its actor in the log.
A ``ReconciliationReport`` is one completed reconciliation: the run's figures and every compared key, the
actor, where it was triggered from and the evidence of the venue bodies it was computed from. A failed
reconciliation records no report (its ``JobRun`` says it failed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.clock import iso_utc
from paulp.domain.errors import DomainError
from paulp.domain.namespace import PAULP_NAMESPACE
from paulp.domain.order_states import AFTER_FILL, OrderState
from paulp.domain.order_workflow import MetricsInput, workflow_metrics
from paulp.domain.reconciliation import ReconciliationRun, json_number

JOBS = ("ingest", "scan", "execute", "reconcile")  # what the trigger endpoints run
SCHEDULED_ONLY_JOBS = ("anchor", "daily-report", "exits", "verify",  # slots no endpoint triggers (§7.1; ADR 0264)
                       "order-timers")  # ADR 0281
TRIGGER_SOURCES = ("admin", "webhook", "scheduler")
MAX_ERROR_CHARS = 1000


class UnknownJob(DomainError):
    """Raised when a trigger names a job the orchestrator does not run."""

    code = "unknown_trigger"


class InvalidJobRun(DomainError):
    """Raised when a run is started without an actor or from an unknown source."""

    code = "invalid_job_run"


class JobRunFinished(DomainError):
    """Raised when a run that already completed or failed is finished again."""

    code = "job_run_finished"


class JobRunState(StrEnum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class JobRun(Aggregate):
    """RUNNING -> COMPLETED | FAILED, once."""

    class Created(Aggregate.Created):
        run_id: str
        job: str
        triggered_by: str
        source: str
        started_at: datetime

    class Completed(Aggregate.Event):
        result: dict[str, Any]
        at: datetime

    class Failed(Aggregate.Event):
        error: str
        at: datetime

    @staticmethod
    def create_id(run_id: str) -> UUID:
        return uuid5(PAULP_NAMESPACE, f"job-run/{run_id}")

    @classmethod
    def start(cls, run_id: str, job: str, triggered_by: str, source: str, now: datetime) -> JobRun:
        if job not in JOBS and not (job in SCHEDULED_ONLY_JOBS and source == "scheduler"):
            raise UnknownJob(f"Unknown trigger: {job}")
        if not triggered_by.strip() or source not in TRIGGER_SOURCES or not run_id:
            raise InvalidJobRun(f"a run needs a run id, an actor and a source in {TRIGGER_SOURCES}")
        return cls(run_id=run_id, job=job, triggered_by=triggered_by, source=source, started_at=now)

    def __init__(self, run_id: str, job: str, triggered_by: str, source: str, started_at: datetime) -> None:
        self.run_id, self.job, self.triggered_by, self.source = run_id, job, triggered_by, source
        self.started_at = started_at
        self.state = JobRunState.RUNNING
        self.finished_at: datetime | None = None
        self.result: dict[str, Any] | None = None
        self.error: str | None = None

    def complete(self, result: dict[str, Any], now: datetime) -> None:
        self._require_running()
        self._completed(dict(result), now)

    def fail(self, error: str, now: datetime) -> None:
        self._require_running()
        self._failed((error.strip() or "Job failed")[:MAX_ERROR_CHARS], now)

    def _require_running(self) -> None:
        if self.state is not JobRunState.RUNNING:
            raise JobRunFinished(f"job run {self.run_id} already {self.state.value}")

    @event(Completed)
    def _completed(self, result: dict[str, Any], at: datetime) -> None:
        self.state, self.result, self.finished_at = JobRunState.COMPLETED, result, at

    @event(Failed)
    def _failed(self, error: str, at: datetime) -> None:
        self.state, self.error, self.finished_at = JobRunState.FAILED, error, at


def reconciliation_result(run: ReconciliationRun, at: datetime) -> dict[str, Any]:
    """The §1.3 ``POST /reconcile`` result; every compared key is listed, matched ones with severity none."""
    return {
        "timestamp": iso_utc(at),
        "internalPositionCount": run.internal_count,
        "venuePositionCount": run.venue_count,
        "matchedCount": run.matched,
        "drifts": [d.to_dict() for d in run.drifts],
        "totalAbsoluteDrift": json_number(run.total_absolute_drift),
        "maxDriftPct": json_number(run.max_drift_pct),
        "status": run.status.value,
    }


class ReconciliationReport(Aggregate):
    """One completed reconciliation run (its only event), keyed by the run id: the id of the ``JobRun`` that ran
    it since ADR 0393, so a schedule slot's report is ``scheduled:reconcile:<minute>``."""

    class Completed(Aggregate.Created):
        """v2 adds where the run was triggered from (``source``: admin, webhook or scheduler) and the schedule
        slot it ran for (ADR 0393). v1 reports did not say, so both are None."""

        class_version = 2
        run_id: str
        venue: str
        triggered_by: str
        result: dict[str, Any]
        drift_count: int
        evidence_hashes: list[str]
        at: datetime
        source: str | None
        slot: datetime | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, object]) -> None:
            state["source"] = None
            state["slot"] = None

    @staticmethod
    def create_id(run_id: str) -> UUID:
        return uuid5(PAULP_NAMESPACE, f"reconciliation/{run_id}")

    @classmethod
    def record(cls, run_id: str, venue: str, triggered_by: str, run: ReconciliationRun,
               evidence_hashes: list[str], now: datetime, source: str,
               slot: datetime | None = None, settled: list[str] | None = None) -> ReconciliationReport:
        """``settled``: markets left out of the comparison because their outcome is determined (ADR 0397); the
        result names them only when there are some, so a run without settlements reads as before."""
        if source not in TRIGGER_SOURCES:
            raise InvalidJobRun(f"a reconciliation is triggered from one of {TRIGGER_SOURCES}, not {source!r}")
        result = reconciliation_result(run, now)
        if settled:
            result["settledMarkets"] = list(settled)
        return cls(run_id=run_id, venue=venue, triggered_by=triggered_by, result=result,
                   drift_count=run.drift_count, evidence_hashes=list(evidence_hashes), at=now, source=source,
                   slot=slot)

    def __init__(self, run_id: str, venue: str, triggered_by: str, result: dict[str, Any], drift_count: int,
                 evidence_hashes: list[str], at: datetime, source: str | None, slot: datetime | None) -> None:
        self.run_id, self.venue, self.triggered_by = run_id, venue, triggered_by
        self.result, self.drift_count, self.evidence_hashes, self.at = result, drift_count, evidence_hashes, at
        self.source, self.slot = source, slot

    @property
    def status(self) -> str:
        return str(self.result["status"])


def daily_report(day: date, orders: Iterable[MetricsInput]) -> dict[str, Any]:
    """§7.1 ``daily-report``: the §1.9 metrics of the orders created on ``day`` (UTC).

    ``ordersFilled`` counts those orders that filled: FILLED now, or past it (RECONCILED, RECONCILIATION_DRIFT,
    ARCHIVED are reached only from FILLED, and the reconcile run moves orders there within minutes; ADR 0413).
    The fill metrics read them as FILLED for the same reason, so the report says what it said before orders were
    reconciled; ``byState`` keeps each order's state now. ``avgCLV`` is the mean over orders that have a CLV
    (0 when none has, as §1.9 defines it) and ``clvOrders`` says how many that was."""
    items = list(orders)
    metrics = workflow_metrics(replace(o, state=OrderState.FILLED) if o.state in AFTER_FILL else o for o in items)
    by_state = workflow_metrics(items).by_state
    return {"date": day.isoformat(), "ordersCreated": metrics.total, "ordersFilled": metrics.by_state["FILLED"],
            "avgCLV": metrics.avg_clv, "clvOrders": sum(1 for o in items if o.clv is not None),
            "fillRate": metrics.fill_rate, "avgTimeToFillMs": metrics.avg_time_to_fill_ms,
            "byState": {state: n for state, n in by_state.items() if n}}
