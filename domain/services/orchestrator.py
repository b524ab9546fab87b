"""Orchestrator context: job runs, reconciliation reports and position rebuilds (load, decide, save)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from paulp.domain.orchestration import JobRun, ReconciliationReport
from paulp.domain.position_rebuild import PositionRebuild
from paulp.domain.reconciliation import PositionKey, ReconciliationRun
from paulp.domain.services.base import PaulpApplication


class OrchestratorService(PaulpApplication):
    def start_job(self, run_id: str, job: str, triggered_by: str, source: str) -> JobRun:
        run = JobRun.start(run_id, job, triggered_by, source, self.clock.now())
        self.save(run)
        return run

    def complete_job(self, run_id: str, result: dict[str, Any]) -> int:
        run = self.job_run(run_id)
        run.complete(result, self.clock.now())
        return self.last_notification_id(self.save(run))

    def fail_job(self, run_id: str, error: str) -> int:
        run = self.job_run(run_id)
        run.fail(error, self.clock.now())
        return self.last_notification_id(self.save(run))

    def job_run(self, run_id: str) -> JobRun:
        run: JobRun = self.repository.get(JobRun.create_id(run_id))
        return run

    def record_reconciliation(self, run_id: str, venue: str, triggered_by: str, run: ReconciliationRun,
                              evidence_hashes: list[str], source: str,
                              slot: datetime | None = None, settled: list[str] | None = None) -> ReconciliationReport:
        report = ReconciliationReport.record(run_id, venue, triggered_by, run, evidence_hashes, self.clock.now(),
                                             source, slot, settled)
        self.save(report)
        return report

    def reconciliation(self, run_id: str) -> ReconciliationReport | None:
        found: ReconciliationReport | None = self.get_or_none(ReconciliationReport.create_id(run_id))
        return found

    def adopt_venue_positions(self, rebuild_id: str, venue: str, run: ReconciliationRun, comparison: dict[str, Any],
                              evidence_hashes: list[str], read_at: datetime, breaker_state: str, operator: str,
                              reason: str, dry_run: bool = False,
                              costs: Mapping[PositionKey, Decimal] | None = None) -> tuple[PositionRebuild | None, int]:
        """Decide the rebuild (ADR 0415; the venue's costs, ADR 0450) and, unless ``dry_run``, save it: (the
        rebuild or None when every key already matches, the notification id of its last event or 0 when nothing
        was saved)."""
        rebuild = PositionRebuild.adopt(rebuild_id, venue, run, comparison, evidence_hashes, read_at, breaker_state,
                                        operator, reason, self.clock.now(), costs)
        if rebuild is None or dry_run:
            return rebuild, 0
        return rebuild, self.last_notification_id(self.save(rebuild))
