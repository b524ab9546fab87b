"""Base of every domain failure: a stable machine ``code`` the HTTP layer maps to a status in one place."""

from __future__ import annotations


class DomainError(Exception):
    """Raised when a command breaks a business rule; ``code`` is stable, the message is for humans."""

    code: str = "domain_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EventFromNewerRelease(DomainError):
    """Raised when a stored event's topic does not resolve here or its ``class_version`` is above its class's: a
    newer release stored it, and this code would misread it (ADR 0523)."""

    code = "EVENT_FROM_NEWER_RELEASE"

    def __init__(self, topic: str, stored_version: int | None, known_version: int | None,
                 notification_id: int | None = None) -> None:
        self.topic, self.stored_version, self.known_version = topic, stored_version, known_version
        self.notification_id = notification_id
        where = "" if notification_id is None else f"event {notification_id}: "
        what = (f"topic {topic} is unknown to this release" if known_version is None else
                f"topic {topic} at class_version {stored_version} (this release reads up to {known_version})")
        super().__init__(f"{where}{what}: a newer release stored it; run that release to read it")

    def at(self, notification_id: int) -> EventFromNewerRelease:
        """The same refusal, naming the event's position in the log."""
        return EventFromNewerRelease(self.topic, self.stored_version, self.known_version, notification_id)
