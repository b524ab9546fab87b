"""Dead letters as the operator sees them, and the replay of one after its projection was fixed (ADR 0398)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from paulp.adapters.clock import SystemClock
from paulp.adapters.eventstore.codec import decode, make_mapper
from paulp.adapters.eventstore.recorder import application_env
from paulp.domain.errors import DomainError
from paulp.projections.base import Projection

COLUMNS = ("id, projection, consumer, notification_id, topic, stream_seq, dlq_seq, attempts, error, recorded_at,"
           " replayed_at, replayed_by")


class ReplayFailed(DomainError):
    code = "dead_letter_replay_failed"


class UnknownDeadLetter(DomainError):
    code = "dead_letter_not_found"


@dataclass(frozen=True)
class DeadLetterRow:
    id: int
    projection: str
    consumer: str | None
    notification_id: int
    topic: str
    stream_seq: int | None
    dlq_seq: int | None
    attempts: int | None
    error: str
    recorded_at: datetime
    replayed_at: datetime | None
    replayed_by: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "projection": self.projection, "consumer": self.consumer,
            "notificationId": self.notification_id, "topic": self.topic, "streamSeq": self.stream_seq,
            "dlqSeq": self.dlq_seq, "attempts": self.attempts, "error": self.error,
            "recordedAt": self.recorded_at.isoformat(),
            "replayedAt": self.replayed_at.isoformat() if self.replayed_at else None,
            "replayedBy": self.replayed_by,
        }


def list_dead_letters(conn: psycopg.Connection[Any], limit: int = 100, projection: str | None = None,
                      pending_only: bool = False) -> list[DeadLetterRow]:
    """Newest first."""
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM public.projection_dead_letters"
        " WHERE (%(p)s::text IS NULL OR projection = %(p)s) AND (NOT %(pending)s OR replayed_at IS NULL)"
        " ORDER BY id DESC LIMIT %(limit)s", {"p": projection, "pending": pending_only, "limit": limit},
    ).fetchall()
    return [DeadLetterRow(*r) for r in rows]


def replay_dead_letter(database_url: str, projections: dict[str, Projection], letter_id: int, actor: str,
                       reason: str) -> DeadLetterRow:
    """Apply the dead-lettered event to its view now and mark it replayed, in one transaction; then log
    ``Replayed``. Refused (nothing changed) when it is unknown, already replayed, or still fails.

    The view receives the event after the ones that followed it on the bus: the operator who fixed the
    projection judges that this order is harmless for that view (operations.md, "Dead letters")."""
    from paulp.domain.dead_letters import ReplayRefused
    from paulp.domain.services.dead_letters import DeadLettersService

    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        found = conn.execute(f"SELECT {COLUMNS} FROM public.projection_dead_letters WHERE id = %s FOR UPDATE",
                             (letter_id,)).fetchone()
        if found is None:
            raise UnknownDeadLetter(f"no dead letter {letter_id}")
        row = DeadLetterRow(*found)
        if row.replayed_at is not None:
            raise ReplayRefused(f"dead letter {letter_id} was already replayed by {row.replayed_by}"
                                f" at {row.replayed_at.isoformat()}")
        projection = projections.get(row.projection)
        if projection is None:
            raise ReplayFailed(f"dead letter {letter_id}: projection {row.projection!r} is not registered")
        stored = conn.execute("SELECT originator_id, originator_version, topic, state FROM paulp_events"
                              " WHERE notification_id = %s", (row.notification_id,)).fetchone()
        if stored is None:
            raise ReplayFailed(f"dead letter {letter_id}: event {row.notification_id} is not in the log")
        originator, version, topic, state = stored
        event = decode(make_mapper(), str(originator), version, topic, bytes(state))
        try:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("SET LOCAL search_path TO views, public")
                projection.apply(event, cur, row.notification_id)
        except Exception as e:
            raise ReplayFailed(f"dead letter {letter_id} still fails in {row.projection}:"
                               f" {type(e).__name__}: {e}") from e
        conn.execute("SET LOCAL search_path TO public")
        done = conn.execute("UPDATE projection_dead_letters SET replayed_at = now(), replayed_by = %s WHERE id = %s"
                            f" RETURNING {COLUMNS}", (actor, letter_id)).fetchone()
        assert done is not None
        if row.consumer is not None:  # a bus dead letter has a MessageDeadLettered to follow up in the log
            service = DeadLettersService(application_env(database_url), SystemClock())
            try:
                service.replayed(row.consumer, row.notification_id, actor, reason, SystemClock().now())
            finally:
                service.close()
    return DeadLetterRow(*done)
