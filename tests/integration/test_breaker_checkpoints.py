"""The breaker and the execution throttles checkpoint in the log and a process's first load starts there (ADR 0503),
on real PostgreSQL: the checkpoint is written by the services' ordinary saves, chained and projected like any
event, and a second process resumes from it to the state a full replay gives, then carries on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from paulp.adapters.audit_store import verify
from paulp.adapters.projector import catch_up_from_log
from paulp.api.wiring import application_env
from paulp.domain.breaker import BreakerState, CircuitBreaker
from paulp.domain.checkpoints import CHECKPOINT_EVERY
from paulp.domain.clock import FixedClock
from paulp.domain.services.breaker import RESUME, BreakerService
from paulp.domain.services.pipeline import OrdersService
from paulp.domain.throttle import ExecutionThrottle
from paulp.projections.breaker import BreakerStateProjection
from tests.integration.helpers import chain_log, checkpoint_places, load_counting

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
AT = datetime(2026, 3, 2, 15, tzinfo=UTC)
SCOPE = "kalshi/PAPER"


def _breaker(b: CircuitBreaker) -> tuple[Any, ...]:
    return (b.id, b.version, b.created_on, b.modified_on, b.state, b.consecutive_failures, b.halt_started_at,
            b.last_state_change, b.last_alert, b.last_tail_hhi, b.tail_breached, b.portfolio_alert_levels,
            b.checkpointed_at)


def _throttle(t: ExecutionThrottle) -> tuple[Any, ...]:
    return t.id, t.version, t.created_on, t.modified_on, t.scope, t.state, t.checkpointed_at


def test_breaker_when_past_the_interval_then_a_new_process_resumes_from_the_checkpoint_and_carries_on(fresh_db):
    # Arrange: one process records an operator move, an alert and enough risk checks to pass one checkpoint
    env = application_env(fresh_db)
    first = BreakerService(env, FixedClock(AT))
    first.transition("CAUTION", "drill", "ops")
    first.raise_alert("SLOW_FEED", "warning")
    for i in range(CHECKPOINT_EVERY + 10):
        first.record_risk_check(blocked=i >= CHECKPOINT_EVERY + 8)  # the last two are blocked: the count stands at 2
    breaker_id = CircuitBreaker.create_id("global")
    log = chain_log(fresh_db, breaker_id)
    # Act: another process's first load, and a probe counting what its resume is handed
    second, replaying = BreakerService(env, FixedClock(AT)), BreakerService(env, FixedClock(AT))
    resumed = second.get()
    probe = BreakerService(env, FixedClock(AT))
    probed, handed = load_counting(probe, breaker_id, CircuitBreaker.Checkpointed, RESUME)
    replayed: CircuitBreaker = replaying.repository.get(breaker_id)  # the library's full replay from Created
    # Assert: one checkpoint, where the interval put it, in the chain under its own name
    places = checkpoint_places(log, CircuitBreaker.Checkpointed)
    assert places == [CHECKPOINT_EVERY + 1] and log[places[0] - 1][2] == "CircuitBreaker.Checkpointed"
    assert all(event_type is not None for _, _, event_type in log) and verify(fresh_db).valid
    # the resumed breaker is the replayed one, read from the checkpoint on
    assert handed == [len(log) - places[0] + 1] and handed[0] < 20
    assert _breaker(resumed) == _breaker(probed) == _breaker(replayed)
    assert (resumed.state, resumed.consecutive_failures, resumed.last_alert) == (BreakerState.CAUTION, 2, "SLOW_FEED")
    # the view folds the checkpoint like any event and agrees with the aggregate
    with psycopg.connect(fresh_db) as conn:
        catch_up_from_log(conn, BreakerStateProjection())
        conn.commit()
        row = conn.execute("SELECT state, consecutive_failures, last_notification_id FROM views.breaker_state"
                           " WHERE scope = 'global'").fetchone()
    assert row == ("CAUTION", 2, log[-1][0])
    # the resumed process carries on: its third blocked check halts, and the first process sees it
    assert second.record_risk_check(blocked=True) is BreakerState.HALT
    assert _breaker(first.get()) == _breaker(second.get()) == _breaker(replaying.repository.get(breaker_id))
    for service in (first, second, replaying, probe):
        service.close()


def test_throttle_when_past_the_interval_then_a_new_process_resumes_it_from_its_checkpoint(fresh_db):
    # Arrange: one process counts orders on the venue's PAPER throttle through the orders service's saves
    env = application_env(fresh_db)
    first = OrdersService(env, FixedClock(AT))
    for i in range(CHECKPOINT_EVERY + 5):
        now = AT + timedelta(seconds=7 * i)
        throttle = first.throttle(SCOPE) or ExecutionThrottle(SCOPE, now)
        throttle.count_order(100 + i, now)
        first.save(throttle)
    throttle_id = ExecutionThrottle.id_for(SCOPE)
    log = chain_log(fresh_db, throttle_id)
    # Act: another process's first load
    second, replaying = OrdersService(env, FixedClock(AT)), OrdersService(env, FixedClock(AT))
    resumed = second.throttle(SCOPE)
    replayed: ExecutionThrottle = replaying.repository.get(throttle_id)
    # Assert: one chained checkpoint after the interval, and the resumed throttle is the replayed one
    places = checkpoint_places(log, ExecutionThrottle.Checkpointed)
    assert places == [CHECKPOINT_EVERY + 1] and log[places[0] - 1][2] == "ExecutionThrottle.Checkpointed"
    assert resumed is not None and _throttle(resumed) == _throttle(replayed)
    assert resumed.state.orders_this_hour > 0 and resumed.state.volume_today > 0
    # and counts on from it, as the first process then sees
    resumed.count_order(1, AT + timedelta(hours=2))
    second.save(resumed)
    again = first.throttle(SCOPE)
    assert again is not None and _throttle(again) == _throttle(replaying.repository.get(throttle_id))
    for service in (first, second, replaying):
        service.close()
