"""A message a consumer could not process after its last delivery (api-and-security §7.2 resolution; ADR 0398).

One aggregate per (consumer, notification id): recording the same dead letter twice (a crash between the DLQ
publish and the projector's commit, then the same failures again) finds it already there instead of logging a
second ``MessageDeadLettered``.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.errors import DomainError
from paulp.domain.namespace import PAULP_NAMESPACE

MAX_ERROR_CHARS = 2000


class ReplayRefused(DomainError):
    """Raised when a dead letter was already replayed: applying it twice would double its effect."""

    code = "dead_letter_already_replayed"


class InvalidReplay(DomainError):
    """Raised when a replay names no operator or no reason: the log must say who applied it and why (the CLI
    refuses these too; this holds for every other caller)."""

    code = "dead_letter_replay_invalid"


class DeadLetter(Aggregate):
    class MessageDeadLettered(Aggregate.Created):
        consumer: str
        subject: str
        stream_seq: int
        notification_id: int
        topic: str
        error: str
        attempts: int
        dlq_seq: int
        at: datetime

    class Replayed(Aggregate.Event):
        actor: str
        reason: str
        at: datetime

    @staticmethod
    def create_id(consumer: str, notification_id: int) -> UUID:
        return uuid5(PAULP_NAMESPACE, f"dead-letter/{consumer}/{notification_id}")

    @classmethod
    def record(cls, consumer: str, subject: str, stream_seq: int, notification_id: int, topic: str, error: str,
               attempts: int, dlq_seq: int, at: datetime) -> DeadLetter:
        letter: DeadLetter = cls._create(
            cls.MessageDeadLettered, id=cls.create_id(consumer, notification_id), consumer=consumer,
            subject=subject, stream_seq=stream_seq, notification_id=notification_id, topic=topic,
            error=error[:MAX_ERROR_CHARS], attempts=attempts, dlq_seq=dlq_seq, at=at)
        return letter

    def __init__(self, consumer: str, subject: str, stream_seq: int, notification_id: int, topic: str, error: str,
                 attempts: int, dlq_seq: int, at: datetime) -> None:
        self.consumer, self.notification_id, self.topic = consumer, notification_id, topic
        self.replayed_by: str | None = None

    def replay(self, actor: str, reason: str, at: datetime) -> None:
        if self.replayed_by is not None:
            raise ReplayRefused(f"dead letter {self.consumer}/{self.notification_id} was already replayed"
                                f" by {self.replayed_by}")
        for name, text in (("actor", actor), ("reason", reason)):
            if not isinstance(text, str) or not text.strip() or "\x00" in text:
                raise InvalidReplay(f"a dead letter replay needs a non-blank {name} without NUL characters,"
                                    f" got {text!r:.80}")
        self._replayed(actor=actor, reason=reason, at=at)

    @event(Replayed)
    def _replayed(self, actor: str, reason: str, at: datetime) -> None:
        self.replayed_by = actor
