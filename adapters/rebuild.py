"""Rebuild a live read model in place from the log (ADR 0010).

The projection is replayed into a scratch schema up to the position its projector had tracked (no lock
held). Then one transaction takes the projector's own lock (its tracking row, ``FOR UPDATE``, as every
projector batch does first), catches the scratch copy up to the position tracked at that moment, and
replaces the live rows with DELETE + INSERT. Readers keep seeing the old rows until the commit and the new
ones after it, never an empty table, and are never blocked. The tracking row keeps its position, which the
swapped-in rows now match exactly, so the running projector continues after it: nothing applied twice,
nothing lost. Any failure rolls the transaction back and leaves the live view as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from paulp.adapters.migrate import available
from paulp.adapters.replay import LIVE_SCHEMA, Failure, apply_range, replay
from paulp.projections.base import Projection

SCRATCH_PREFIX = "rebuild_"
LOCK_CLASS = 0x7262  # first key of the two-key advisory locks that keep one rebuild per projection


class RebuildError(RuntimeError):
    """Raised when a rebuild must not touch the live view: tables missing, events failing, another rebuild."""


@dataclass(frozen=True)
class TableDiff:
    table: str
    live: int
    rebuilt: int
    differ: int  # same primary key, other values
    only_live: int
    only_rebuilt: int

    @property
    def changed(self) -> bool:
        return bool(self.differ or self.only_live or self.only_rebuilt)


@dataclass(frozen=True)
class Prepared:
    """A scratch copy of the projection built from the log through ``position`` (tracked when it started)."""

    projection: str
    schema: str
    position: int
    events: int


@dataclass(frozen=True)
class Swapped:
    projection: str
    position: int
    caught_up: int  # events applied to the scratch copy under the lock (the projector moved meanwhile)
    rows: dict[str, int]
    dead_letters_cleared: int


def scratch_schema(projection: Projection) -> str:
    return f"{SCRATCH_PREFIX}{projection.name}"


def check_ready(conn: psycopg.Connection[Any], projection: Projection) -> None:
    """Refuse a database whose migrations are not all applied or that lacks one of the projection's tables."""
    if conn.execute("SELECT to_regclass('public.schema_migrations')").fetchone() == (None,):
        raise RebuildError("database not migrated (run `paulp migrate`)")
    done = {int(r[0]) for r in conn.execute("SELECT version FROM schema_migrations")}
    pending = [m.name for m in available() if m.version not in done]
    if pending:
        raise RebuildError(f"{len(pending)} migration(s) pending ({', '.join(pending)}); run `paulp migrate`")
    for table in projection.tables:
        if conn.execute("SELECT to_regclass(%s)", (f"{LIVE_SCHEMA}.{table}",)).fetchone() == (None,):
            raise RebuildError(f"live table {LIVE_SCHEMA}.{table} of {projection.name} does not exist"
                               " (run `paulp migrate`)")
    tables = [f"{LIVE_SCHEMA}.{t}" for t in projection.tables]
    outside = conn.execute(  # the DELETE would cascade into, or be refused by, rows the rebuild does not own
        "SELECT conname, conrelid::regclass::text FROM pg_constraint WHERE contype = 'f'"
        " AND confrelid = ANY(%s::regclass[]) AND NOT conrelid = ANY(%s::regclass[])", (tables, tables)).fetchall()
    if outside:
        raise RebuildError(f"{projection.name}: foreign keys from tables it does not own ("
                           + ", ".join(f"{c} on {t}" for c, t in outside) + ")")


@contextmanager
def exclusive(database_url: str, projection: Projection) -> Iterator[None]:
    """One rebuild of a projection at a time (they share the scratch schema); the lock dies with the session."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", (LOCK_CLASS, projection.name)).fetchone()
        if not row or not row[0]:
            raise RebuildError(f"another rebuild of {projection.name} is running")
        yield


def prepare(database_url: str, projection: Projection) -> Prepared:
    """Replay the log into the scratch schema through the position the projector has tracked now."""
    with psycopg.connect(database_url) as conn:
        check_ready(conn, projection)
        position = _tracked(conn, projection.name)
    result = replay(database_url, projection, scratch_schema(projection), until_seq=position)
    prepared = Prepared(projection.name, result.schema, position, result.applied + result.failed)
    if result.failures:
        drop(database_url, prepared)
        raise RebuildError(_failed(projection.name, list(result.failures)))
    return prepared


def preview(database_url: str, projection: Projection, prepared: Prepared) -> tuple[int, list[TableDiff]]:
    """What a swap would change now, without locking anything: one REPEATABLE READ snapshot sees the live
    rows and the tracking row the projector committed with them; the scratch copy is caught up to it."""
    with psycopg.connect(database_url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        position = _tracked(conn, projection.name)
        _catch_up(conn, projection, prepared, position)
        diffs = [diff_table(conn, prepared.schema, t) for t in projection.tables]
        conn.rollback()
    return position, diffs


def swap(database_url: str, projection: Projection, prepared: Prepared, lock_timeout_ms: int = 10_000) -> Swapped:
    """Under the projector's lock: catch up to the tracked position, replace the live rows, commit.

    ``lock_timeout`` bounds the wait for the projector's batch (and for anything holding the tables), so a
    stuck lock refuses the rebuild instead of queueing the projector behind it indefinitely."""
    try:
        return _swap(database_url, projection, prepared, lock_timeout_ms)
    except psycopg.errors.LockNotAvailable as e:
        raise RebuildError(f"{projection.name}: lock not granted within {lock_timeout_ms} ms ({e});"
                           " the live view is unchanged, retry") from None


def _swap(database_url: str, projection: Projection, prepared: Prepared, lock_timeout_ms: int) -> Swapped:
    with psycopg.connect(database_url) as conn:
        conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{lock_timeout_ms}ms",))
        conn.execute("INSERT INTO public.projection_tracking (name) VALUES (%s) ON CONFLICT (name) DO NOTHING",
                     (projection.name,))
        row = conn.execute("SELECT last_notification_id FROM public.projection_tracking WHERE name = %s"
                           " FOR UPDATE", (projection.name,)).fetchone()
        assert row is not None
        position = int(row[0])
        caught_up = _catch_up(conn, projection, prepared, position)
        rows = {}
        for table in reversed(projection.tables):
            conn.execute(sql.SQL("DELETE FROM {}.{}").format(sql.Identifier(LIVE_SCHEMA), sql.Identifier(table)))
        for table in projection.tables:
            rows[table] = _copy(conn, prepared.schema, table)
        conn.execute("UPDATE public.projection_tracking SET last_notification_id = %s, updated_at = now()"
                     " WHERE name = %s", (position, projection.name))
        cleared = conn.execute("DELETE FROM public.projection_dead_letters WHERE projection = %s"
                               " AND notification_id <= %s", (projection.name, position)).rowcount
        conn.commit()
    return Swapped(projection.name, position, caught_up, rows, cleared)


def drop(database_url: str, prepared: Prepared) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(prepared.schema)))


def diff_table(conn: psycopg.Connection[Any], schema: str, table: str) -> TableDiff:
    """Row counts of both sides, and rows on one side only (EXCEPT ALL both ways, as ``paulp replay --diff``);
    a live-only and a rebuilt-only row with the same primary key count once, as a row that differs."""
    cols = sql.SQL(", ").join(sql.Identifier(c) for c, _ in live_columns(conn, table))
    live = sql.SQL("SELECT {} FROM {}.{}").format(cols, sql.Identifier(LIVE_SCHEMA), sql.Identifier(table))
    rebuilt = sql.SQL("SELECT {} FROM {}.{}").format(cols, sql.Identifier(schema), sql.Identifier(table))
    key = _primary_key(conn, table)
    differ: sql.Composable = sql.SQL("0")
    if key:
        k = sql.SQL(", ").join(sql.Identifier(c) for c in key)
        differ = sql.SQL("(SELECT count(*) FROM (SELECT {k} FROM l INTERSECT SELECT {k} FROM r) s)").format(k=k)
    q = sql.SQL("WITH l AS ({live} EXCEPT ALL {rebuilt}), r AS ({rebuilt} EXCEPT ALL {live})"
                " SELECT ({live_n}), ({rebuilt_n}), {differ}, (SELECT count(*) FROM l), (SELECT count(*) FROM r)"
                ).format(live=live, rebuilt=rebuilt, differ=differ,
                         live_n=sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(LIVE_SCHEMA),
                                                                              sql.Identifier(table)),
                         rebuilt_n=sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema),
                                                                                 sql.Identifier(table)))
    row = conn.execute(q).fetchone()
    assert row is not None
    n_live, n_rebuilt, n_differ, n_l, n_r = (int(x) for x in row)
    return TableDiff(table, n_live, n_rebuilt, n_differ, n_l - n_differ, n_r - n_differ)


def _catch_up(conn: psycopg.Connection[Any], projection: Projection, prepared: Prepared, position: int) -> int:
    if position < prepared.position:
        raise RebuildError(f"{projection.name}: tracking went back from {prepared.position} to {position}")
    applied, failures = apply_range(conn, projection, prepared.schema, prepared.position, position)
    if failures:
        raise RebuildError(_failed(projection.name, failures))
    return applied


def _copy(conn: psycopg.Connection[Any], schema: str, table: str) -> int:
    """Insert the scratch rows into the live table (generated columns recomputed, identities kept) and move
    any sequence behind a copied column past the copied values."""
    columns = live_columns(conn, table)
    cols = sql.SQL(", ").join(sql.Identifier(c) for c, generated in columns if not generated)
    live = sql.SQL("{}.{}").format(sql.Identifier(LIVE_SCHEMA), sql.Identifier(table))
    n = conn.execute(sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM {}.{}").format(
        live, cols, cols, sql.Identifier(schema), sql.Identifier(table))).rowcount
    for column, generated in columns:
        if generated:
            continue
        seq = conn.execute("SELECT pg_get_serial_sequence(%s, %s)", (f"{LIVE_SCHEMA}.{table}", column)).fetchone()
        if seq and seq[0]:
            conn.execute(sql.SQL("SELECT setval(%(s)s::regclass, m) FROM (SELECT max({}) AS m FROM {}) x"
                                 " WHERE m > coalesce(pg_sequence_last_value(%(s)s::regclass), 0)").format(
                sql.Identifier(column), live), {"s": seq[0]})
    return n


def live_columns(conn: psycopg.Connection[Any], table: str) -> list[tuple[str, bool]]:
    """The live table's columns in order, each with whether it is generated."""
    return [(str(name), bool(generated)) for name, generated in conn.execute(
        "SELECT attname, attgenerated <> '' FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
        " AND NOT attisdropped ORDER BY attnum", (f"{LIVE_SCHEMA}.{table}",))]


def _primary_key(conn: psycopg.Connection[Any], table: str) -> list[str]:
    return [str(r[0]) for r in conn.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
        " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary"
        " ORDER BY array_position(i.indkey::int2[], a.attnum)", (f"{LIVE_SCHEMA}.{table}",))]


def _tracked(conn: psycopg.Connection[Any], name: str) -> int:
    row = conn.execute("SELECT last_notification_id FROM public.projection_tracking WHERE name = %s",
                       (name,)).fetchone()
    return int(row[0]) if row else 0


def _failed(name: str, failures: list[Failure]) -> str:
    first = "; ".join(f"{f.notification_id} {f.topic}: {f.error}" for f in failures[:3])
    return (f"{name}: {len(failures)} event(s) failed to apply, the live view is left as it is"
            f" (first: {first})")
