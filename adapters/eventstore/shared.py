"""One datastore for the context applications of one Container: one connection pool, composite types read once.

The library gives each Application its own factory and so its own ``PostgresDatastore``: a process wired with
twelve contexts held twelve pools of up to ten connections each (more than PostgreSQL's default 100 under
load), and every wiring opened twelve new backends, each reading the composite types before first use.
Applications whose environment names the same ``PAULP_SHARED_DATASTORE`` key share the first one's datastore;
the last of them to close closes it (ADR 0352). An environment without the key keeps the library's behaviour.
"""

from __future__ import annotations

import threading

from eventsourcing.postgres import PostgresDatastore, PostgresFactory
from eventsourcing.utils import Environment, EnvType

SHARED_KEY = "PAULP_SHARED_DATASTORE"

_lock = threading.Lock()
_shared: dict[str, tuple[PostgresDatastore, int]] = {}  # key -> (datastore, applications using it)


class SharedDatastoreFactory(PostgresFactory):
    """``PostgresFactory`` whose datastore is shared by every application built with the same key."""

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)  # builds a datastore; its pool opens on first use, so an unused one costs nothing
        self._shared_key = self.env.get(SHARED_KEY) or None
        self._released = False  # this application's use of a shared datastore was given back
        if self._shared_key is None:
            return
        own = self.datastore
        with _lock:
            found = _shared.get(self._shared_key)
            if found is None:
                _shared[self._shared_key] = (own, 1)
                return
            self.datastore = found[0]
            _shared[self._shared_key] = (found[0], found[1] + 1)
        own.close()

    def close(self) -> None:
        """Release this application's use; the last user closes the pool. Idempotent (``Application.__del__``
        closes again)."""
        key, self._shared_key = self._shared_key, None
        if key is None:
            if not self._released:
                super().close()
            return
        self._released = True
        with _lock:
            datastore, users = _shared[key]
            if users > 1:
                _shared[key] = (datastore, users - 1)
                return
            del _shared[key]
        super().close()

    def __exit__(self, *exc: object) -> None:
        """A shared pool is not the ``with`` block's to close: leaving it releases this application's use."""
        if self._shared_key is None and not self._released:
            super().__exit__(*exc)  # type: ignore[arg-type]
        else:
            self.close()


def shared_users(key: str) -> int:
    """Applications still using the datastore of ``key`` (0 once it is closed): for tests and diagnostics."""
    with _lock:
        found = _shared.get(key)
    return found[1] if found else 0
