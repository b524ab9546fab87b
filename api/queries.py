"""Read-side queries over the views schema (never aggregates)."""

from __future__ import annotations

import time
from typing import Any

from paulp.api.wiring import Container
from paulp.domain.breaker import BreakerState

WAIT_S = 2.0


def wait_for_projection(container: Container, projection: str, notification_id: int, timeout: float = WAIT_S) -> bool:
    """Read-your-writes: wait (bounded) until ``projection`` has applied ``notification_id``."""
    if notification_id <= 0:
        return True
    deadline = time.monotonic() + timeout
    with container.pool.connection() as conn:
        while True:
            row = conn.execute(
                "SELECT last_notification_id FROM projection_tracking WHERE name = %s", (projection,)
            ).fetchone()
            if row and row[0] >= notification_id:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)


def breaker_view(container: Container, wait_for: int = 0) -> dict[str, Any]:
    wait_for_projection(container, "breaker_state", wait_for)
    with container.pool.connection() as conn:
        row = conn.execute(
            "SELECT state, consecutive_failures, halt_started_at, last_state_change, last_reason, last_actor"
            " FROM views.breaker_state WHERE scope = 'global'"
        ).fetchone()
    if row is None:  # no breaker event yet: the default state (§2)
        return {"state": BreakerState.NORMAL.value, "consecutiveFailures": 0, "haltStartedAt": None,
                "lastStateChange": None, "lastReason": None, "lastActor": None}
    keys = ("state", "consecutiveFailures", "haltStartedAt", "lastStateChange", "lastReason", "lastActor")
    return dict(zip(keys, row, strict=True))
