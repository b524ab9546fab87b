"""Compliance views (api-and-security §6.3, ADR 0368): the matrix, pending proposals, compliance events and
violations, all from the ``ComplianceSource`` and ``IngestionBlocked`` events. Rebuildable by replay."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from psycopg import Cursor
from psycopg.types.json import Jsonb

from paulp.domain.compliance import ComplianceSource, IngestionBlocked

TERMS = ("allowed_usage", "prohibited_usage", "rate_limits", "retry_policy", "retention_rules", "pii_handling",
         "attribution_required", "attribution_text", "tos_url", "tos_version", "tos_snapshot_evidence_hash",
         "tos_snapshot_r2_key", "tos_retrieved_at", "tos_next_review_date", "scraping_permitted", "scraping_notes",
         "robots_txt_compliant", "authentication_required", "authentication_type")
JSON_TERMS = frozenset({"allowed_usage", "prohibited_usage", "rate_limits", "retry_policy", "retention_rules"})


def _touch(cur: Cursor[Any], e: Any, notification_id: int, at: Any) -> str:
    row = cur.execute("UPDATE compliance_sources SET version = %s, notification_id = %s, updated_at = %s"
                      " WHERE id = %s RETURNING source_name",
                      (e.originator_version, notification_id, at, e.originator_id)).fetchone()
    if row is None:
        raise LookupError(f"compliance event for unknown source {e.originator_id}")
    return str(row[0])


class ComplianceProjection:
    name = "compliance"
    tables = ("compliance_sources", "compliance_proposals", "compliance_events", "compliance_violations")

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events this view does not show."""

    @apply.register
    def _(self, e: ComplianceSource.Seeded, cur: Cursor[Any], notification_id: int) -> None:
        values = [Jsonb(e.terms.get(k)) if k in JSON_TERMS else e.terms.get(k) for k in TERMS]
        cur.execute(
            f"INSERT INTO compliance_sources (id, source_name, {', '.join(TERMS)}, status, block_reason, seeded_at,"
            f" updated_at, version, notification_id) VALUES ({', '.join(['%s'] * (len(TERMS) + 8))})"
            " ON CONFLICT (id) DO NOTHING",
            (e.originator_id, e.source_name, *values, e.status, e.block_reason, e.seeded_at, e.seeded_at,
             e.originator_version, notification_id),
        )

    @apply.register
    def _(self, e: ComplianceSource.StatusChangeProposed, cur: Cursor[Any], notification_id: int) -> None:
        name = _touch(cur, e, notification_id, e.proposed_at)
        cur.execute(
            "INSERT INTO compliance_proposals (proposal_id, source_name, to_status, reason, block_reason,"
            " proposed_by, proposed_at, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (proposal_id) DO NOTHING",
            (e.proposal_id, name, e.to_status, e.reason, e.block_reason, e.proposed_by, e.proposed_at, e.expires_at),
        )

    @apply.register
    def _(self, e: ComplianceSource.ProposalClosed, cur: Cursor[Any], notification_id: int) -> None:
        _touch(cur, e, notification_id, e.at)
        cur.execute("UPDATE compliance_proposals SET outcome = %s, closed_by = %s, closed_at = %s, close_reason = %s"
                    " WHERE proposal_id = %s", (e.outcome, e.actor, e.at, e.reason, e.proposal_id))

    @apply.register
    def _(self, e: ComplianceSource.SourceStatusChanged, cur: Cursor[Any], notification_id: int) -> None:
        name = _touch(cur, e, notification_id, e.at)
        cur.execute(
            "UPDATE compliance_sources SET status = %s, block_reason = %s, status_reason = %s,"
            " status_changed_at = %s, status_proposed_by = %s, status_approved_by = %s WHERE id = %s",
            (e.to_status, e.block_reason, e.reason, e.at, e.proposed_by, e.actor, e.originator_id),
        )
        cur.execute("UPDATE compliance_proposals SET outcome = 'approved', closed_by = %s, closed_at = %s"
                    " WHERE proposal_id = %s", (e.actor, e.at, e.proposal_id))
        details = {"proposalId": e.proposal_id, "from": e.from_status, "to": e.to_status,
                   "blockReason": e.block_reason, "proposedBy": e.proposed_by}
        self._event(cur, notification_id, name, "status_change",
                    f"{e.from_status} -> {e.to_status}: {e.reason}", e.actor, details, e.at)

    @apply.register
    def _(self, e: ComplianceSource.EventRecorded, cur: Cursor[Any], notification_id: int) -> None:
        name = _touch(cur, e, notification_id, e.at)
        self._event(cur, notification_id, name, e.event_type, e.description, e.actor, {}, e.at)

    @apply.register
    def _(self, e: ComplianceSource.ViolationRecorded, cur: Cursor[Any], notification_id: int) -> None:
        name = _touch(cur, e, notification_id, e.detected_at)
        cur.execute(
            "INSERT INTO compliance_violations (violation_id, source_name, violation_type, severity, description,"
            " recorded_by, detected_at, notification_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (violation_id) DO NOTHING",
            (e.violation_id, name, e.violation_type, e.severity, e.description, e.actor, e.detected_at,
             notification_id),
        )

    @apply.register
    def _(self, e: ComplianceSource.ViolationResolved, cur: Cursor[Any], notification_id: int) -> None:
        _touch(cur, e, notification_id, e.at)
        row = cur.execute(
            "UPDATE compliance_violations SET resolved = true, resolved_at = %s, resolved_by = %s,"
            " resolution_notes = %s WHERE violation_id = %s RETURNING violation_id",
            (e.at, e.resolved_by, e.notes, e.violation_id)).fetchone()
        if row is None:  # the aggregate resolves only violations it recorded
            raise LookupError(f"resolution of unknown compliance violation {e.violation_id}")

    @apply.register
    def _(self, e: ComplianceSource.TosReviewed, cur: Cursor[Any], notification_id: int) -> None:
        name = _touch(cur, e, notification_id, e.at)
        cur.execute("UPDATE compliance_sources SET tos_version = %s, tos_next_review_date = %s, tos_reviewed_at = %s,"
                    " tos_reviewed_by = %s, tos_review_notes = %s WHERE id = %s",
                    (e.tos_version, e.next_review_date, e.at, e.reviewed_by, e.notes, e.originator_id))
        details = {"tosVersion": e.tos_version, "previousVersion": e.previous_version,
                   "nextReviewDate": e.next_review_date.isoformat()}
        self._event(cur, notification_id, name, "review_triggered", f"ToS reviewed: {e.notes}", e.reviewed_by,
                    details, e.at)

    @apply.register
    def _(self, e: ComplianceSource.Checkpointed, cur: Cursor[Any], notification_id: int) -> None:
        """The source restated for loads (ADR 0508): nothing to show but the row's position; not an update."""
        cur.execute("UPDATE compliance_sources SET version = %s, notification_id = %s WHERE id = %s",
                    (e.originator_version, notification_id, e.originator_id))

    @apply.register
    def _(self, e: IngestionBlocked.Recorded, cur: Cursor[Any], notification_id: int) -> None:
        details = {"checkId": e.check_id, "job": e.job, "messageType": e.message_type, "venue": e.venue,
                   "status": e.status, "blockedEntities": e.blocked_entities}
        description = f"{e.job}: {e.venue} {e.message_type} not fetched: {e.reason}"
        for name in e.blocked_entities or [f"{e.venue}:{e.message_type}"]:  # unmapped: name what was asked
            self._event(cur, notification_id, name, "blocked_access", description, None, details, e.at)

    @staticmethod
    def _event(cur: Cursor[Any], notification_id: int, source: str, kind: str, description: str,
               actor: str | None, details: dict[str, Any], at: Any) -> None:
        cur.execute(
            "INSERT INTO compliance_events (notification_id, source_name, event_type, description, actor, details,"
            " at) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (notification_id, source, kind, description, actor, Jsonb(details), at),
        )
