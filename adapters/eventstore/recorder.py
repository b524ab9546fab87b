"""PostgreSQL application recorder for the one global log, appending the audit chain in the same transaction.

Shape taken from eventsourcing's ``ftscontentmanagement`` example: extra rows written with the insert's own
connection, under the insert's EXCLUSIVE table lock, so event and chain row commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from paulp.adapters.eventstore.chain import CHAIN_TABLE, build_row, format_ts, record_from_row

EVENTS_TABLE = "paulp_events"

SELECT_HEAD = "SELECT * FROM {schema}.audit_chain ORDER BY chain_seq DESC LIMIT 1"
INSERT_CHAIN = (
    "INSERT INTO {schema}.audit_chain (chain_seq, notification_id, event_id, timestamp, agent, event_type,"
    " payload, payload_hash, evidence_hash, prev_hash, hash) SELECT * FROM unnest(%s::bigint[], %s::bigint[],"
    " %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])"
)


class ChainedApplicationRecorder(PostgresApplicationRecorder):
    """Every context's application records into ``paulp_events``: one total order for chain, relay, replay."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = EVENTS_TABLE) -> None:
        super().__init__(datastore, events_table_name=EVENTS_TABLE)
        schema = Identifier(self.datastore.schema)
        self._select_head = SQL(SELECT_HEAD).format(schema=schema)  # type: ignore[arg-type]
        self._insert_chain = SQL(INSERT_CHAIN).format(schema=schema)  # type: ignore[arg-type]
        assert CHAIN_TABLE == "audit_chain"

    def _insert_stored_events(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super()._insert_stored_events(curs, stored_events, **kwargs)
        # Queued in the same pipeline after the lock, so the head cannot move before our chain rows land.
        head_cursor = curs.connection.cursor()
        head_cursor.execute(self._select_head, prepare=True)
        kwargs_store = kwargs.setdefault("_paulp", {})
        kwargs_store["head_cursor"] = head_cursor

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        head_cursor = kwargs["_paulp"]["head_cursor"]
        row = head_cursor.fetchone()
        head = record_from_row(row) if row else None
        head_cursor.close()
        stamp = format_ts(datetime.now(UTC))
        rows = []
        for nid, ev in zip(ids or (), stored_events, strict=True):
            chained = build_row(head, nid, ev.originator_id, ev.originator_version, ev.topic, ev.state, stamp)
            rows.append(chained.as_tuple())
            head = chained.record
        if not rows:
            return ids
        with curs.connection.cursor() as chain_cursor:  # one statement for the whole save
            chain_cursor.execute(self._insert_chain, [list(column) for column in zip(*rows, strict=True)])
        return ids

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        kwargs["_paulp"] = {}
        return super().insert_events(stored_events, **kwargs)
