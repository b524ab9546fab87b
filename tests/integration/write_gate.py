"""A deterministic race on real PostgreSQL: one writer's save held inside its transaction while a second writer loads
the same aggregate, decides and tries to save (ADR 0512).

Every save appends through ``paulp_append_events``, which takes the log's EXCLUSIVE lock before inserting. The gate
adds a statement trigger to ``paulp_events`` that waits for a test-held advisory lock after the insert, before the
commit. So, while the gate is closed:

1. the first writer (``hold``) inserts its events and waits in the trigger, uncommitted, holding the log's lock;
2. the second writer loads the aggregate as it was (the first writer's events are not committed), decides, and its
   save waits for the log's lock (``wait_queued``);
3. ``release`` lets the first writer commit; the second writer's insert then meets the first writer's
   (originator_id, originator_version): ``IntegrityError``, as when two operators act at the same moment.

No class of ours is replaced: both writers run the real commands on their own connections.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

GATE_KEY = 512_0512  # the advisory lock the trigger waits for
WAIT_S = 8.0  # below the append's 10 s lock timeout
INSTALL = (
    "CREATE OR REPLACE FUNCTION public.test_write_gate() RETURNS trigger LANGUAGE plpgsql AS $$"
    f" BEGIN PERFORM pg_advisory_xact_lock_shared({GATE_KEY}); RETURN NULL; END $$",
    "CREATE TRIGGER test_write_gate AFTER INSERT ON public.paulp_events"
    " FOR EACH STATEMENT EXECUTE FUNCTION public.test_write_gate()",
)
REMOVE = ("DROP TRIGGER IF EXISTS test_write_gate ON public.paulp_events",
          "DROP FUNCTION IF EXISTS public.test_write_gate()")
GATE_WAITERS = ("SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
                " WHERE d.datname = current_database() AND l.locktype = 'advisory' AND NOT l.granted"
                f" AND l.classid = 0 AND l.objid = {GATE_KEY}")
LOG_WAITERS = ("SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
               " WHERE d.datname = current_database() AND l.locktype = 'relation' AND NOT l.granted"
               " AND l.relation = 'public.paulp_events'::regclass")


class WriteGate:
    def __init__(self, database_url: str) -> None:
        self.conn = psycopg.connect(database_url, autocommit=True)
        self.threads: list[threading.Thread] = []
        self.results: dict[str, Any] = {}

    def close(self) -> None:
        self.open()
        for thread in self.threads:
            thread.join(WAIT_S)
        for sql in REMOVE:
            self.conn.execute(sql)
        self.conn.close()

    def shut(self) -> None:
        for sql in INSTALL:
            self.conn.execute(sql)
        self.conn.execute("SELECT pg_advisory_lock(%s)", (GATE_KEY,))

    def open(self) -> None:
        self.conn.execute("SELECT pg_advisory_unlock_all()")

    def run(self, name: str, call: Callable[[], Any]) -> None:
        """``call()`` in a thread of its own; its result (or the exception it raised) lands in ``results[name]``."""
        def target() -> None:
            try:
                self.results[name] = call()
            except BaseException as exc:  # the test asserts on it
                self.results[name] = exc

        thread = threading.Thread(target=target, name=f"gate-{name}", daemon=True)
        self.threads.append(thread)
        thread.start()

    def hold(self, name: str, call: Callable[[], Any]) -> None:
        """Start ``call`` (the first writer) and return once its save waits, uncommitted, at the gate."""
        self.run(name, call)
        self._until(GATE_WAITERS, f"{name} to reach the gate with its save")

    def wait_queued(self, what: str) -> None:
        """Return once a second save waits for the log's lock behind the held one."""
        self._until(LOG_WAITERS, f"{what} to wait for the log behind the held save")

    def join(self, name: str) -> Any:
        for thread in self.threads:
            if thread.name == f"gate-{name}":
                thread.join(WAIT_S * 2)
                assert not thread.is_alive(), f"{name} did not finish"
        return self.results[name]

    def _until(self, sql: str, what: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            row = self.conn.execute(sql).fetchone()
            if row is not None and row[0] > 0:
                return
            time.sleep(0.01)
        activity = self.conn.execute("SELECT pid, state, wait_event_type, wait_event, left(query, 120)"
                                     " FROM pg_stat_activity WHERE datname = current_database()").fetchall()
        raise AssertionError(f"timed out waiting for {what}; sessions: {activity}; finished: {self.results}")


@contextmanager
def write_gate(database_url: str) -> Iterator[WriteGate]:
    """A closed gate on the database's log; opened and removed however the test ends."""
    gate = WriteGate(database_url)
    try:
        gate.shut()
        yield gate
    finally:
        gate.close()


def race(database_url: str, first: Callable[[], Any], second: Callable[[], Any],
         what: str = "the second writer") -> tuple[Any, Any]:
    """``first`` saves and is held before its commit; ``second`` (run in this thread's stead, in a thread of its own)
    loads the same aggregate and queues its save; then ``first`` commits. Returns both results (an exception raised
    is returned, not raised)."""
    with write_gate(database_url) as gate:
        gate.hold("first", first)
        gate.run("second", second)
        gate.wait_queued(what)
        gate.open()
        return gate.join("first"), gate.join("second")
