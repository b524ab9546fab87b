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
