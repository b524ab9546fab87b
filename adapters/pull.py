"""Batch pulls from a durable JetStream consumer, with one callback per delivered message.

nats-py's ``fetch(n)`` awaits each message with its own timeout (a task and a timer per message), which
profiled as the projector's largest cost after the apply itself. This reader speaks the same JetStream
pull API (a request on ``$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`` naming a reply inbox) and
collects deliveries in a subscription callback, so a batch of 500 costs one wake-up, not 500
(ADR 0008, figures in bench/spine.py).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg

STATUS = "Status"
DESCRIPTION = "Description"
HEARTBEAT = "100"
ANSWER_MARGIN_S = 2.0


class ConsumerGone(RuntimeError):
    """Raised when the server ends a pull because the consumer was deleted, or a connected server leaves a pull
    unanswered (the consumer is gone with its stream): the caller must recreate it."""


def stream_sequence(msg: Msg) -> int:
    """The stream sequence from the ack subject ``$JS.ACK.[<domain>.<hash>.]<stream>.<consumer>.<delivered>.
    <stream seq>.<consumer seq>.<ts>.<pending>[.<token>]`` without building nats-py's metadata object."""
    tokens = (msg.reply or "").split(".")
    if len(tokens) < 9 or tokens[0] != "$JS" or tokens[1] != "ACK":
        raise ValueError(f"not a JetStream delivery: reply subject {msg.reply!r}")
    return int(tokens[5] if len(tokens) == 9 else tokens[7])


class PullReader:
    """One outstanding pull request at a time on one durable consumer; not safe for concurrent ``fetch``."""

    def __init__(self, nc: Client, stream: str, consumer: str) -> None:
        self._nc = nc
        self._subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._inbox = nc.new_inbox()
        self._sub: Any = None
        self._buffer: list[Msg] = []
        self._want = 0
        self._wake = asyncio.Event()
        self._gone: str | None = None

    async def start(self) -> PullReader:
        self._sub = await self._nc.subscribe(self._inbox, cb=self._on_msg)
        return self

    async def close(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def _on_msg(self, msg: Msg) -> None:
        status = msg.headers.get(STATUS) if msg.headers else None
        if status is None:
            self._buffer.append(msg)
            if len(self._buffer) >= self._want:
                self._wake.set()
            return
        if status == HEARTBEAT:
            return
        if status == "409" and "deleted" in (msg.headers or {}).get(DESCRIPTION, "").lower():
            self._gone = (msg.headers or {}).get(DESCRIPTION, "consumer deleted")
        # A pull request ends with 404 (nothing now), 408 (expired) or 409 (limits, consumer gone, ...).
        if status.startswith("4"):
            self._wake.set()

    async def fetch(self, batch: int, expires: float = 0.5) -> list[Msg]:
        """Up to ``batch`` messages in stream order; fewer (maybe none) once the server ends the request
        because nothing more arrived within ``expires`` seconds."""
        if self._gone:
            raise ConsumerGone(self._gone)
        if len(self._buffer) < batch:
            self._want = batch
            self._wake.clear()
            request = {"batch": batch - len(self._buffer), "expires": int(expires * 1_000_000_000)}
            reconnects = self._nc.stats["reconnects"]
            await self._nc.publish(self._subject, json.dumps(request).encode(), reply=self._inbox)
            try:
                # The server answers by `expires`; the margin only covers a lost connection.
                await asyncio.wait_for(self._wake.wait(), timeout=expires + ANSWER_MARGIN_S)
            except TimeoutError:
                if self._nc.is_connected and self._nc.stats["reconnects"] == reconnects and not self._buffer:
                    # Connected all along, yet not even a 408: nothing serves the consumer's pull subject any more
                    # (a NATS that came back without its store has neither stream nor consumer, and JetStream sends
                    # no status for that), so the caller recreates it. A request lost with a dropped connection
                    # is only asked again (ADR 0511).
                    self._gone = f"no answer to a pull request within {expires + ANSWER_MARGIN_S:g} s"
            if self._gone:
                raise ConsumerGone(self._gone)
        out, self._buffer = self._buffer[:batch], self._buffer[batch:]
        return out
