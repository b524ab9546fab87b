"""Base of every domain failure: a stable machine ``code`` the HTTP layer maps to a status in one place."""

from __future__ import annotations


class DomainError(Exception):
    """Raised when a command breaks a business rule; ``code`` is stable, the message is for humans."""

    code: str = "domain_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
