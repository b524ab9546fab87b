"""Projector: a durable pull consumer per projection feeding one Postgres transaction per batch.

Views and the tracking row commit together and messages are acked only after the commit, so a crash at
any point replays at most the uncommitted batch, which the tracking row then skips. On the bus a failing event
holds its projection back and is tried again after 1 s, 5 s, 30 s and 2 min; after its fifth delivery it goes
to the ``<ns>_dlq.<consumer>`` stream, the log (``MessageDeadLettered``) and ``projection_dead_letters``, and
the projection moves on (api-and-security §7.2, ADR 0398). Catch-ups from the log set a failing event aside at
once. On (re)start the consumer is recreated at the tracked stream position, so redeliveries never wait for
``ack_wait``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import psycopg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from psycopg import Cursor

from paulp.adapters.bus import (
    HDR_EVENT,
    HDR_MSG_ID,
    BusNames,
    EventRef,
    connect,
    ensure_dlq_stream,
    ensure_stream,
    release,
)
from paulp.adapters.eventstore.codec import decode, failure_text, make_mapper
from paulp.adapters.eventstore.recorder import application_env
from paulp.adapters.projector_connections import LockLost, ProjectorConnections
from paulp.adapters.pull import ConsumerGone, PullReader, stream_sequence
from paulp.domain.errors import EventFromNewerRelease
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


HDR_ERROR = "Paulp-Error"
HDR_ATTEMPTS = "Paulp-Attempts"
HDR_STREAM_SEQ = "Paulp-Stream-Seq"


@dataclass(frozen=True)
class RetryPolicy:
    """Deliveries of a failing message before it is dead-lettered, and the waits between them (§7.2)."""

    max_deliver: int = 5
    backoff_s: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0)

    def wait(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed delivery (the last wait repeats)."""
        return self.backoff_s[min(attempts, len(self.backoff_s)) - 1]


@dataclass(frozen=True)
class Held:
    """The first event of a batch that failed; nothing after it was applied. ``newer``: this release cannot read it
    (a newer release stored it): never retried towards a dead letter, the projection stops there (ADR 0523)."""

    index: int
    msg: Delivered
    error: str
    newer: EventFromNewerRelease | None = None


@dataclass
class BatchOutcome:
    applied: int = 0
    skipped: int = 0
    dead_lettered: int = 0
    held: Held | None = None


def read_tracking(conn: psycopg.Connection[Any], name: str) -> tuple[int, int]:
    row = conn.execute(
        "SELECT last_notification_id, last_stream_seq FROM projection_tracking WHERE name = %s", (name,)
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


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


class _StoppedAtNewer(Exception):
    """Raised by the bus projector's apply when it stops at an event of a newer release (ADR 0523)."""


class _Poison(Exception):
    """Raised inside the fast path so the batch is re-run event by event with savepoints."""


def apply_batch(conn: psycopg.Connection[Any], projection: Projection, batch: Sequence[Delivered],
                hold: bool = False) -> BatchOutcome:
    """One transaction: lock the tracking row, apply what is new, advance tracking.

    Fast path: the whole batch in pipeline mode without savepoints (one round trip for most statements).
    If any event fails, that transaction is rolled back and the batch re-run with a savepoint per event:
    with ``hold`` the events before the failing one commit and it is returned in ``held`` (the bus projector
    retries it), else it is dead-lettered at once and the rest still apply.
    """
    try:
        return _apply(conn, projection, batch, careful=False, hold=hold)
    except _Poison:
        return _apply(conn, projection, batch, careful=True, hold=hold)


def _lock_tracking(conn: psycopg.Connection[Any], name: str) -> tuple[int, int]:
    """The projection's tracked position (notification id, stream seq), its row locked for this transaction
    (created at zero on first use), so two writers never both move it."""
    conn.execute("INSERT INTO projection_tracking (name) VALUES (%s) ON CONFLICT (name) DO NOTHING", (name,))
    row = conn.execute(
        "SELECT last_notification_id, last_stream_seq FROM projection_tracking WHERE name = %s FOR UPDATE", (name,),
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _apply(conn: psycopg.Connection[Any], projection: Projection, batch: Sequence[Delivered],
           careful: bool, hold: bool) -> BatchOutcome:
    mapper = make_mapper()
    out = BatchOutcome()
    with conn.transaction():
        last_nid, last_seq = _lock_tracking(conn, projection.name)
        conn.execute("SET LOCAL search_path TO views, public")
        fresh: list[tuple[int, Delivered, int, int]] = []  # (index, message, tracked position before it)
        for index, msg in enumerate(batch):
            if msg.notification_id <= last_nid:  # in the view already (redelivered, or applied from the log)
                out.skipped += 1
                last_seq = max(last_seq, msg.stream_seq)  # else a log catch-up's ids read as a stream gap
                continue
            if msg.stream_seq >= 0 and last_seq and msg.stream_seq != last_seq + 1:
                raise StreamGap(f"{projection.name}: expected stream seq {last_seq + 1}, got {msg.stream_seq}")
            fresh.append((index, msg, last_nid, last_seq))
            last_nid = msg.notification_id
            last_seq = msg.stream_seq if msg.stream_seq >= 0 else last_seq
        with conn.cursor() as cur:
            if careful:
                for index, msg, nid_before, seq_before in fresh:
                    try:
                        with conn.transaction():
                            projection.apply(decode(mapper, msg.originator_id, msg.version, msg.topic, msg.data),
                                             cur, msg.notification_id)
                        out.applied += 1
                    except EventFromNewerRelease as e:  # stop before it, on every path: never skipped (ADR 0523)
                        newer = e.at(msg.notification_id)
                        out.held = Held(index, msg, failure_text(newer), newer)
                        last_nid, last_seq = nid_before, seq_before
                        break
                    except Exception as e:  # recorded or held for a retry, never skipped
                        log.exception("poison event %s in %s", msg.notification_id, projection.name)
                        if hold:
                            out.held = Held(index, msg, f"{type(e).__name__}: {e}")
                            last_nid, last_seq = nid_before, seq_before
                            break
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
                        for _, msg, _, _ in fresh:
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


def set_aside(conn: psycopg.Connection[Any], projection: Projection, msg: Delivered, error: str, attempts: int,
              consumer: str, dlq_seq: int) -> bool:
    """Record a dead letter and move the projection past it, in one transaction; False when it was past it."""
    with conn.transaction():
        last_nid, last_seq = _lock_tracking(conn, projection.name)
        if msg.notification_id <= last_nid:
            return False
        if last_seq and msg.stream_seq != last_seq + 1:
            raise StreamGap(f"{projection.name}: expected stream seq {last_seq + 1}, got {msg.stream_seq}")
        conn.execute(
            "INSERT INTO projection_dead_letters (projection, notification_id, topic, error, consumer, stream_seq,"
            " dlq_seq, attempts) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (projection, notification_id)"
            " DO UPDATE SET error = excluded.error, consumer = excluded.consumer, stream_seq = excluded.stream_seq,"
            " dlq_seq = excluded.dlq_seq, attempts = excluded.attempts, recorded_at = now()",
            (projection.name, msg.notification_id, msg.topic, error, consumer, msg.stream_seq, dlq_seq, attempts),
        )
        conn.execute(
            "UPDATE projection_tracking SET last_notification_id = %s, last_stream_seq = %s, updated_at = now()"
            " WHERE name = %s", (msg.notification_id, msg.stream_seq, projection.name),
        )
    return True


def record_dead_letter(database_url: str, names: BusNames, consumer: str, msg: Delivered, error: str,
                       attempts: int, dlq_seq: int) -> bool:
    """``MessageDeadLettered`` in the log, through an application opened for it (dead letters are rare, and
    a worker process keeps no context application open)."""
    from paulp.adapters.clock import SystemClock
    from paulp.domain.services.dead_letters import DeadLettersService

    service = DeadLettersService(application_env(database_url), SystemClock())
    try:
        return service.record(consumer, names.subject(msg.topic), msg.stream_seq, msg.notification_id, msg.topic,
                              error, attempts, dlq_seq)
    finally:
        service.close()


def catch_up_from_log(conn: psycopg.Connection[Any], projection: Projection, batch: int = 1000) -> int:
    """Apply new events straight from the log (no bus): used by tests and by one-shot rebuild tools.

    The same ``apply_batch`` path as the bus projector; ``stream_seq = -1`` leaves the stream position alone. An
    event of a newer release stops it there: what came before is committed, and ``EventFromNewerRelease`` raised.
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
        if out.held is not None and out.held.newer is not None:
            raise out.held.newer


class Projector:
    def __init__(
        self, database_url: str, nats_url: str, names: BusNames, projection: Projection, batch: int = 500,
        retry: RetryPolicy | None = None, connections: ProjectorConnections | None = None,
    ) -> None:
        """``connections`` are the process's shared ones (ADR 0507); without them the projector opens its own
        (a lock connection and a pool of one) for each run."""
        self.database_url, self.nats_url, self.names = database_url, nats_url, names
        self.connections = connections
        self.projection, self.batch = projection, batch
        self.retry = retry or RetryPolicy()
        self.totals = BatchOutcome()
        self.active = asyncio.Event()
        self.attempts: dict[int, int] = {}  # failed deliveries per notification id; a restart starts afresh
        self.stopped_at: int | None = None  # the event of a newer release it stopped at, said once (ADR 0523)
        self._js: Any = None

    async def run(self, stop: asyncio.Event) -> None:
        if self.connections is not None:
            await self._run(self.connections, stop)
            return
        async with ProjectorConnections(self.database_url, size=1) as own:
            await self._run(own, stop)

    async def _run(self, db: ProjectorConnections, stop: asyncio.Event) -> None:
        key = self.names.lock_key(f"projector/{self.projection.name}")
        while not stop.is_set():
            generation: int | None = None
            try:
                while not stop.is_set():
                    generation = await db.locks.try_acquire(key)
                    if generation is not None:
                        break
                    await _sleep(stop, 1.0)
                if stop.is_set() or generation is None:
                    return
                self.active.set()
                if not await self._consume(db, generation, stop):
                    return
            except LockLost as e:  # expected when the lock connection drops: the supervisor starts the run again
                log.info("%s; taking the lock again", e)
                return
            finally:
                if generation is not None:
                    await db.locks.release(key, generation)
            # Stopped at an event of a newer release: the lock stays free for a while, so a projector of the release
            # that reads it (a rolling deploy's new process, waiting as standby) takes over from here (ADR 0523).
            self.active.clear()
            await _sleep(stop, self.retry.backoff_s[-1])

    async def _consume(self, db: ProjectorConnections, generation: int, stop: asyncio.Event) -> bool:
        """Apply until ``stop`` (False) or an event of a newer release (True: the caller stands aside)."""
        # The bus client is closed however a later step fails (a refused database connection left the NATS
        # client running with nobody to close it; ADR 0504). Database connections are lent per call (ADR 0507).
        async with contextlib.AsyncExitStack() as opened:
            nc = await connect(self.nats_url, f"paulp-projector-{self.projection.name}")
            opened.push_async_callback(release, nc)
            js = self._js = nc.jetstream()
            while not stop.is_set():
                await ensure_stream(js, self.names)  # again at each recreate: NATS may have come back without it
                _, last_seq = await db.run(read_tracking, self.projection.name)
                reader = await self._subscribe(nc, js, last_seq + 1)
                try:
                    await self._fetch_loop(reader, db, generation, stop)
                except (StreamGap, ConsumerGone) as e:
                    log.warning("%s; recreating consumer", e)
                except _StoppedAtNewer:
                    return True
                finally:
                    await reader.close()
        return False

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

    async def _fetch_loop(self, reader: PullReader, db: ProjectorConnections, generation: int,
                          stop: asyncio.Event) -> None:
        """Fetch batch k+1 while batch k is applied; batch k is acked (AckPolicy.ALL) only after its commit.
        Nothing is applied once the lock's connection is found broken (``LockLost``: the run ends and the
        supervisor starts it again, which takes the lock anew or waits as standby)."""

        async def fetch() -> list[Any]:
            return await reader.fetch(self.batch, expires=0.5)

        ahead = asyncio.create_task(fetch())
        try:
            while not stop.is_set():
                msgs = await ahead
                if not await db.locks.alive(generation):
                    raise LockLost(f"{self.projection.name}: the connection holding its lock broke")
                ahead = asyncio.create_task(fetch())
                if not msgs:
                    continue
                if not await self._apply(db, [_delivered(m) for m in msgs], stop):
                    return  # stopped while waiting to retry: unacked, the restart resumes at the tracked position
                await msgs[-1].ack()
        finally:
            ahead.cancel()
            await asyncio.gather(ahead, return_exceptions=True)

    async def _apply(self, db: ProjectorConnections, batch: list[Delivered], stop: asyncio.Event) -> bool:
        """Apply the batch in order; a failing event is retried per the policy, then dead-lettered. The
        projection waits meanwhile: events applied past a missing one could make the view diverge."""
        pending = batch
        while pending:
            out = await db.run(apply_batch, self.projection, pending, True)
            self.totals.applied += out.applied
            self.totals.skipped += out.skipped
            held = out.held
            if held is None:
                self.stopped_at = None
                return True
            nid = held.msg.notification_id
            if held.newer is not None:
                self._say_stopped(held.newer, nid)
                raise _StoppedAtNewer
            attempts = self.attempts[nid] = self.attempts.get(nid, 0) + 1
            if attempts >= self.retry.max_deliver:
                await self._dead_letter(db, held, attempts)
                del self.attempts[nid]
                pending = pending[held.index + 1:]
                continue
            log.warning("%s: event %s failed (delivery %s of %s), retrying in %s s", self.projection.name, nid,
                        attempts, self.retry.max_deliver, self.retry.wait(attempts))
            await _sleep(stop, self.retry.wait(attempts))
            if stop.is_set():
                return False
            pending = pending[held.index:]
        return True

    def _say_stopped(self, newer: EventFromNewerRelease, nid: int) -> None:
        """One line when it stops at the event, none with a traceback; quiet (debug) at each later check."""
        again = self.stopped_at == nid
        self.stopped_at = nid
        log.log(logging.DEBUG if again else logging.ERROR,
                "projection %s %sstopped at event %s: %s; nothing after it is applied or dead-lettered until a"
                " release that reads it runs this projection (checked again every %s s, its lock left free)",
                self.projection.name, "still " if again else "", nid,
                failure_text(EventFromNewerRelease(newer.topic, newer.stored_version, newer.known_version)),
                self.retry.backoff_s[-1])

    async def _dead_letter(self, db: ProjectorConnections, held: Held, attempts: int) -> None:
        """DLQ stream, then the log, then the view's row with the tracking advance: a crash in between
        retries the event and repeats the first two steps as no-ops (message id, aggregate id)."""
        msg, consumer = held.msg, self.names.consumer(self.projection.name)
        await ensure_dlq_stream(self._js, self.names)
        headers = {
            HDR_MSG_ID: f"{consumer}/{msg.notification_id}",
            HDR_EVENT: EventRef(msg.notification_id, msg.version, msg.originator_id, msg.topic).header(),
            HDR_ERROR: " ".join(held.error.split())[:1000],  # a header value is one line
            HDR_ATTEMPTS: str(attempts),
            HDR_STREAM_SEQ: str(msg.stream_seq),
        }
        ack = await self._js.publish(self.names.dlq_subject(consumer), msg.data, stream=self.names.dlq_stream,
                                     headers=headers)
        await asyncio.to_thread(record_dead_letter, self.database_url, self.names, consumer, msg, held.error,
                                attempts, ack.seq)
        if await db.run(set_aside, self.projection, msg, held.error, attempts, consumer, ack.seq):
            self.totals.dead_lettered += 1
        log.error("%s: event %s dead-lettered after %s deliveries (DLQ %s seq %s): %s", self.projection.name,
                  msg.notification_id, attempts, self.names.dlq_stream, ack.seq, held.error)


def _delivered(msg: Any) -> Delivered:
    ref = EventRef.parse(msg.headers[HDR_EVENT])
    return Delivered(stream_sequence(msg), ref.notification_id, ref.originator_id, ref.originator_version,
                     ref.topic, msg.data)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
