"""PostgreSQL application recorder for the one global log, appending the audit chain in the same transaction.

A save is one statement, ``paulp_append_events(...)`` (migration 0040), in the shape of the library's own
``enable_db_functions`` path: the server takes the log's EXCLUSIVE lock, inserts the events, reads the
chain head and appends the chain rows, so event and chain rows commit together or not at all, and the
client waits for one round trip instead of three (ADR 0007).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import get_topic, retry
from psycopg import Connection
from psycopg.sql import SQL, Identifier

from paulp.adapters.eventstore.chain import CHAIN_TABLE, chain_input, format_ts
from paulp.adapters.eventstore.codec import ReleaseMapper
from paulp.adapters.eventstore.shared import SHARED_KEY, SharedDatastoreFactory

EVENTS_TABLE = "paulp_events"

APPEND = (
    "SELECT n FROM {schema}.paulp_append_events(%b, %b::text[], %b::text, %b::text[], %b::text[], %b::text[],"
    " %b::text[], %b::text[], %b::text) AS n"
)
APPEND_ON = (
    "SELECT n FROM paulp_append_events("
    "(SELECT array_agg(ROW(o, v, t, s)::stored_event_uuid ORDER BY k)"
    " FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::bytea[]) WITH ORDINALITY AS u(o, v, t, s, k)),"
    " %s::text[], %s::text, %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text) AS n"
)


class ChainedApplicationRecorder(PostgresApplicationRecorder):
    """Every context's application records into ``paulp_events``: one total order for chain, relay, replay."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = EVENTS_TABLE) -> None:
        super().__init__(datastore, events_table_name=EVENTS_TABLE)
        self._append = SQL(APPEND).format(schema=Identifier(self.datastore.schema))
        self._lock_timeout = f"{int(self.datastore.lock_timeout)}s"
        assert CHAIN_TABLE == "audit_chain"

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return []
        # Chain fields are built and checked before the round trip: a refused field never reaches the log.
        events = [
            self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state)
            for e in stored_events
        ]
        params = (events, *_chain_params(stored_events), self._lock_timeout)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._append, params, prepare=True)
            return [row["n"] for row in curs.fetchall()]


def _chain_params(stored_events: Sequence[StoredEvent]) -> tuple[Any, ...]:
    """The chain arrays of ``paulp_append_events``; fields are checked here, so a refused one is never sent."""
    inputs = [chain_input(e.originator_id, e.originator_version, e.topic, e.state) for e in stored_events]
    return (
        [i.id for i in inputs],
        format_ts(datetime.now(UTC)),
        [i.agent for i in inputs],
        [i.event_type for i in inputs],
        [i.payload for i in inputs],
        [i.payload_hash for i in inputs],
        [i.evidence_hash for i in inputs],
    )


def append_on(conn: Connection[Any], stored_events: Sequence[StoredEvent], lock_timeout_s: int = 10) -> list[int]:
    """Append events and their chain rows on the caller's connection, inside the caller's transaction, so rows
    the caller writes beside them commit with the events or not at all (the evidence index, ADR 0406).

    The same one statement as ``insert_events``; the composite array is built server-side, so the connection
    needs no registered type adapter."""
    if not stored_events:
        return []
    params = (
        [e.originator_id for e in stored_events], [e.originator_version for e in stored_events],
        [e.topic for e in stored_events], [e.state for e in stored_events],
        *_chain_params(stored_events), f"{int(lock_timeout_s)}s",
    )
    return [int(row[0]) for row in conn.execute(APPEND_ON, params).fetchall()]


def application_env(database_url: str, shared_datastore: str | None = None) -> dict[str, str]:
    """Environment for every context's eventsourcing Application: our recorder, tables owned by migrations.
    Applications given the same ``shared_datastore`` key share one pool (ADR 0352); without it each has its own."""
    parts = urlsplit(database_url)
    shared = {SHARED_KEY: shared_datastore, "POSTGRES_MAX_OVERFLOW": "20"} if shared_datastore else {}
    return {
        "PERSISTENCE_MODULE": get_topic(SharedDatastoreFactory),
        "APPLICATION_RECORDER_TOPIC": get_topic(ChainedApplicationRecorder),
        "MAPPER_TOPIC": get_topic(ReleaseMapper),  # a newer release's event is refused, never misread (ADR 0523)
        "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_POOL_SIZE": "0",  # connections on first use: an idle context application holds none
        "POSTGRES_MAX_OVERFLOW": "10",
        "POSTGRES_LOCK_TIMEOUT": "10",
        "CREATE_TABLE": "no",
        **shared,
    }
