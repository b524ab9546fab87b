"""Relay: the event table is the outbox. Tail ``paulp_events`` in order and publish to JetStream.

The stream's last message is the checkpoint (no relay table): after a kill -9 the relay reads it and
continues, ``Nats-Msg-Id`` de-duplicates a message published twice and ``Nats-Expected-Last-Msg-Id``
refuses one published out of order. One active relay per namespace (advisory lock); others wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import psycopg
from nats.js.client import JetStreamContext
from nats.js.errors import APIError

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
    errors: list[str] = field(default_factory=list)


async def stream_head(js: JetStreamContext, names: BusNames) -> int:
    """Notification id of the stream's last message (0 for an empty stream)."""
    info = await js.stream_info(names.stream)
    if info.state.last_seq == 0:
        return 0
    msg = await js.get_msg(names.stream, seq=info.state.last_seq)
    headers = msg.headers or {}
    return EventRef.parse(headers[HDR_EVENT]).notification_id


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
            await ensure_stream(js, self.names)
            await listen.execute("LISTEN paulp_events")
            last = await stream_head(js, self.names)
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
                        self._count(await asyncio.gather(*futures))
                        last = self.stats.last_notification_id = upto
                except (APIError, TimeoutError) as e:
                    # Out of order or partly published: the stream knows how far we got.
                    log.warning("relay publish failed (%s); resuming from the stream head", e)
                    self.stats.errors.append(str(e))
                    self.stats.restarts_from_stream += 1
                    for _, futures in pending:
                        for f in futures:
                            f.cancel()
                    pending.clear()
                    await _wait(stop, 0.2)
                    last = queued = self.stats.last_notification_id = await stream_head(js, self.names)
                    continue
                if not rows:
                    await _wait_notify(listen, stop, self.poll_s)

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
