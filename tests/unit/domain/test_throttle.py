"""ExecutionThrottle (trading §5.1-5.2; ADR 0307): a replaying stateful test of its counted orders and of the
throttle resumed from its last checkpoint (ADR 0503)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.checkpoints import resume
from paulp.domain.execution import RateLimitState, epoch_ms, roll_windows, start_of_utc_day_ms
from paulp.domain.throttle import ExecutionThrottle, throttle_id
from tests.support.hypothesis_scale import examples, steps

T0 = datetime(2026, 3, 2, 23, 58, tzinfo=UTC)  # two minutes before a UTC midnight
GAPS = st.one_of(st.integers(0, 2_000), st.integers(55_000, 65_000), st.integers(3_590_000, 3_610_000),
                 st.integers(0, 30 * 3_600_000))  # milliseconds: spacing, around a minute, an hour, any


def _stored(events: list[Any]) -> list[Any]:
    mapper = make_mapper()
    return [mapper.to_domain_event(mapper.to_stored_event(e)) for e in events]


def _view(t: ExecutionThrottle) -> tuple[Any, ...]:
    return (t.id, t.version, t.created_on, t.modified_on, t.scope, t.state, t.checkpointed_at)


def _resumed(stored: list[Any]) -> ExecutionThrottle | None:
    """The throttle as a first load rebuilds it from its last checkpoint, or None before the first one."""
    marks = [i for i, ev in enumerate(stored) if isinstance(ev, ExecutionThrottle.Checkpointed)]
    return resume(ExecutionThrottle, ExecutionThrottle.Checkpointed, stored[marks[-1]:]) if marks else None


class ThrottleMachine(RuleBasedStateMachine):
    """Orders counted at random gaps (time never runs back): each window counts exactly the orders since it
    started, the day's volume is the notional counted since UTC midnight, reading rolls nothing and records
    nothing, and replaying the stored events rebuilds the same counters."""

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.throttle = ExecutionThrottle(scope="kalshi/PAPER", at=T0)
        self.events = list(self.throttle.collect_events())
        self.counted: list[tuple[int, int]] = []  # (epoch ms, notional cents) of every counted order

    @rule(gap=GAPS, notional=st.integers(0, 9_900))
    def count_order(self, gap: int, notional: int) -> None:
        self.now += timedelta(milliseconds=gap)
        self.throttle.count_order(notional, self.now)
        (ev,) = self.throttle.collect_events()
        self.events.append(ev)
        self.counted.append((epoch_ms(self.now), notional))

    def _holds(self, s: RateLimitState, at: datetime) -> None:
        """``s`` as of ``at``: each window started no later than ``at`` and less than its length before it,
        and counts exactly the orders counted since it started; the day's volume is the notional since the
        UTC midnight before ``at``."""
        at_ms, day_ms = epoch_ms(at), start_of_utc_day_ms(at)
        assert 0 <= at_ms - s.minute_window_start_ms < 60_000 or not self.counted
        assert 0 <= at_ms - s.hour_window_start_ms < 3_600_000 or not self.counted
        assert s.day_window_start_ms == day_ms
        assert s.orders_this_minute == sum(1 for t, _ in self.counted if t >= s.minute_window_start_ms)
        assert s.orders_this_hour == sum(1 for t, _ in self.counted if t >= s.hour_window_start_ms)
        assert s.volume_today == sum(n for t, n in self.counted if t >= day_ms)

    @rule(every=st.integers(1, 6))
    def checkpoint(self, every: int) -> None:
        """As the orders service does before a save of the throttle, with intervals short enough to land often."""
        due = self.throttle.version - self.throttle.checkpointed_at >= every
        assert self.throttle.checkpoint_if_due(every) is due
        self.events.extend(self.throttle.collect_events())

    @rule(gap=GAPS)
    def read(self, gap: int) -> None:
        """What the pipeline checks a request against: the windows rolled to then, the aggregate unchanged."""
        later = self.now + timedelta(milliseconds=gap)
        before = self.throttle.state
        current = self.throttle.current(later)
        assert self.throttle.state == before and self.throttle.collect_events() == []
        self._holds(roll_windows(current, later), later)  # rolling twice changes nothing more
        self._holds(current, later)

    @invariant()
    def windows_count_what_they_hold(self) -> None:
        s = self.throttle.state
        self._holds(s, self.now)
        if self.counted:
            assert s.last_order_ms == self.counted[-1][0] == epoch_ms(self.now)
            assert s.orders_this_minute >= 1 and s.orders_this_hour >= 1

    @invariant()
    def replay_equals_live(self) -> None:
        rebuilt = reduce(lambda agg, ev: ev.mutate(agg), _stored(self.events), None)
        assert isinstance(rebuilt, ExecutionThrottle)
        assert (rebuilt.id, rebuilt.version, rebuilt.scope, rebuilt.state) == (
            throttle_id("kalshi/PAPER"), self.throttle.version, self.throttle.scope, self.throttle.state)

    @invariant()
    def resumed_equals_replayed_equals_live(self) -> None:
        stored = _stored(self.events)
        replayed = reduce(lambda agg, ev: ev.mutate(agg), stored, None)
        assert isinstance(replayed, ExecutionThrottle) and _view(replayed) == _view(self.throttle)
        resumed = _resumed(stored)
        assert resumed is None or _view(resumed) == _view(self.throttle)


TestThrottleMachine = ThrottleMachine.TestCase
TestThrottleMachine.settings = settings(max_examples=examples(60), stateful_step_count=steps(25), deadline=None)
