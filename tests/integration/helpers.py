"""Shared integration helpers: a built container, background workers with a bounded lifetime, the paper
pipeline's clock, market facts and signals, and the live-equals-replay check. Kept out of test modules so
importers do not import (and run the side effects of) another test module."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import nats
import psycopg
from eventsourcing.utils import get_topic

from paulp.adapters import replay as rp
from paulp.adapters.bus import HDR_EVENT, BusNames, EventRef
from paulp.adapters.config import Settings
from paulp.adapters.market_data import StaticMarketData
from paulp.api.runtime import run_workers
from paulp.api.wiring import Container, build
from paulp.domain.book_depth import BookLevels
from paulp.domain.clock import Clock
from paulp.domain.execution_orders import MarketSnapshot
from paulp.domain.ports import MarketFacts
from paulp.domain.services.base import PaulpApplication
from paulp.domain.services.pipeline import TradeSignal

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday, inside trading hours
NOAA_TOKEN = "cdo-" + secrets.token_hex(12)  # what the loopback NOAA CDO (conftest ``noaa``) accepts


def deep_book(yes_bid: int | None, yes_ask: int | None, contracts: int = 5_000) -> BookLevels:
    """A book resting ``contracts`` at each quote (YES asks are NO bids mirrored): deep enough for any test order."""
    return BookLevels.of([(yes_bid, contracts)] if yes_bid else [], [(100 - yes_ask, contracts)] if yes_ask else [])


def facts(ticker: str) -> MarketFacts:
    return MarketFacts(
        snapshot=MarketSnapshot(ticker=ticker, yes_bid=41, yes_ask=42, no_bid=58, no_ask=59, volume_24h=50_000,
                                settlement_time=NOW + timedelta(days=7), close_time=NOW + timedelta(days=7),
                                category="economics"),
        category="economics", book=deep_book(41, 42), vpin_score=0.1,
        settlement_date=NOW + timedelta(days=7), last_price_update=NOW - timedelta(seconds=5),
    )


MARKET = StaticMarketData({t: facts(t) for t in ("KXTEST-A", "KXTEST-B", "KXTEST-C", "KXTEST-D")})


def signal(sid: str, ticker: str = "KXTEST-A", size: int = 50, price: int = 42) -> TradeSignal:
    return TradeSignal(signal_id=sid, strategy="bonding", ticker=ticker, side="YES", requested_size=size,
                       max_price=price, model_probability=0.6, edge=0.18, confidence=0.8)


def make_container(db_url: str, nats_url: str, namespace: str, clock: Clock | None = None,
                   admin_token: str = "test-admin-token-0123456789abcdef", **config: Any) -> Container:
    settings = Settings(PAULP_DATABASE_URL=db_url, PAULP_NATS_URL=nats_url, PAULP_NAMESPACE=namespace,
                        ADMIN_TOKEN=admin_token, **{"ENVIRONMENT": "test", **config})  # type: ignore[arg-type]
    return build(settings, db_url, nats_url, clock)


@contextmanager
def workers(container: Container, relay: bool = True, projections: list[str] | None = None) -> Iterator[None]:
    """Relay + projectors in a background event loop, stopped (bounded) on exit. A task they leave running once
    stopped fails the test: a NATS client left open kept its read loop, pinger and flusher pending in a loop
    nobody closed, and the garbage collector reported them later, in whichever test it ran (ADR 0504)."""
    held: dict[str, Any] = {}
    started = threading.Event()

    async def main() -> None:
        held["loop"], held["stop"] = asyncio.get_running_loop(), asyncio.Event()
        started.set()
        await run_workers(container, held["stop"], relay=relay, projections=projections)
        held["left"] = await left_running()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)  # closes its loop, whatever is left
    thread.start()
    started.wait(5)
    try:
        yield
    finally:
        held["loop"].call_soon_threadsafe(held["stop"].set)
        thread.join(15)
        assert not thread.is_alive(), "workers did not stop within 15 s"
        assert held.get("left") == [], f"the stopped workers left tasks running: {held.get('left')}"


async def left_running(grace: float = 1.0) -> list[str]:
    """The tasks of the running loop, other than the caller's, still pending after ``grace`` seconds (a task
    cancelled just now gets that long to end)."""
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    if others:
        await asyncio.wait(others, timeout=grace)
    return [repr(t) for t in others if not t.done()]


def wait_tracked(db_url: str, projection: str, notification_id: int, timeout: float = 20.0) -> None:
    """Wait (bounded) until the projection has applied ``notification_id``; never a bare sleep."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(db_url, autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT last_notification_id FROM projection_tracking WHERE name = %s", (projection,)
            ).fetchone()
            if row and row[0] >= notification_id:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{projection} did not reach {notification_id} (at {row[0] if row else None})")
            time.sleep(0.02)


def max_notification_id(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT coalesce(max(notification_id), 0) FROM paulp_events").fetchone()
    return int(row[0]) if row else 0


def log_ids(db_url: str) -> list[int]:
    """Every notification id of the event log, in order."""
    with psycopg.connect(db_url) as conn:
        return [int(r[0]) for r in conn.execute("SELECT notification_id FROM paulp_events ORDER BY 1")]


async def stream_ids(url: str, names: BusNames, timeout: float = 60.0) -> list[int]:
    """The notification id of every message in the namespace's stream, in stream order: a stream equal to
    ``log_ids`` holds every event of the log once (read through an ephemeral consumer, within ``timeout``)."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(names.stream)
        sub = await js.pull_subscribe(names.all_subjects, stream=names.stream)  # ephemeral, from the start
        ids: list[int] = []
        deadline = time.monotonic() + timeout
        while len(ids) < info.state.messages and time.monotonic() < deadline:
            try:
                msgs = await sub.fetch(1000, timeout=2)
            except TimeoutError:
                continue
            for m in msgs:
                ids.append(EventRef.parse(m.headers[HDR_EVENT]).notification_id)
                await m.ack()
        await sub.unsubscribe()
        return ids
    finally:
        await nc.close()


def assert_live_equals_replay(container: Container, name: str) -> None:
    proj = container.projections[name]
    result = rp.replay(container.database_url, proj, f"replay_{name}", rp.live_position(container.database_url, proj))
    assert result.failed == 0
    assert rp.diff(container.database_url, proj, f"replay_{name}") == []


def chain_log(db: str, aggregate_id: UUID) -> list[tuple[int, str, str | None]]:
    """(notification id, topic, chain event type) of each of the aggregate's events, oldest first."""
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT e.notification_id, e.topic, c.event_type FROM paulp_events e"
            " LEFT JOIN audit_chain c ON c.notification_id = e.notification_id"
            " WHERE e.originator_id = %s ORDER BY e.originator_version", (aggregate_id,)).fetchall()
    return [(int(n), str(t), e) for n, t, e in rows]


def checkpoint_places(log: list[tuple[int, str, str | None]], checkpoint: type[Any]) -> list[int]:
    """The versions of ``checkpoint`` events in an aggregate's ``chain_log``."""
    topic = get_topic(checkpoint)
    return [version for version, (_, t, _) in enumerate(log, start=1) if t == topic]


def load_counting(app: PaulpApplication, aggregate_id: UUID, checkpoint: type[Any],
                  resume: Callable[[Sequence[Any]], Any]) -> tuple[Any, list[int]]:
    """``app``'s first load of the aggregate through ``get_checkpointed``, with a probe recording how many events
    each call of its resume was handed (ADRs 0503, 0505, 0508)."""
    handed: list[int] = []

    def counting(events: Sequence[Any]) -> Any:
        handed.append(len(events))
        return resume(events)

    return app.get_checkpointed(aggregate_id, checkpoint, counting), handed
