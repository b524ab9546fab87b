"""Relay: the event table is the outbox. Tail ``paulp_events`` in order and publish to JetStream.

The stream's last message is the checkpoint (no relay table): after a kill -9 the relay reads it and
continues, ``Nats-Msg-Id`` de-duplicates a message published twice and ``Nats-Expected-Last-Msg-Id``
refuses one published out of order. One active relay per namespace (advisory lock); others wait.

The same checkpoint carries it through a NATS restart: acks lost with the dropped connection, or a stream gone
with a store NATS lost, send it back to the stream head. A head behind what it had published, or behind what a
projector applied, is a stream that lost messages: the relay says so as an error and publishes them again from
the log, which rebuilds the stream sequence for sequence (ADR 0511).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import psycopg
from nats.js.client import JetStreamContext
from nats.js.errors import APIError, NoStreamResponseError

from paulp.adapters.bus import (
    HDR_EVENT,
    HDR_EXPECTED_LAST,
    HDR_MSG_ID,
    BusNames,
    EventRef,
    connect,
    ensure_stream,
    release,
)

log = logging.getLogger("paulp.relay")

# JetStream acks a publish within milliseconds; an ack not back by then went with a connection NATS dropped (killed
# or restarted) and never comes: awaited without a bound, the relay waited for it for good (ADR 0511).
ACK_WAIT_S = 5.0
APPLIED_SEQ = "SELECT coalesce(max(last_stream_seq), 0) FROM projection_tracking"

SELECT_BATCH = (
    "SELECT notification_id, originator_id, originator_version, topic, state FROM paulp_events"
    " WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
)


@dataclass
class RelayStats:
    published: int = 0
    duplicates: int = 0
    last_notification_id: int = 0
    restarts_from_stream: int = 0
    stream_losses: int = 0  # times the stream was found behind what was published or applied (ADR 0511)
    errors: list[str] = field(default_factory=list)


async def stream_head(js: JetStreamContext, names: BusNames) -> int:
    """Notification id of the stream's last message (0 for an empty stream)."""
    return (await stream_position(js, names))[1]


async def stream_position(js: JetStreamContext, names: BusNames) -> tuple[int, int]:
    """(stream sequence, notification id) of the stream's last message; (0, 0) for an empty stream."""
    info = await js.stream_info(names.stream)
    if info.state.last_seq == 0:
        return 0, 0
    msg = await js.get_msg(names.stream, seq=info.state.last_seq)
    headers = msg.headers or {}
    return info.state.last_seq, EventRef.parse(headers[HDR_EVENT]).notification_id


class Relay:
    def __init__(self, database_url: str, nats_url: str, names: BusNames, batch: int = 500, poll_s: float = 0.5):
        self.database_url, self.nats_url, self.names = database_url, nats_url, names
        self.batch, self.poll_s = batch, poll_s
        self.stats = RelayStats()
        self.active = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        lock_conn = await psycopg.AsyncConnection.connect(self.database_url, autocommit=True)
        try:
            await self._acquire_leadership(lock_conn, stop)
            if stop.is_set():
                return
            self.active.set()
            await self._publish_loop(stop)
        finally:
            await lock_conn.close()

    async def _acquire_leadership(self, conn: psycopg.AsyncConnection, stop: asyncio.Event) -> None:
        key = self.names.lock_key("relay")
        waiting = False
        while not stop.is_set():
            cur = await conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,))
            row = await cur.fetchone()
            if row and row[0]:
                log.info("relay active for %s", self.names.stream)
                return
            if not waiting:  # said once: a standby is otherwise silent, indistinguishable from a hung one
                log.info("relay standby for %s: another relay holds %s; taking over when it stops",
                         self.names.stream, key)
                waiting = True
            await _wait(stop, 1.0)

    async def _publish_loop(self, stop: asyncio.Event) -> None:
        # Each connection is closed however a later step fails (a refused database connection left the NATS
        # client running with nobody to close it; ADR 0504), in reverse order: db, listen, then the bus.
        async with contextlib.AsyncExitStack() as opened:
            nc = await connect(self.nats_url, "paulp-relay")
            opened.push_async_callback(release, nc)
            listen = await psycopg.AsyncConnection.connect(self.database_url, autocommit=True)
            opened.push_async_callback(listen.close)
            db = await psycopg.AsyncConnection.connect(self.database_url, autocommit=True)
            opened.push_async_callback(db.close)
            js = nc.jetstream()
            await listen.execute("LISTEN paulp_events")
            last = await self._resume_point(js, db, 0)
            self.stats.last_notification_id = last
            queued = last  # published (acks may be pending) up to here
            pending: list[tuple[int, list[asyncio.Future[Any]]]] = []
            while not stop.is_set():
                rows = await (await db.execute(SELECT_BATCH, (queued, self.batch))).fetchall()
                try:
                    if rows:
                        # Publish this batch before awaiting the previous one's acks: one connection keeps
                        # the order, and Expected-Last-Msg-Id refuses anything out of place.
                        queued, futures = await self._publish(js, rows, queued)
                        pending.append((queued, futures))
                    while pending and (len(pending) > 1 or not rows):
                        upto, futures = pending.pop(0)
                        self._count(await asyncio.wait_for(asyncio.gather(*futures), ACK_WAIT_S))
                        last = self.stats.last_notification_id = upto
                except (APIError, NoStreamResponseError, TimeoutError) as e:
                    # Out of order, partly published, acks lost with a dropped connection, or no stream (NATS
                    # came back without its store): the stream knows how far we got.
                    error = f"{type(e).__name__}: {e}"
                    log.warning("relay publish failed (%s); resuming from the stream head", error)
                    self.stats.errors.append(error)
                    self.stats.restarts_from_stream += 1
                    for _, futures in pending:
                        for f in futures:
                            f.cancel()
                    pending.clear()
                    await _wait(stop, 0.2)
                    last = queued = self.stats.last_notification_id = await self._resume_point(js, db, last)
                    continue
                if not rows:
                    await _wait_notify(listen, stop, self.poll_s)

    async def _resume_point(self, js: JetStreamContext, db: psycopg.AsyncConnection[Any], acked: int) -> int:
        """The stream head to publish after, the stream created if NATS lost it. A head behind ``acked`` (what
        this relay saw acknowledged) or a stream shorter than a projector's applied sequence means the stream
        lost messages: logged as an error, and the relay publishes them again from the log (ADR 0511)."""
        await ensure_stream(js, self.names)
        seq, head = await stream_position(js, self.names)
        row = await (await db.execute(APPLIED_SEQ)).fetchone()
        applied = int(row[0]) if row else 0
        if head < acked or seq < applied:
            self.stats.stream_losses += 1
            log.error("stream %s lost messages: it ends at sequence %s (notification id %s), but the relay had "
                      "published up to notification id %s and projectors applied up to sequence %s (NATS restarted "
                      "without its store, or from an older one); republishing the log after notification id %s. "
                      "Projectors resume once the stream is back at their position", self.names.stream, seq, head,
                      acked, applied, head)
        return head

    async def _publish(self, js: JetStreamContext, rows: list[Any], last: int) -> tuple[int, list[Any]]:
        futures = []
        prev = last
        for nid, oid, version, topic, state in rows:
            headers = {
                HDR_MSG_ID: self.names.msg_id(nid),
                HDR_EVENT: EventRef(nid, version, str(oid), topic).header(),
            }
            if prev:
                headers[HDR_EXPECTED_LAST] = self.names.msg_id(prev)
            futures.append(await js.publish_async(self.names.subject(topic), bytes(state), headers=headers))
            prev = nid
        return prev, futures

    def _count(self, acks: list[Any]) -> None:
        for ack in acks:
            if ack.duplicate:
                self.stats.duplicates += 1
            else:
                self.stats.published += 1

async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


async def _wait_notify(conn: psycopg.AsyncConnection, stop: asyncio.Event, seconds: float) -> None:
    """Wake on NOTIFY from an insert, or after ``seconds`` (a lost NOTIFY only costs one poll interval)."""
    gen = conn.notifies(timeout=seconds, stop_after=1)
    async for _ in gen:
        break
