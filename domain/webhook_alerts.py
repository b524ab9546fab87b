"""Critical alerts received on ``/webhooks/alert`` (api-and-security §1.6), one aggregate per distinct body.

The body has no id (§1.6 defines none, nor does the runbook), so a sender's retry of an alert we already acted on
would escalate the breaker once more. The natural key is the body itself: a hash of its canonical JSON (severity,
source, message, context), so key order and spacing do not make a second alert. The same body again within
``REPEAT_WINDOW`` of the delivery that acted is that delivery again: it is answered with the first outcome and
changes nothing. After the window the same body is a new occurrence and escalates (ADR 0524).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.canonical import canonical_json
from paulp.domain.clock import iso_utc
from paulp.domain.namespace import PAULP_NAMESPACE

REPEAT_WINDOW = timedelta(minutes=10)  # a retrying sender's backoffs end well within it


def alert_key(severity: str, source: str, message: str, context: object) -> str:
    """The body's natural key: sha256 of its canonical JSON (absent and null context are the same alert)."""
    body: dict[str, Any] = {"severity": severity, "source": source, "message": message, "context": context}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


@dataclass(frozen=True)
class AlertOutcome:
    """What the delivery that acted did to the breaker; ``duplicate`` when this delivery repeated it."""

    from_state: str
    to_state: str
    at: datetime
    duplicate: bool

    def as_json(self) -> dict[str, Any]:
        return {"duplicate": self.duplicate,
                "breaker": {"from": self.from_state, "to": self.to_state, "at": iso_utc(self.at)}}


class WebhookAlert(Aggregate):
    """Every time one alert body acted on the breaker; found again through its uuid5 id."""

    class Created(Aggregate.Created):
        key: str
        source: str
        message: str

    class Acted(Aggregate.Event):
        from_state: str
        to_state: str
        at: datetime

    @staticmethod
    def create_id(key: str) -> UUID:
        return uuid5(PAULP_NAMESPACE, f"webhook-alert/{key}")

    @event(Created)
    def __init__(self, key: str, source: str, message: str) -> None:
        self.key = key
        self.source = source
        self.message = message
        self.last: AlertOutcome | None = None

    def repeat_of(self, now: datetime) -> AlertOutcome | None:
        """The outcome of the delivery that acted, when ``now`` is within its window; else None (act again)."""
        if self.last is None or now - self.last.at >= REPEAT_WINDOW:  # a clock behind the first one's: a repeat
            return None
        return AlertOutcome(self.last.from_state, self.last.to_state, self.last.at, duplicate=True)

    def acted(self, from_state: str, to_state: str, now: datetime) -> AlertOutcome:
        self._acted(from_state, to_state, now)
        return AlertOutcome(from_state, to_state, now, duplicate=False)

    @event(Acted)
    def _acted(self, from_state: str, to_state: str, at: datetime) -> None:
        self.last = AlertOutcome(from_state, to_state, at, duplicate=False)
