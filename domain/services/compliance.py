"""Compliance context (api-and-security §6.3, §7.3): the seeded matrix, two-person status changes, compliance
events and violations, and the ingestion gate's statuses.

The gate reads the sources' aggregates from the log, not ``views.compliance_sources``: a block two operators
just approved stops the next fetch whatever the projector's lag, and no projector has to run for it (ADR 0368).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import partial

from paulp.domain.checkpoints import CHECKPOINT_EVERY, resume
from paulp.domain.clock import Clock
from paulp.domain.compliance import ComplianceSource, IngestionBlocked, ProposalExpired, split_id
from paulp.domain.compliance_matrix import SEED, GateDecision, UnknownSource, ingestion_decision, ingestion_sources
from paulp.domain.services.base import PaulpApplication

RESUME_SOURCE = partial(resume, ComplianceSource, ComplianceSource.Checkpointed)


class ComplianceService(PaulpApplication):
    """Every fetching job asks the gate first, which loads its sources' aggregates, and a failing job run adds an
    ``EventRecorded`` to its source: a venue down for a day gives its source ~1,440 events (one per marks run), which
    each later gate check replayed (ADR 0505). Sources are cached and fast-forwarded from the log (ADR 0502), so a
    status change approved in another process still stops the next fetch, and a process's first load starts from
    the source's last checkpoint, which a save adds once due (ADR 0508)."""

    seeded = False

    def __init__(self, env: Mapping[str, str] | None, clock: Clock) -> None:
        super().__init__({"AGGREGATE_CACHE_MAXSIZE": "100", **(env or {})}, clock)

    def seed(self) -> int:
        """Insert-if-absent: each seed source not yet in the log is created; present ones are left as they are
        (an operator's change is never undone). One save for all; returns how many were created."""

        def command() -> int:
            now = self.clock.now()
            new = [ComplianceSource.seed(s, now) for s in SEED
                   if self.source(s.source_name) is None]
            if new:
                self.save(*new)
            return len(new)

        created = self.retry_on_conflict(command)
        self.seeded = True
        return created

    def ensure_seeded(self) -> None:
        """Seed once per process (start-up, the first gate check, a CLI command)."""
        if not self.seeded:
            self.seed()

    def source(self, name: str) -> ComplianceSource | None:
        found: ComplianceSource | None = self.get_checkpointed(ComplianceSource.create_id(name.strip()),
                                                               ComplianceSource.Checkpointed, RESUME_SOURCE)
        return found

    def statuses(self, names: Iterable[str]) -> dict[str, str]:
        """Status of each named source the matrix holds; absent names are unknown to it."""
        found = {n: self.source(n) for n in set(names)}
        return {n: s.status.value for n, s in found.items() if s is not None}

    def gate(self, venue: str, message_type: str) -> GateDecision:
        self.ensure_seeded()
        return ingestion_decision(venue, message_type, self.statuses(ingestion_sources(venue, message_type) or ()))

    def record_block(self, check_id: str, decision: GateDecision, venue: str, message_type: str, job: str) -> int:
        record = IngestionBlocked(check_id=check_id, job=job, message_type=message_type, venue=venue,
                                  status=decision.status, reason=decision.reason or "",
                                  blocked_entities=list(decision.blocked_entities), at=self.clock.now())
        return self.last_notification_id(self.save(record))

    # ----------------------------------------------------------------- operator commands

    def propose_status(self, name: str, status: object, reason: object, block_reason: object,
                       actor: object) -> tuple[str, int]:
        def command() -> tuple[str, int]:
            src = self._known(name)
            proposal_id = src.propose_status(status, reason, block_reason, actor, self.clock.now())
            return proposal_id, self._save(src)

        return self.retry_on_conflict(command)

    def approve(self, proposal_id: str, actor: object) -> tuple[ComplianceSource, int]:
        def command() -> tuple[ComplianceSource, int]:
            src = self._known(split_id(proposal_id)[0])
            try:
                src.approve(proposal_id.strip(), actor, self.clock.now())
            except ProposalExpired:
                self._save(src)  # the lapse is recorded; a new proposal can start
                raise
            return src, self._save(src)

        return self.retry_on_conflict(command)

    def reject(self, proposal_id: str, actor: object, reason: object) -> int:
        def command() -> int:
            src = self._known(split_id(proposal_id)[0])
            src.reject(proposal_id.strip(), actor, reason, self.clock.now())
            return self._save(src)

        return self.retry_on_conflict(command)

    def record_event(self, name: str, event_type: object, description: object, actor: object) -> int:
        def command() -> int:
            src = self._known(name)
            src.record_event(event_type, description, actor, self.clock.now())
            return self._save(src)

        return self.retry_on_conflict(command)

    def record_violation(self, name: str, violation_type: object, severity: object, description: object,
                         actor: object) -> tuple[str, int | None]:
        """The violation's id and notification id; the same one as an unresolved violation is that one, with
        notification None and nothing saved. Two at once meet on the source's version: the loser finds the
        winner's (ADR 0527)."""

        def command() -> tuple[str, int | None]:
            src = self._known(name)
            violation_id, duplicate = src.record_violation(violation_type, severity, description, actor,
                                                           self.clock.now())
            return violation_id, None if duplicate else self._save(src)

        return self.retry_on_conflict(command)

    def resolve_violation(self, violation_id: str, resolved_by: object, notes: object) -> int:
        def command() -> int:
            src = self._known(split_id(violation_id)[0])
            src.resolve_violation(violation_id.strip(), resolved_by, notes, self.clock.now())
            return self._save(src)

        return self.retry_on_conflict(command)

    def review_tos(self, name: str, actor: object, notes: object, tos_version: object) -> tuple[datetime, int]:
        """One operator's ToS review; returns the next review date and the notification id."""

        def command() -> tuple[datetime, int]:
            src = self._known(name)
            due = src.review_tos(actor, notes, tos_version, self.clock.now())
            return due, self._save(src)

        return self.retry_on_conflict(command)

    def now(self) -> datetime:
        return self.clock.now()

    def _save(self, src: ComplianceSource) -> int:
        src.checkpoint_if_due(CHECKPOINT_EVERY)
        return self.last_notification_id(self.save(src))

    def _known(self, name: str) -> ComplianceSource:
        self.ensure_seeded()
        src = self.source(name)
        if src is None:
            raise UnknownSource(f"{name.strip()!r} is not in the compliance matrix")
        return src
