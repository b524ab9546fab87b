"""One context application on its own, for a command that needs only it (``paulp backtest run``, ``paulp
verify run``): the composition root builds every context and imports every provider SDK, seconds such a
command need not spend."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from paulp.adapters.clock import SystemClock
from paulp.adapters.eventstore.recorder import application_env
from paulp.adapters.migrate import migrate
from paulp.domain.services.base import PaulpApplication

A = TypeVar("A", bound=PaulpApplication)


def open_context(cls: type[A], database_url: str) -> A:
    """Migrate (as ``build`` does), then the one application on the shared log; the caller closes it."""
    migrate(database_url)
    return cls(application_env(database_url), SystemClock())


@contextmanager
def context(cls: type[A], database_url: str) -> Iterator[A]:
    """``open_context`` for the length of a ``with`` block: the application is closed however it ends."""
    app = open_context(cls, database_url)
    try:
        yield app
    finally:
        app.close()
