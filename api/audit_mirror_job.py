"""The audit mirror writer as a role of the scheduler process (``paulp up`` / ``paulp schedule``), and its alarm.

A write failure is logged and shown by /health/deep but never stops trading: §5.1 makes the mirror best
effort. A mirror file that differs from its chain record is evidence that the chain or the mirror was
changed, which §5.5 treats as a break: the breaker trips to HALT (ADR 0385).
"""

from __future__ import annotations

import asyncio
import logging

import psycopg

from paulp.adapters.audit_mirror import MirrorPass, MirrorUnavailable, mirror_pass
from paulp.api.wiring import Container

log = logging.getLogger("paulp.audit.mirror")
IDLE_S = 2.0  # longest wait for new chain records when a NOTIFY is missed
FAILED_S = 30.0  # wait after a failed pass: a broken folder is logged twice a minute, not once per event
AGENT = "audit-mirror"


def mirror_now(container: Container, from_start: bool = False) -> MirrorPass:
    """One writer pass; a mismatch trips the breaker (once: a HALTed breaker is not tripped again)."""
    result = mirror_pass(container.database_url, container.settings.PAULP_AUDIT_MIRROR_DIR, container.clock.now(),
                         from_start=from_start)
    if result.restarted:
        log.error("audit mirror: the file at the saved position is gone; walking the whole chain again")
    if result.mismatch is not None:
        log.critical("%s; tripping the breaker", result.mismatch.message())
        container.breaker.trip(f"Audit mirror mismatch at sequence {result.mismatch.sequence}", AGENT)
    return result


async def mirror_loop(container: Container, stop: asyncio.Event) -> None:
    """Follow the chain until ``stop``: wake on each append's NOTIFY (or every ``IDLE_S``), copy what is new."""
    if container.settings.PAULP_AUDIT_MIRROR_DIR is None:
        log.warning("audit mirror not written: PAULP_AUDIT_MIRROR_DIR is not set (/health/deep shows it)")
        await stop.wait()  # returning would make the supervisor start it again at once
        return
    listen = await psycopg.AsyncConnection.connect(container.database_url, autocommit=True)
    try:
        await listen.execute("LISTEN paulp_events")
        while not stop.is_set():
            try:
                result = await asyncio.to_thread(mirror_now, container)
            except MirrorUnavailable as exc:
                log.error("audit mirror write failed (trading goes on; retrying in %.0fs): %s", FAILED_S, exc)
                await _sleep(stop, FAILED_S)
                continue
            if result.mismatch is not None:
                await _sleep(stop, FAILED_S)  # stays stopped at the record until an operator has looked
            elif result.caught_up:
                await _wait_notify(listen, IDLE_S)
    finally:
        await listen.close()


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


async def _wait_notify(conn: psycopg.AsyncConnection, seconds: float) -> None:
    """Wake on an append's NOTIFY or after ``seconds`` (a lost NOTIFY costs one interval; so does stopping)."""
    async for _ in conn.notifies(timeout=seconds, stop_after=1):
        break
