"""Projector: a durable pull consumer per projection feeding one Postgres transaction per batch.

Views and the tracking row commit together and messages are acked only after the commit, so a crash at
any point replays at most the uncommitted batch, which the tracking row then skips. A poison event goes to
``projection_dead_letters`` (inside a savepoint) and the projection moves on. On (re)start the consumer is
recreated at the tracked stream position, so redeliveries never wait for ``ack_wait``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import psycopg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from psycopg import Cursor

from paulp.adapters.bus import HDR_EVENT, BusNames, EventRef, connect, ensure_stream
from paulp.adapters.eventstore.codec import decode, make_mapper
from paulp.adapters.pull import ConsumerGone, PullReader, stream_sequence
from paulp.projections.base import Projection

log = logging.getLogger("paulp.projector")


class StreamGap(RuntimeError):
    """Raised when a delivered message is not the next stream sequence after the tracked one."""


@dataclass(frozen=True)
class Delivered:
    stream_seq: int
    notification_id: int
    originator_id: str
    version: int
    topic: str
    data: bytes


@dataclass
class BatchOutcome:
    applied: int = 0
    skipped: int = 0
    dead_lettered: int = 0


def read_tracking(conn: psycopg.Connection[Any], name: str) -> tuple[int, int]:
    row = conn.execute(
        "SELECT last_notification_id, last_stream_seq FROM projection_tracking WHERE name = %s", (name,)
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _connect(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=True)


class BatchingCursor:
    """Groups consecutive executions of the same statement into one ``executemany`` (fast path only).

    Order is kept: a different statement, a fetch, or the end of the batch flushes what is pending, and
    a fetch runs the statement it reads from on its own so the result is that statement's.
    """

    def __init__(self, cur: Any) -> None:
        self._cur, self._sql, self._params = cur, None, []  # type: ignore[var-annotated]

    def execute(self, sql: Any, params: Any = None) -> BatchingCursor:
        if params is None or (self._sql is not None and sql != self._sql):
            self.flush()
        if params is None:
            self._cur.execute(sql)
            return self
        self._sql = sql
        self._params.append(params)
        return self

    def flush(self, keep_last: bool = False) -> None:
        if self._sql is None:
            return
        sql, params = self._sql, self._params
        self._sql, self._params = None, []
        if keep_last:
            sql_last, last = sql, params.pop()
        if params:
            self._cur.executemany(sql, params)
        if keep_last:
            self._cur.execute(sql_last, last)

    def fetchone(self) -> Any:
        self.flush(keep_last=True)
        return self._cur.fetchone()

    def fetchall(self) -> Any:
        self.flush(keep_last=True)
        return self._cur.fetchall()


class _Poison(Exception):
    """Raised inside the fast path so the batch is re-run event by event with savepoints."""


def apply_batch(conn: psycopg.Connection[Any], projection: Projection, batch: Sequence[Delivered]) -> BatchOutcome:
    """One transaction: lock the tracking row, apply what is new, advance tracking.

    Fast path: the whole batch in pipeline mode without savepoints (one round trip for most statements).
    If any event fails, that transaction is rolled back and the batch re-run with a savepoint per event,
    so the poison event is dead-lettered and the rest still apply.
    """
    try:
        return _apply(conn, projection, batch, careful=False)
    except _Poison:
        return _apply(conn, projection, batch, careful=True)


def _apply(conn: psycopg.Connection[Any], projection: Projection, batch: Sequence[Delivered],
           careful: bool) -> BatchOutcome:
    mapper = make_mapper()
    out = BatchOutcome()
    with conn.transaction():
        conn.execute(
            "INSERT INTO projection_tracking (name) VALUES (%s) ON CONFLICT (name) DO NOTHING", (projection.name,)
        )
        row = conn.execute(
            "SELECT last_notification_id, last_stream_seq FROM projection_tracking WHERE name = %s FOR UPDATE",
            (projection.name,),
        ).fetchone()
        assert row is not None
        last_nid, last_seq = int(row[0]), int(row[1])
        conn.execute("SET LOCAL search_path TO views, public")
        fresh = []
        for msg in batch:
            if msg.notification_id <= last_nid:  # in the view already (redelivered, or applied from the log)
                out.skipped += 1
                last_seq = max(last_seq, msg.stream_seq)  # else a log catch-up's ids read as a stream gap
                continue
            if msg.stream_seq >= 0 and last_seq and msg.stream_seq != last_seq + 1:
                raise StreamGap(f"{projection.name}: expected stream seq {last_seq + 1}, got {msg.stream_seq}")
            fresh.append(msg)
            last_nid = msg.notification_id
            last_seq = msg.stream_seq if msg.stream_seq >= 0 else last_seq
        with conn.cursor() as cur:
            if careful:
                for msg in fresh:
                    try:
                        with conn.transaction():
                            projection.apply(decode(mapper, msg.originator_id, msg.version, msg.topic, msg.data),
                                             cur, msg.notification_id)
                        out.applied += 1
                    except Exception as e:  # a poison event must not stop the view; recorded, never skipped
                        log.exception("poison event %s in %s", msg.notification_id, projection.name)
                        cur.execute(
                            "INSERT INTO public.projection_dead_letters (projection, notification_id, topic, error)"
                            " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                            (projection.name, msg.notification_id, msg.topic, f"{type(e).__name__}: {e}"),
                        )
                        out.dead_lettered += 1
            else:
                try:
                    with conn.pipeline():
                        batching = BatchingCursor(cur)
                        for msg in fresh:
                            projection.apply(decode(mapper, msg.originator_id, msg.version, msg.topic, msg.data),
                                             cast(Cursor[Any], batching), msg.notification_id)  # execute/fetch only
                            out.applied += 1
                        batching.flush()
                except Exception as e:
                    raise _Poison from e
        conn.execute(
            "UPDATE public.projection_tracking SET last_notification_id = %s, last_stream_seq = %s,"
            " updated_at = now() WHERE name = %s",
            (last_nid, last_seq, projection.name),
        )
    return out


def catch_up_from_log(conn: psycopg.Connection[Any], projection: Projection, batch: int = 1000) -> int:
    """Apply new events straight from the log (no bus): used by tests and by one-shot rebuild tools.

    The same ``apply_batch`` path as the bus projector; ``stream_seq = -1`` leaves the stream position alone.
    """
    applied = 0
    while True:
        last_nid, _ = read_tracking(conn, projection.name)
        rows = conn.execute(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM paulp_events"
            " WHERE notification_id > %s ORDER BY notification_id LIMIT %s", (last_nid, batch)).fetchall()
        if not rows:
            return applied
        out = apply_batch(conn, projection, [Delivered(-1, n, str(o), v, t, bytes(s)) for n, o, v, t, s in rows])
        applied += out.applied


class Projector:
    def __init__(
        self, database_url: str, nats_url: str, names: BusNames, projection: Projection, batch: int = 500
    ) -> None:
        self.database_url, self.nats_url, self.names = database_url, nats_url, names
        self.projection, self.batch = projection, batch
        self.totals = BatchOutcome()
        self.active = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        lock = await psycopg.AsyncConnection.connect(self.database_url, autocommit=True)
        try:
            key = self.names.lock_key(f"projector/{self.projection.name}")
            while not stop.is_set():
                row = await (await lock.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,))).fetchone()
                if row and row[0]:
                    break
                await _sleep(stop, 1.0)
            if stop.is_set():
                return
            self.active.set()
            await self._consume(stop)
        finally:
            await lock.close()

    async def _consume(self, stop: asyncio.Event) -> None:
        nc = await connect(self.nats_url, f"paulp-projector-{self.projection.name}")
        conn: psycopg.Connection[Any] = await asyncio.to_thread(_connect, self.database_url)
        try:
            js = nc.jetstream()
            await ensure_stream(js, self.names)
            while not stop.is_set():
                _, last_seq = await asyncio.to_thread(read_tracking, conn, self.projection.name)
                reader = await self._subscribe(nc, js, last_seq + 1)
                try:
                    await self._fetch_loop(reader, conn, stop)
                except (StreamGap, ConsumerGone) as e:
                    log.warning("%s; recreating consumer", e)
                finally:
                    await reader.close()
        finally:
            await asyncio.to_thread(conn.close)
            await nc.drain()

    async def _subscribe(self, nc: Any, js: Any, start_seq: int) -> PullReader:
        durable = self.names.consumer(self.projection.name)
        try:
            await js.delete_consumer(self.names.stream, durable)
        except NotFoundError:
            pass
        config = ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.ALL,  # acking a batch's last message acks the whole batch
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=start_seq,
            ack_wait=60,
            max_ack_pending=self.batch * 2,  # one batch applying, the next one already fetched
            max_deliver=-1,
        )
        await js.add_consumer(self.names.stream, config=config)
        return await PullReader(nc, self.names.stream, durable).start()

    async def _fetch_loop(self, reader: PullReader, conn: psycopg.Connection[Any], stop: asyncio.Event) -> None:
        """Fetch batch k+1 while batch k is applied; batch k is acked (AckPolicy.ALL) only after its commit."""

        async def fetch() -> list[Any]:
            return await reader.fetch(self.batch, expires=0.5)

        ahead = asyncio.create_task(fetch())
        try:
            while not stop.is_set():
                msgs = await ahead
                ahead = asyncio.create_task(fetch())
                if not msgs:
                    continue
                batch = [_delivered(m) for m in msgs]
                out = await asyncio.to_thread(apply_batch, conn, self.projection, batch)
                await msgs[-1].ack()
                self.totals.applied += out.applied
                self.totals.skipped += out.skipped
                self.totals.dead_lettered += out.dead_lettered
        finally:
            ahead.cancel()
            await asyncio.gather(ahead, return_exceptions=True)


def _delivered(msg: Any) -> Delivered:
    ref = EventRef.parse(msg.headers[HDR_EVENT])
    return Delivered(stream_sequence(msg), ref.notification_id, ref.originator_id, ref.originator_version,
                     ref.topic, msg.data)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
