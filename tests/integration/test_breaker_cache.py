"""The breaker's aggregate cache (ADR 0502): every load still sees what other processes recorded, and a command
that lost a race re-decides on the winner's state, never on the cached copy."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from paulp.api.wiring import application_env
from paulp.domain.breaker import BreakerState
from paulp.domain.clock import FixedClock
from paulp.domain.services.breaker import BreakerService

pytestmark = pytest.mark.integration
AT = datetime(2026, 3, 2, 15, tzinfo=UTC)


def test_breaker_when_another_process_changes_it_then_the_cached_service_sees_it_on_its_next_load(fresh_db):
    # Arrange: two services (two processes' contexts) over one log; the first has the breaker cached
    ours, theirs = (BreakerService(application_env(fresh_db), FixedClock(AT)) for _ in range(2))
    try:
        assert ours.get().state == BreakerState.NORMAL
        cached_version = ours.get().version
        # Act: the other process trips the breaker and records three blocked checks
        theirs.transition("CAUTION", "drill", "ops")
        for _ in range(3):
            theirs.record_risk_check(blocked=True)
        seen = ours.get()
        after = ours.record_risk_check(blocked=False)  # our command decides on the state the log holds
        # Assert
        assert seen.version > cached_version and seen.state == theirs.get().state != BreakerState.NORMAL
        assert after == theirs.get().state and ours.get().version == theirs.get().version
        copy = ours.get()
        copy.record_risk_check(True, AT, True)  # a command's copy, never saved: the cache is not changed by it
        assert ours.get().version == theirs.get().version
    finally:
        ours.close()
        theirs.close()
