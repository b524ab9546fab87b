"""Dead letters in the log: recorded by the projector that gave up on a message, replayed by an operator."""

from __future__ import annotations

from datetime import datetime

from paulp.domain.dead_letters import DeadLetter
from paulp.domain.services.base import PaulpApplication


class DeadLettersService(PaulpApplication):
    def record(self, consumer: str, subject: str, stream_seq: int, notification_id: int, topic: str, error: str,
               attempts: int, dlq_seq: int) -> bool:
        """Log ``MessageDeadLettered`` once per (consumer, notification id); False when it is there already."""
        if self.get_or_none(DeadLetter.create_id(consumer, notification_id)) is not None:
            return False
        self.save(DeadLetter.record(consumer, subject, stream_seq, notification_id, topic, error, attempts,
                                    dlq_seq, self.clock.now()))
        return True

    def replayed(self, consumer: str, notification_id: int, actor: str, reason: str, at: datetime) -> None:
        letter: DeadLetter | None = self.get_or_none(DeadLetter.create_id(consumer, notification_id))
        if letter is None:  # set aside by a log catch-up or rebuild: no MessageDeadLettered to follow up
            return
        letter.replay(actor, reason, at)
        self.save(letter)
