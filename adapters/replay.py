"""Replay for postmortems (design decision 7): rebuild a view from the log itself into a scratch schema."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import psycopg
from psycopg import Cursor, sql

from paulp.adapters.eventstore.codec import decode, failure_text, make_mapper
from paulp.adapters.projector import BatchingCursor
from paulp.domain.clock import iso_utc
from paulp.domain.errors import EventFromNewerRelease
from paulp.projections.base import Projection

LIVE_SCHEMA = "views"
MARKER = "paulp replay scratch schema"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}\Z")


class ReplayError(RuntimeError):
    """Raised when a replay target is unsafe (a live schema, or a schema replay did not create)."""


@dataclass(frozen=True)
class Failure:
    notification_id: int
    topic: str
    error: str
    newer_release: bool = False  # stored by a release newer than this one (ADR 0523)


@dataclass(frozen=True)
class ReplayResult:
    schema: str
    until_notification_id: int
    applied: int
    failed: int
    failures: tuple[Failure, ...] = ()


def _schema_ok(conn: psycopg.Connection[Any], schema: str) -> None:
    if not _IDENT.match(schema) or schema in (LIVE_SCHEMA, "public", "pg_catalog", "information_schema"):
        raise ReplayError(f"refusing to replay into schema {schema!r}")
    row = conn.execute(
        "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s", (schema,)
    ).fetchone()
    if row is not None and row[0] != MARKER:
        raise ReplayError(f"schema {schema!r} exists and was not created by replay")


def resolve_until(conn: psycopg.Connection[Any], until_seq: int | None, until_time: datetime | None) -> int:
    if until_seq is not None and until_time is not None:
        raise ReplayError("give --until-seq or --until-time, not both")
    if until_seq is not None:
        return until_seq
    if until_time is not None:
        stamp = iso_utc(until_time)
        row = conn.execute("SELECT max(notification_id) FROM audit_chain WHERE timestamp <= %s", (stamp,)).fetchone()
        return int(row[0] or 0) if row else 0
    row = conn.execute("SELECT max(notification_id) FROM paulp_events").fetchone()
    return int(row[0] or 0) if row else 0


def replay(database_url: str, projection: Projection, schema: str, until_seq: int | None = None,
           until_time: datetime | None = None) -> ReplayResult:
    with psycopg.connect(database_url) as conn:
        _schema_ok(conn, schema)
        until = resolve_until(conn, until_seq, until_time)
        ident = sql.Identifier(schema)
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(ident))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(ident))
        conn.execute(sql.SQL("COMMENT ON SCHEMA {} IS {}").format(ident, sql.Literal(MARKER)))
        for table in projection.tables:
            conn.execute(sql.SQL("CREATE TABLE {}.{} (LIKE {}.{} INCLUDING ALL)").format(
                ident, sql.Identifier(table), sql.Identifier(LIVE_SCHEMA), sql.Identifier(table)))
        applied, failures = apply_range(conn, projection, schema, 0, until)
        conn.commit()
    return ReplayResult(schema, until, applied, len(failures), tuple(failures))


def apply_range(conn: psycopg.Connection[Any], projection: Projection, schema: str, after: int,
                until: int, batch: int = 500) -> tuple[int, list[Failure]]:
    """Apply the log's events ``after < id <= until`` to the projection's tables in ``schema``, in the caller's
    transaction. Batches take the projector's fast path (pipeline mode, one savepoint per batch); a batch
    that fails is re-run with a savepoint per event, so a failing event is named, never half-applied."""
    mapper = make_mapper()
    conn.execute(sql.SQL("SET LOCAL search_path TO {}, public").format(sql.Identifier(schema)))
    applied, failures = 0, []
    with conn.cursor(name="replay_events") as src, conn.cursor() as cur:
        src.itersize = 2000
        src.execute(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM paulp_events"
            " WHERE notification_id > %s AND notification_id <= %s ORDER BY notification_id", (after, until))
        while rows := src.fetchmany(batch):
            if _fast(conn, projection, mapper, cur, rows):
                applied += len(rows)
                continue
            for nid, oid, version, topic, state in rows:  # event by event, to name the failing ones
                try:
                    with conn.transaction():
                        projection.apply(decode(mapper, oid, version, topic, bytes(state)), cur, nid)
                    applied += 1
                except Exception as e:  # the live projector dead-letters the same events
                    failures.append(Failure(nid, topic, failure_text(e), isinstance(e, EventFromNewerRelease)))
    return applied, failures


def _fast(conn: psycopg.Connection[Any], projection: Projection, mapper: Any, cur: Cursor[Any],
          rows: list[Any]) -> bool:
    """Apply a batch in one savepoint in pipeline mode; False (and nothing applied) if any event failed."""
    try:
        with conn.transaction(), conn.pipeline():
            batching = BatchingCursor(cur)
            for nid, oid, version, topic, state in rows:
                projection.apply(decode(mapper, oid, version, topic, bytes(state)), cast(Cursor[Any], batching),
                                 nid)  # execute/fetch only
            batching.flush()
    except Exception:  # the caller re-runs the batch event by event and records what fails
        return False
    return True


def diff(database_url: str, projection: Projection, schema: str) -> list[str]:
    """Rows present on one side only, per table (empty list = identical)."""
    out: list[str] = []
    with psycopg.connect(database_url) as conn:
        for table in projection.tables:
            t = sql.Identifier(table)
            for label, a, b in (("live only", LIVE_SCHEMA, schema), ("replay only", schema, LIVE_SCHEMA)):
                q = sql.SQL("SELECT * FROM {}.{} EXCEPT ALL SELECT * FROM {}.{}").format(
                    sql.Identifier(a), t, sql.Identifier(b), t)
                for row in conn.execute(q):
                    out.append(f"{table}: {label}: {row}")
    return out


def live_position(database_url: str, projection: Projection) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT last_notification_id FROM projection_tracking WHERE name = %s", (projection.name,)
        ).fetchone()
    return int(row[0]) if row else 0
