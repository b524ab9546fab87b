"""Names on the bus derive from one namespace setting (design decision 6) so databases never mix streams."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client
from nats.js.api import StorageType, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from paulp.adapters.config import NAMESPACE_PATTERN
from paulp.adapters.eventstore.chain import split_topic

log = logging.getLogger("paulp.bus")
DUPLICATE_WINDOW_S = 3600.0
HDR_MSG_ID = "Nats-Msg-Id"
HDR_EXPECTED_LAST = "Nats-Expected-Last-Msg-Id"
# One compact header "<notification id> <originator version> <originator id> <topic>": consumers parse
# headers per character (nats-py), so one short name beats four long ones (measured in bench/spine.py).
HDR_EVENT = "Paulp-Ev"


@dataclass(frozen=True)
class EventRef:
    notification_id: int
    originator_version: int
    originator_id: str
    topic: str

    def header(self) -> str:
        return f"{self.notification_id} {self.originator_version} {self.originator_id} {self.topic}"

    @classmethod
    def parse(cls, value: str) -> EventRef:
        nid, version, originator, topic = value.split(" ", 3)
        return cls(int(nid), int(version), originator, topic)


@dataclass(frozen=True)
class BusNames:
    namespace: str

    def __post_init__(self) -> None:
        if not NAMESPACE_PATTERN.match(self.namespace):
            raise ValueError(f"PAULP_NAMESPACE must match {NAMESPACE_PATTERN.pattern}: {self.namespace!r}")

    @property
    def stream(self) -> str:
        return self.namespace.upper()

    @property
    def all_subjects(self) -> str:
        return f"{self.namespace}.>"

    def subject(self, topic: str) -> str:
        context, qualname = split_topic(topic)
        return f"{self.namespace}.{context}.{qualname}"

    def msg_id(self, notification_id: int) -> str:
        return f"{self.namespace}/{notification_id}"

    def consumer(self, projection: str) -> str:
        return f"{self.namespace}_{projection}"

    def lock_key(self, role: str) -> str:
        return f"{self.namespace}/{role}"

    @property
    def dlq_stream(self) -> str:
        return f"{self.stream}_DLQ"

    def dlq_subject(self, consumer: str) -> str:
        """``<ns>_dlq.<consumer>``: ``<ns>.dlq.…`` would fall inside the event stream's ``<ns>.>`` (ADR 0398)."""
        return f"{self.namespace}_dlq.{consumer}"


async def connect(url: str | list[str], name: str | None = None, **options: Any) -> Client:
    """A connected client, reconnecting for ever unless ``options`` say otherwise. A connect that fails or is
    cancelled (a caller's timeout) closes what it opened: nats-py's own ``connect`` raises with the socket of a
    half-done handshake still open, and nobody holds the client to close it (ADR 0504)."""
    settings: dict[str, Any] = {"max_reconnect_attempts": -1, "reconnect_time_wait": 0.5, "connect_timeout": 5,
                                "allow_reconnect": True, "error_cb": quiet_errors(name or "nats"), **options}
    nc = Client()
    try:
        await nc.connect(url, name=name, **settings)
    except BaseException:
        await _close_quietly(nc)
        raise
    return nc


ERROR_LOG_EVERY_S = 30.0


def quiet_errors(name: str, every_s: float = ERROR_LOG_EVERY_S) -> Callable[[Exception], Awaitable[None]]:
    """nats-py's own error callback logs a full traceback for every failed attempt: with the server down, a
    15-line ERROR every 0.5 s per client (26 clients in ``paulp up``). One WARNING line per client when the error
    changes, and again every ``every_s`` while it lasts, says the same (ADR 0515 addendum)."""
    last: dict[str, float] = {}

    async def on_error(exc: Exception) -> None:
        what = f"{type(exc).__name__}: {exc}"
        now = time.monotonic()
        if what in last and now - last[what] < every_s:
            return
        last.clear()
        last[what] = now
        log.warning("NATS client %s: %s (retrying; said again every %.0fs while it lasts)", name, what, every_s)

    return on_error


async def release(nc: Client) -> None:
    """Drain the client, then close whatever the drain left open. ``drain`` raises without closing when the
    client is reconnecting (NATS restarted or unreachable), already closed, or its last flush fails; the
    client's read loop, pinger and flusher then ran on after their owner stopped, and a reconnect loop for ever
    (ADR 0504)."""
    try:
        await nc.drain()
    except Exception as exc:
        log.warning("NATS drain failed (%s: %s); closing the connection", type(exc).__name__, exc)
    finally:
        await _close_quietly(nc)


async def _close_quietly(nc: Client) -> None:
    if nc.is_closed or nc._flush_queue is None:  # closed, or never got as far as opening anything
        return
    try:
        await nc.close()
    except Exception as exc:  # closing is best effort: the caller's own error (or stop) is what matters
        log.warning("NATS close failed (%s: %s)", type(exc).__name__, exc)


async def ensure_stream(js: JetStreamContext, names: BusNames) -> None:
    try:
        await js.stream_info(names.stream)
    except NotFoundError:
        await js.add_stream(
            StreamConfig(
                name=names.stream,
                subjects=[names.all_subjects],
                storage=StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW_S,
            )
        )


async def ensure_dlq_stream(js: JetStreamContext, names: BusNames) -> None:
    """The dead-letter stream: kept until an operator purges it, de-duplicated like the event stream."""
    try:
        await js.stream_info(names.dlq_stream)
    except NotFoundError:
        await js.add_stream(
            StreamConfig(
                name=names.dlq_stream,
                subjects=[names.dlq_subject(">")],
                storage=StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW_S,
            )
        )
