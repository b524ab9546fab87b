"""PostgreSQL advisory locks that keep work of several processes apart (session locks: they go with the
connection, so a crashed holder frees them).

Besides the per-job locks (``JobRunner.exclusive``), one lock keeps LIVE sells and a position rebuild apart
(ADR 0480): every LIVE exit or operator close holds it *shared* while it may send a sell to Kalshi, and a
rebuild holds it *exclusive* from its in-flight check to the last adjustment recorded. A rebuild could
otherwise read Kalshi's positions while a sell it did not see is filling, and adopt contracts that the exit
then books as sold: counted twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from paulp.api.venue_session import JobFailed

LIVE_SELLS = "venue/live-sells"
POLL_S = 0.05


class RebuildInProgress(JobFailed):
    """A LIVE sell was about to be sent while a position rebuild holds the venue: nothing sent or recorded."""

    def __init__(self) -> None:
        super().__init__("rebuild_in_progress", "A position rebuild is reading and adopting Kalshi's positions: no"
                         " LIVE sell is sent beside it; nothing was sent or recorded. Try again when it has finished",
                         409)


class LiveSellsInProgress(JobFailed):
    """A rebuild was asked for while a LIVE exit or close may be selling: nothing read or written."""

    def __init__(self) -> None:
        super().__init__("live_sells_in_progress", "A LIVE exit or operator close is selling at Kalshi: the position"
                         " rebuild did not start (nothing read or written). Try again when it has finished", 409)


@contextmanager
def hold(database_url: str, key: str, wait_s: float, shared: bool, busy: Callable[[], JobFailed]) -> Iterator[None]:
    """Hold ``key``'s advisory lock on a connection of its own for the block, waiting at most ``wait_s``;
    ``busy()`` is raised when it cannot be had by then."""
    take = "SELECT pg_try_advisory_lock_shared(hashtext(%s))" if shared else "SELECT pg_try_advisory_lock(hashtext(%s))"
    with psycopg.connect(database_url, autocommit=True) as conn:
        deadline = time.monotonic() + wait_s
        while True:
            row = conn.execute(take, (key,)).fetchone()
            if row and row[0]:
                break
            if time.monotonic() >= deadline:
                raise busy()
            time.sleep(POLL_S)
        yield


@contextmanager
def live_sells(container: Any, wait_s: float) -> Iterator[None]:
    """Held by a LIVE exit or close while it may send a sell; refused (``RebuildInProgress``) during a rebuild."""
    with hold(container.database_url, container.names.lock_key(LIVE_SELLS), wait_s, True, RebuildInProgress):
        yield


@contextmanager
def no_live_sells(container: Any, wait_s: float) -> Iterator[None]:
    """Held by a position rebuild: no LIVE sell starts meanwhile, and none is under way when it is granted."""
    with hold(container.database_url, container.names.lock_key(LIVE_SELLS), wait_s, False, LiveSellsInProgress):
        yield
