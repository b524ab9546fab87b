"""``supervise`` restarts a crashed role with a growing delay, back to the shortest after a healthy run (ADR 0511)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from paulp.api.runtime import supervise


def test_supervise_when_a_run_lasted_healthy_s_then_its_crash_restarts_after_the_shortest_delay_again(
        caplog: pytest.LogCaptureFixture) -> None:
    # Arrange: how long each run lasts before it crashes; the fourth run stops the supervisor
    lasts = iter([0.0, 0.05, 0.3])

    async def main() -> None:
        stop = asyncio.Event()

        async def role() -> None:
            seconds = next(lasts, None)
            if seconds is None:
                stop.set()
                return
            await asyncio.sleep(seconds)
            raise RuntimeError("connection lost")

        await asyncio.wait_for(supervise("relay", role, stop, healthy_s=0.2), timeout=10)

    # Act
    with caplog.at_level(logging.ERROR, logger="paulp.runtime"):
        asyncio.run(main())
    # Assert: two quick crashes back off (0.5 s, 1 s); the crash after a run of 0.3 s >= 0.2 s waits 0.5 s again
    assert [r.getMessage() for r in caplog.records] == [
        "relay crashed; restarting in 0.5s", "relay crashed; restarting in 1.0s", "relay crashed; restarting in 0.5s"]


def test_supervise_when_a_role_ignores_the_stop_then_it_is_cancelled_after_the_grace_and_one_that_stops_is_not(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A role blocked where it never looks at ``stop`` (a NATS connect retried for ever) held SIGTERM for good;
    it now gets ``ROLE_STOP_GRACE_S`` and is then cancelled. A role that returns at the stop is left to do so."""
    from paulp.api import runtime

    monkeypatch.setattr(runtime, "ROLE_STOP_GRACE_S", 0.2)
    cancelled: list[str] = []

    async def main() -> float:
        stop = asyncio.Event()

        async def stuck() -> None:
            try:
                await asyncio.Event().wait()  # nothing ever sets it
            except asyncio.CancelledError:
                cancelled.append("stuck")
                raise

        async def polite() -> None:
            await stop.wait()
            await asyncio.sleep(0.05)  # its own clean stop

        loop = asyncio.get_running_loop()
        tasks = [asyncio.create_task(supervise(n, r, stop)) for n, r in (("relay", stuck), ("projector:x", polite))]
        await asyncio.sleep(0.05)
        began = loop.time()
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)
        return loop.time() - began

    # Act
    with caplog.at_level(logging.WARNING, logger="paulp.runtime"):
        took = asyncio.run(main())
    # Assert
    assert cancelled == ["stuck"] and 0.2 <= took < 2, took
    assert [r.getMessage() for r in caplog.records] == [
        "relay did not stop within 0.2s of the stop (waiting on a service that does not answer); cancelled"]
