"""Read-side queries over the views schema (never aggregates)."""

from __future__ import annotations

import time
from typing import Any

from paulp.api.wiring import Container
from paulp.domain.breaker import BreakerState
from paulp.domain.clock import iso_utc

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


SNAPSHOT_FIELDS = ("total_value", "daily_pnl", "weekly_pnl", "max_drawdown", "position_count")


def latest_portfolio_snapshot(container: Container) -> dict[str, Any] | None:
    """The newest valuation of the book the breaker was given (``latestSnapshot`` of §1.3 ``GET /status``):
    trading §9's fields in snake_case like the response's other rows, and the book's mode; None before the
    first one (ADR 0356)."""
    with container.pool.connection() as conn:
        row = conn.execute(
            f"SELECT {', '.join(SNAPSHOT_FIELDS)}, valued_at, mode FROM views.portfolio_snapshots"
            " ORDER BY valued_at DESC, notification_id DESC LIMIT 1"
        ).fetchone()
    if row is None:
        return None
    *figures, valued_at, mode = row
    return {**dict(zip(SNAPSHOT_FIELDS, figures, strict=True)), "timestamp": iso_utc(valued_at), "mode": mode}
