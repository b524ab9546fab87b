"""Strategy registry (api-and-security §1.3; ADR 0255): status validation, decisions, go-live ordering, replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from paulp.domain.execution_policy import INITIAL_STRATEGY_MODES, ExecutionMode
from paulp.domain.strategy_registry import (
    CATALOGUE,
    InvalidStatus,
    Strategy,
    StrategyStatus,
    UseGoLive,
    effective_status,
    find_strategy,
    requested_status,
    status_mode,
)
from tests.support.hypothesis_scale import examples, steps

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
S = StrategyStatus


def bonding() -> Strategy:
    info = find_strategy("bonding")
    assert info is not None
    return Strategy.register(info)


@pytest.mark.parametrize("value", ["", "LIVE_", "Paper", "enabled", None, 3, ["paper"], {"s": "paper"}])
def test_requested_status_when_not_a_known_value_then_invalid_status(value: Any) -> None:
    with pytest.raises(InvalidStatus) as raised:
        requested_status(value)
    assert (str(raised.value), raised.value.code) == ("Invalid status", "invalid_status")


def test_requested_status_when_live_then_use_go_live() -> None:
    with pytest.raises(UseGoLive) as raised:
        requested_status("live")
    assert (str(raised.value), raised.value.code) == ("Use go-live approval to set live", "use_go_live")


@pytest.mark.parametrize("value", ["disabled", "paper", "halted"])
def test_requested_status_when_operator_status_then_accepted(value: str) -> None:
    assert requested_status(value) is StrategyStatus(value)


def test_catalogue_when_read_then_five_strategies_with_seed_statuses() -> None:
    assert {i.id for i in CATALOGUE} == set(INITIAL_STRATEGY_MODES)
    initial = {i.id: i.initial_status for i in CATALOGUE}
    assert initial == {"bonding": S.PAPER, "weather": S.PAPER, "xv_signal": S.DISABLED,
                       "smart_money": S.DISABLED, "resolution": S.DISABLED}
    assert find_strategy("bonding_barbell") == find_strategy("bonding")
    assert find_strategy("nope") is None


def test_set_status_when_changed_then_one_event_with_actor_and_reason() -> None:
    agg = bonding()
    list(agg.collect_events())
    assert agg.set_status(S.HALTED, "token:ops", "drawdown drill", 0, T0) is True
    (ev,) = list(agg.collect_events())
    assert isinstance(ev, Strategy.StatusChanged)
    assert (ev.from_status, ev.to_status, ev.actor, ev.reason, ev.at) == ("paper", "halted", "token:ops",
                                                                         "drawdown drill", T0)


def test_set_status_when_same_status_then_no_event() -> None:
    agg = bonding()
    list(agg.collect_events())
    assert agg.set_status(S.PAPER, "ops", "again", 0, T0) is False
    assert list(agg.collect_events()) == []


def test_set_status_when_live_requested_then_refused_without_event() -> None:
    agg = bonding()
    list(agg.collect_events())
    with pytest.raises(UseGoLive):
        agg.set_status(S.LIVE, "ops", "shortcut", 0, T0)
    assert list(agg.collect_events()) == [] and agg.status(0) is S.PAPER


def test_status_when_go_live_after_last_change_then_live_and_a_later_halt_wins() -> None:
    agg = bonding()
    agg.set_status(S.DISABLED, "ops", "off", 0, T0)
    assert agg.status(went_live_version=3) is S.LIVE  # a go-live the last change did not see
    agg.set_status(S.HALTED, "ops", "stop", 3, T0 + timedelta(minutes=1))
    assert agg.status(3) is S.HALTED and agg.golive_seen == 3
    assert agg.status(5) is S.LIVE  # and a newer go-live makes it live again


def test_status_mode_when_live_then_live_when_paper_then_paper_else_disabled() -> None:
    assert status_mode(S.LIVE) is ExecutionMode.LIVE  # live only comes from go-live, whatever the seed mode
    assert status_mode(S.PAPER) is ExecutionMode.PAPER
    for status in (S.HALTED, S.DISABLED):
        assert status_mode(status) is ExecutionMode.DISABLED


def test_effective_status_when_no_go_live_then_own_status() -> None:
    assert effective_status("halted", 0, 0) is S.HALTED
    assert effective_status("halted", 4, 4) is S.HALTED
    assert effective_status("halted", 4, 6) is S.LIVE


def _view(agg: Strategy) -> tuple[Any, ...]:
    return agg.strategy_id, agg.own_status, agg.golive_seen, agg.changed_by, agg.changed_at, agg.version


class StrategyMachine(RuleBasedStateMachine):
    """Random operator changes and go-lives: never live but by go-live, no self-transition events,
    the status always matches a simple model, and replaying the events rebuilds the aggregate."""

    def __init__(self) -> None:
        super().__init__()
        self.agg = bonding()
        self.history = list(self.agg.collect_events())
        self.went_live = 0
        self.model = S.PAPER
        self.now = T0

    @rule(steps=st.integers(min_value=1, max_value=3))
    def go_live(self, steps: int) -> None:
        self.went_live += steps  # a WentLive at a higher version of the go-live aggregate
        self.model = S.LIVE

    @rule(wanted=st.sampled_from(list(StrategyStatus)), actor=st.sampled_from(["a", "b"]))
    def set_status(self, wanted: StrategyStatus, actor: str) -> None:
        self.now += timedelta(seconds=1)
        before = self.agg.status(self.went_live)
        try:
            changed = self.agg.set_status(wanted, actor, "why", self.went_live, self.now)
        except UseGoLive:
            assert wanted is S.LIVE
            return
        assert changed == (before is not wanted)
        self.model = wanted
        for ev in self.agg.collect_events():
            assert isinstance(ev, Strategy.StatusChanged)
            assert ev.to_status != "live" and ev.from_status != ev.to_status and ev.actor == actor
            self.history.append(ev)

    @invariant()
    def status_matches_model(self) -> None:
        assert self.agg.status(self.went_live) is self.model

    @invariant()
    def replay_equals_live(self) -> None:
        rebuilt = reduce(lambda agg, ev: ev.mutate(agg), self.history, None)
        assert rebuilt is not None and _view(rebuilt) == _view(self.agg)


TestStrategyMachine = StrategyMachine.TestCase
TestStrategyMachine.settings = settings(max_examples=examples(60), stateful_step_count=steps(25), deadline=None)
