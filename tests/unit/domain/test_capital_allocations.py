"""The capital-allocation fold (trading §5.7, api-and-security §7.1; ADR 0389): go-lives and status changes, fed as
the real aggregates record them, including a status change racing a go-live it did not see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from paulp.domain.capital import allocation_for
from paulp.domain.capital_allocations import (
    GO_LIVE_MAX_POSITION_PCT,
    AllocationRecord,
    after_go_live,
    after_status_change,
    initial_record,
)
from paulp.domain.execution_policy import ExecutionMode
from paulp.domain.strategy_registry import CATALOGUE, Strategy, StrategyStatus, find_strategy, status_mode
from tests.support.hypothesis_scale import examples

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
SETTABLE = (StrategyStatus.DISABLED, StrategyStatus.PAPER, StrategyStatus.HALTED)


def _change(strategy: Strategy, record: AllocationRecord, target: StrategyStatus, seen: int, reason: str,
            at: datetime) -> AllocationRecord:
    """An operator's status change through the real aggregate, folded from the event it records."""
    info = find_strategy(record.strategy)
    assert info is not None
    if strategy.set_status(target, "token:carol", reason, seen, at):
        [event] = [e for e in strategy.collect_events() if isinstance(e, Strategy.StatusChanged)]
        return after_status_change(record, event.to_status, event.golive_seen, event.reason, event.at)
    return record


def test_initial_record_when_no_event_then_the_static_row() -> None:
    for info in CATALOGUE:
        static = allocation_for(info.id)
        assert initial_record(info.id).allocation() == static


def test_go_live_when_bonding_then_its_capital_the_5pct_cap_approvers_and_enabled_at() -> None:
    record = after_go_live(initial_record("bonding"), 40_000, 3, "alice", "bob", T0)
    assert record.allocation().capital == 400.0
    assert (record.max_position_pct, record.enabled, record.enabled_at) == (GO_LIVE_MAX_POSITION_PCT, True, T0)
    assert (record.approved_by, record.approved_at, record.allocated_at) == ("alice,bob", T0, T0)


def test_status_change_when_disabled_after_go_live_then_disabled_with_reason_and_capital_kept() -> None:
    record = after_go_live(initial_record("bonding"), 40_000, 3, "alice", "bob", T0)
    later = T0 + timedelta(hours=1)
    off = after_status_change(record, "disabled", 3, "venue incident", later)
    assert (off.enabled, off.disabled_at, off.disable_reason, off.capital) == (False, later, "venue incident", 400.0)
    back = after_status_change(off, "paper", 3, "paper first", later + timedelta(hours=1))
    assert (back.enabled, back.enabled_at, back.disabled_at) == (True, later + timedelta(hours=1), later)


def test_status_change_when_paper_on_a_strategy_5_7_keeps_disabled_then_still_disabled() -> None:
    record = after_status_change(initial_record("xv_signal"), "paper", 0, "try it on paper", T0)
    assert (record.own_status, record.enabled, record.enabled_at) == ("paper", False, None)


def test_status_change_when_it_did_not_see_a_later_go_live_then_the_go_live_stands() -> None:
    """ADR 0255: a disable that read no go-live, recorded after one, does not stop the live strategy."""
    live = after_go_live(initial_record("weather"), 25_000, 3, "alice", "bob", T0)
    raced = after_status_change(live, "disabled", 0, "raced", T0 + timedelta(seconds=1))
    assert (raced.status(), raced.enabled, raced.disabled_at) == (StrategyStatus.LIVE, True, None)
    seen = after_status_change(raced, "disabled", 3, "seen", T0 + timedelta(seconds=2))
    assert (seen.status(), seen.enabled) == (StrategyStatus.DISABLED, False)


STEP = st.one_of(
    st.tuples(st.just("go_live"), st.integers(min_value=1, max_value=10_000_000)),
    st.tuples(st.sampled_from(SETTABLE), st.booleans()),  # the flag: the change read a stale go-live version
)


@settings(max_examples=examples(300), deadline=None)
@given(strategy_id=st.sampled_from([i.id for i in CATALOGUE]), steps=st.lists(STEP, max_size=12))
def test_fold_when_go_lives_and_status_changes_interleave_then_it_agrees_with_the_registry(
        strategy_id: str, steps: list[tuple[object, object]]) -> None:
    """Whatever the order, the view's status is the registry's, a disabled or halted strategy is never scanned,
    an enabled one is never one whose orders the pipeline refuses, and the capital is the last go-live's."""
    info = find_strategy(strategy_id)
    assert info is not None
    strategy, record, static = Strategy.register(info), initial_record(strategy_id), allocation_for(strategy_id)
    live_version, last_capital = 0, None
    for n, (kind, arg) in enumerate(steps):
        at = T0 + timedelta(minutes=n)
        if kind == "go_live":
            live_version = live_version + 2 if live_version else 3  # Requested then WentLive on the approval
            assert isinstance(arg, int)
            record, last_capital = after_go_live(record, arg, live_version, "alice", "bob", at), arg
        else:
            assert isinstance(kind, StrategyStatus)
            seen = 0 if arg else live_version
            record = _change(strategy, record, kind, seen, f"step {n}", at)
        status = strategy.status(live_version)
        assert record.status() is status
        if status in (StrategyStatus.DISABLED, StrategyStatus.HALTED):
            assert not record.enabled
        if status is StrategyStatus.LIVE:
            assert record.enabled
        if record.enabled:  # the scan's enabled strategies are those whose orders may trade (ADR 0402)
            assert status_mode(status) is not ExecutionMode.DISABLED
        if last_capital is None:
            assert (record.capital, record.max_position_pct, record.allocated_at) == (
                static.capital, static.max_position_pct, None)
        else:
            assert (record.capital, record.max_position_pct) == (last_capital / 100, GO_LIVE_MAX_POSITION_PCT)
        if not record.enabled and (static.enabled or live_version):
            assert record.disabled_at is not None and record.disable_reason is not None
