"""Breaker alerts raised once per distinct message (ADR 0526).

A refused impossible venue answer (ADR 0520) is met again by every run that asks Kalshi (exits every 5 minutes,
order timers every minute) while Kalshi's record stays as it is: an alert per run would be ~288 a day for one
stuck exit. The message names the order or sell, what is impossible and the evidence hash of the body, so the
same message again is the same answer again; a changed body (another hash) or another reason is a new message.
One aggregate per (code, message), found again through its uuid5 id, records that it was raised.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.namespace import PAULP_NAMESPACE


class DistinctAlert(Aggregate):
    """One breaker alert's code and message, created when it was first raised."""

    class Created(Aggregate.Created):
        code: str
        message: str
        at: datetime

    @staticmethod
    def create_id(code: str, message: str) -> UUID:
        digest = hashlib.sha256(message.encode()).hexdigest()
        return uuid5(PAULP_NAMESPACE, f"distinct-alert/{code}/{digest}")

    @event(Created)
    def __init__(self, code: str, message: str, at: datetime) -> None:
        self.code = code
        self.message = message
        self.at = at
