"""Compliance sources as aggregates (api-and-security §6.3 resolution: decisions are events, the matrix a projection).

One ``ComplianceSource`` per ``source_name`` (uuid5), created by seeding. Its status changes only by two
operators: one proposes (``StatusChangeProposed``), a different one approves (``SourceStatusChanged`` carries
both); a proposal lapses after 24 h as a go-live request does (ADR 0252). Compliance events and violations
are recorded on the source they concern. ``IngestionBlocked`` is the audit record of a fetch the gate stopped.
A ToS review (``TosReviewed``) is one operator's: it moves the next review date and changes no permission.
A violation with the same type, severity, description and actor as an unresolved one on the source is that one
(a re-run script records it once; ADR 0527).
Every ``CHECKPOINT_EVERY`` events a ``Checkpointed`` event restates the whole source, so a process's first load
starts there instead of replaying every failed job run's ``EventRecorded`` (ADR 0508).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.compliance_matrix import (
    REVIEW_EVERY,
    ComplianceEventType,
    InvalidComplianceRequest,
    SeedSource,
    Severity,
    SourceStatus,
    parse_status,
    required_text,
)
from paulp.domain.errors import DomainError
from paulp.domain.namespace import PAULP_NAMESPACE

PROPOSAL_TTL = timedelta(hours=24)
ACTOR_MAX, REASON_MAX, TEXT_MAX = 200, 500, 4000
VERSION_MAX = 200


class ProposalPending(DomainError):
    """Raised when a source already has a status proposal waiting for its second operator."""

    code = "proposal_pending"


class ProposalNotFound(DomainError):
    """Raised when the proposal id is not the source's pending proposal."""

    code = "proposal_not_found"


class ProposalClosed(DomainError):
    """Raised when the proposal id is one of the source's earlier proposals, no longer pending: approved, rejected
    or expired. A retried approve or reject meets this (409), never "not found" (ADR 0517)."""

    code = "proposal_closed"


class ProposalExpired(DomainError):
    """Raised when the pending proposal is older than 24 h (the proposal is closed by this call)."""

    code = "proposal_expired"


class SameOperator(DomainError):
    """Raised when the operator who proposed a status change tries to approve it."""

    code = "same_actor"


class StatusUnchanged(DomainError):
    """Raised when the proposed status and block reason are what the source has already."""

    code = "status_unchanged"


class ViolationNotFound(DomainError):
    """Raised when a violation id names no violation recorded on the source."""

    code = "violation_not_found"


class ViolationAlreadyResolved(DomainError):
    """Raised when a resolved violation is resolved again (the first resolution stands)."""

    code = "already_resolved"


def split_id(item_id: str) -> tuple[str, str]:
    """``<source>#p<n>`` / ``<source>#v<n>`` -> (source, local part): ids name the aggregate they live on."""
    source, sep, local = item_id.strip().rpartition("#")
    if not sep or not source or not local:
        raise InvalidComplianceRequest(f"not a compliance proposal or violation id: {item_id!r}")
    return source, local


class ComplianceSource(Aggregate):
    class Seeded(Aggregate.Created):
        source_name: str
        status: str
        block_reason: str | None
        terms: dict[str, Any]
        seeded_at: datetime

    class StatusChangeProposed(Aggregate.Event):
        proposal_id: str
        to_status: str
        reason: str
        block_reason: str | None
        proposed_by: str
        proposed_at: datetime
        expires_at: datetime

    class ProposalClosed(Aggregate.Event):
        proposal_id: str
        outcome: str  # expired | rejected
        actor: str | None
        reason: str
        at: datetime

    class SourceStatusChanged(Aggregate.Event):
        proposal_id: str
        from_status: str
        to_status: str
        reason: str
        block_reason: str | None
        proposed_by: str
        actor: str
        at: datetime

    class EventRecorded(Aggregate.Event):
        event_type: str
        description: str
        actor: str
        at: datetime

    class ViolationRecorded(Aggregate.Event):
        violation_id: str
        violation_type: str
        severity: str
        description: str
        actor: str
        detected_at: datetime

    class ViolationResolved(Aggregate.Event):
        violation_id: str
        resolved_by: str
        notes: str | None
        at: datetime

    class TosReviewed(Aggregate.Event):
        reviewed_by: str
        notes: str
        tos_version: str
        previous_version: str | None
        next_review_date: datetime
        at: datetime

    class Checkpointed(Aggregate.Event):
        """The source at this version, so a first load starts here: a source gains an ``EventRecorded`` per failed
        job run (~1,440 a day while Kalshi is down), and replaying 30,000 of them took 1.2 s per source on a
        process's first gate check (ADRs 0505, 0508). Chained like every other event; the views learn nothing
        from it but the row's version."""

        class_version = 2  # v2: each unresolved violation's [type, severity, description, actor] (ADR 0527)

        source_name: str
        created_on: datetime
        status: str
        block_reason: str | None
        allowed_usage: list[str]
        tos_version: str | None
        tos_next_review_date: datetime
        proposals: int
        pending: dict[str, Any] | None
        changed_by: list[str]
        violations: dict[str, bool]
        open_violations: dict[str, list[str]]

        @staticmethod
        def upcast_v1_v2(state: dict[str, object]) -> None:
            state["open_violations"] = {}  # a v1 checkpoint kept no violation's content: one recurring is recorded

    @staticmethod
    def create_id(source_name: str) -> UUID:
        return uuid5(PAULP_NAMESPACE, f"compliance-source/{source_name}")

    @event(Seeded)
    def __init__(self, source_name: str, status: str, block_reason: str | None, terms: dict[str, Any],
                 seeded_at: datetime) -> None:
        self.source_name, self.status, self.block_reason = source_name, SourceStatus(status), block_reason
        self.allowed_usage: list[str] = list(terms.get("allowed_usage", []))
        self.tos_next_review_date = datetime.fromisoformat(terms["tos_next_review_date"])
        self.tos_version: str | None = terms.get("tos_version")
        self.proposals = 0
        self.pending: dict[str, Any] | None = None
        self.changed_by: list[str] = []
        self.violations: dict[str, bool] = {}  # id -> resolved
        self.open_violations: dict[str, list[str]] = {}  # unresolved id -> [type, severity, description, actor]
        self.checkpointed_at = 0  # the version of the last Checkpointed event (0: none yet)

    @classmethod
    def seed(cls, source: SeedSource, now: datetime) -> ComplianceSource:
        return cls(source_name=source.source_name, status=source.status.value, block_reason=source.block_reason,
                   terms=source.terms(now), seeded_at=now)

    # ----------------------------------------------------------------- commands (decide)

    def checkpoint_if_due(self, every: int) -> bool:
        """Restate the source once ``every`` events have followed the last checkpoint (or the source's start)."""
        if self.version - self.checkpointed_at < every:
            return False
        self._checkpointed(self.source_name, self.created_on, self.status.value, self.block_reason,
                           self.allowed_usage, self.tos_version, self.tos_next_review_date, self.proposals,
                           self.pending, self.changed_by, self.violations, self.open_violations)
        return True

    def propose_status(self, to_status: object, reason: object, block_reason: object, actor: object,
                       now: datetime) -> str:
        """Open a proposal for the second operator; a lapsed one is closed first. Returns the proposal id."""
        target, why = parse_status(to_status), required_text("reason", reason, REASON_MAX)
        who = required_text("actor", actor, ACTOR_MAX)
        if target is SourceStatus.BLOCKED:
            blocking = why if block_reason is None else required_text("block reason", block_reason, REASON_MAX)
        elif block_reason is not None:
            raise InvalidComplianceRequest("a block reason is only given when the status is blocked")
        else:
            blocking = None
        self._close_if_lapsed(now)
        if self.pending is not None:
            raise ProposalPending(f"{self.source_name} already has proposal {self.pending['proposal_id']}"
                                  " waiting for approval")
        if target is self.status and blocking == self.block_reason:
            raise StatusUnchanged(f"{self.source_name} is already {target.value}")
        proposal_id = f"{self.source_name}#p{self.proposals + 1}"
        self._proposed(proposal_id, target.value, why, blocking, who, now, now + PROPOSAL_TTL)
        return proposal_id

    def approve(self, proposal_id: str, actor: object, now: datetime) -> None:
        """The second operator's approval applies the pending proposal; its proposer cannot approve it."""
        who = required_text("actor", actor, ACTOR_MAX)
        pending = self._pending(proposal_id)
        if now > pending["expires_at"]:
            self._closed(proposal_id, "expired", None, "not approved within 24 h", now)
            raise ProposalExpired(f"proposal {proposal_id} expired unapproved")
        if who.casefold() == pending["proposed_by"].casefold():
            raise SameOperator("a status change must be approved by a different operator than its proposer")
        self._changed(proposal_id, self.status.value, pending["to_status"], pending["reason"],
                      pending["block_reason"], pending["proposed_by"], who, now)

    def reject(self, proposal_id: str, actor: object, reason: object, now: datetime) -> None:
        """Any operator, the proposer included, may withdraw a pending proposal."""
        who, why = required_text("actor", actor, ACTOR_MAX), required_text("reason", reason, REASON_MAX)
        self._pending(proposal_id)
        self._closed(proposal_id, "rejected", who, why, now)

    def record_event(self, event_type: object, description: object, actor: object, now: datetime) -> None:
        try:
            kind = ComplianceEventType(event_type if isinstance(event_type, str) else "")
        except ValueError:
            raise InvalidComplianceRequest(f"unknown compliance event type {event_type!r}") from None
        self._event_recorded(kind.value, required_text("description", description, TEXT_MAX),
                             required_text("actor", actor, ACTOR_MAX), now)

    def record_violation(self, violation_type: object, severity: object, description: object, actor: object,
                         now: datetime) -> tuple[str, bool]:
        """Record a violation and return its id and False; the same one as an unresolved violation on the source
        (type, severity, description, actor case-insensitive) is that one: its id and True, nothing recorded."""
        try:
            level = Severity(severity if isinstance(severity, str) else "")
        except ValueError:
            raise InvalidComplianceRequest("severity must be warning or critical") from None
        kind = required_text("violation type", violation_type, ACTOR_MAX)
        text, who = required_text("description", description, TEXT_MAX), required_text("actor", actor, ACTOR_MAX)
        key = [kind, level.value, text, who.casefold()]
        for open_id, open_key in self.open_violations.items():
            if open_key == key:
                return open_id, True
        violation_id = f"{self.source_name}#v{len(self.violations) + 1}"
        self._violation_recorded(violation_id, kind, level.value, text, who, now)
        return violation_id, False

    def resolve_violation(self, violation_id: str, resolved_by: object, notes: object, now: datetime) -> None:
        who = required_text("resolver", resolved_by, ACTOR_MAX)
        if notes is not None and (not isinstance(notes, str) or len(notes) > TEXT_MAX):
            raise InvalidComplianceRequest(f"notes must be text of at most {TEXT_MAX} characters")
        if violation_id not in self.violations:
            raise ViolationNotFound(f"no violation {violation_id} on {self.source_name}")
        if self.violations[violation_id]:
            raise ViolationAlreadyResolved(f"violation {violation_id} is already resolved")
        kept = (notes.strip() or None) if notes is not None else None
        self._violation_resolved(violation_id, who, kept, now)

    def review_tos(self, actor: object, notes: object, tos_version: object, now: datetime) -> datetime:
        """Record that an operator read the terms; the next review falls due 90 days from now. Returns that date."""
        who, text = required_text("actor", actor, ACTOR_MAX), required_text("notes", notes, TEXT_MAX)
        version = self.tos_version if tos_version is None else required_text("ToS version", tos_version, VERSION_MAX)
        if version is None:  # a seeded source always has one; an unversioned review would leave the field unknown
            raise InvalidComplianceRequest(f"{self.source_name} has no ToS version: give --tos-version")
        due = now + REVIEW_EVERY
        self._tos_reviewed(who, text, version, self.tos_version, due, now)
        return due

    @property
    def unresolved_violations(self) -> int:
        return sum(1 for resolved in self.violations.values() if not resolved)

    def _pending(self, proposal_id: str) -> dict[str, Any]:
        if self.pending is None or self.pending["proposal_id"] != proposal_id:
            if self._earlier_proposal(proposal_id):
                raise ProposalClosed(f"{proposal_id} is no longer pending: it was approved, rejected or expired"
                                     f" (the source is {self.status.value} now)")
            raise ProposalNotFound(f"{proposal_id} is not a pending proposal of {self.source_name}")
        return self.pending

    def _earlier_proposal(self, proposal_id: str) -> bool:
        """Whether ``proposal_id`` is an id this source gave one of its proposals (``<source>#p<n>``)."""
        source, _, local = proposal_id.rpartition("#")
        number = local[1:]
        return (source == self.source_name and local[:1] == "p" and number.isascii() and number.isdigit()
                and str(int(number)) == number and 1 <= int(number) <= self.proposals)

    def _close_if_lapsed(self, now: datetime) -> None:
        if self.pending is not None and now > self.pending["expires_at"]:
            self._closed(self.pending["proposal_id"], "expired", None, "not approved within 24 h", now)

    # ----------------------------------------------------------------- events (apply)

    @event(StatusChangeProposed)
    def _proposed(self, proposal_id: str, to_status: str, reason: str, block_reason: str | None,
                  proposed_by: str, proposed_at: datetime, expires_at: datetime) -> None:
        self.proposals += 1
        self.pending = {"proposal_id": proposal_id, "to_status": to_status, "reason": reason,
                        "block_reason": block_reason, "proposed_by": proposed_by, "expires_at": expires_at}

    @event(ProposalClosed)
    def _closed(self, proposal_id: str, outcome: str, actor: str | None, reason: str, at: datetime) -> None:
        self.pending = None

    @event(SourceStatusChanged)
    def _changed(self, proposal_id: str, from_status: str, to_status: str, reason: str, block_reason: str | None,
                 proposed_by: str, actor: str, at: datetime) -> None:
        self.status, self.block_reason = SourceStatus(to_status), block_reason
        self.changed_by = [proposed_by, actor]
        self.pending = None

    @event(EventRecorded)
    def _event_recorded(self, event_type: str, description: str, actor: str, at: datetime) -> None:
        pass

    @event(ViolationRecorded)
    def _violation_recorded(self, violation_id: str, violation_type: str, severity: str, description: str,
                            actor: str, detected_at: datetime) -> None:
        self.violations[violation_id] = False
        self.open_violations[violation_id] = [violation_type, severity, description, actor.casefold()]

    @event(ViolationResolved)
    def _violation_resolved(self, violation_id: str, resolved_by: str, notes: str | None, at: datetime) -> None:
        self.violations[violation_id] = True
        self.open_violations.pop(violation_id, None)

    @event(TosReviewed)
    def _tos_reviewed(self, reviewed_by: str, notes: str, tos_version: str, previous_version: str | None,
                      next_review_date: datetime, at: datetime) -> None:
        self.tos_version, self.tos_next_review_date = tos_version, next_review_date

    @event(Checkpointed)
    def _checkpointed(self, source_name: str, created_on: datetime, status: str, block_reason: str | None,
                      allowed_usage: list[str], tos_version: str | None, tos_next_review_date: datetime,
                      proposals: int, pending: dict[str, Any] | None, changed_by: list[str],
                      violations: dict[str, bool], open_violations: dict[str, list[str]]) -> None:
        """Sets the whole source (``resume`` starts a load here), each container a copy of the event's own;
        ``+ 1``: the library moves ``version`` after."""
        self.source_name, self.status, self.block_reason = source_name, SourceStatus(status), block_reason
        self.allowed_usage, self.tos_version = list(allowed_usage), tos_version
        self.tos_next_review_date, self.proposals = tos_next_review_date, proposals
        self.pending = None if pending is None else dict(pending)
        self.changed_by, self.violations = list(changed_by), dict(violations)
        self.open_violations = {vid: list(key) for vid, key in open_violations.items()}
        self.checkpointed_at = self.version + 1


class IngestionBlocked(Aggregate):
    """The audit record INGESTION_BLOCKED_BY_COMPLIANCE: one per fetch the gate stopped, never retried."""

    class Recorded(Aggregate.Created):
        check_id: str
        job: str
        message_type: str
        venue: str
        status: str
        reason: str
        blocked_entities: list[str]
        at: datetime

    @staticmethod
    def create_id(check_id: str) -> UUID:
        return uuid5(PAULP_NAMESPACE, f"ingestion-blocked/{check_id}")

    @event(Recorded)
    def __init__(self, check_id: str, job: str, message_type: str, venue: str, status: str, reason: str,
                 blocked_entities: list[str], at: datetime) -> None:
        self.check_id, self.job, self.message_type, self.venue = check_id, job, message_type, venue
        self.status, self.reason, self.blocked_entities, self.at = status, reason, list(blocked_entities), at
