"""Per-strategy execution policies (trading §5.1, §9; ADR 0380): seeded from the mode's column, shallow merge with
trading hours field by field, per mode, versioned, DISABLED fixed, nothing recorded on a refusal."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from functools import reduce
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.execution import RateLimitState, evaluate_execution
from paulp.domain.execution_orders import ExecutionRequest, ExecutionSignal, MarketSnapshot, Side
from paulp.domain.execution_policies import (
    InvalidExecutionPolicy,
    StrategyExecutionPolicy,
    policy_changes,
    policy_json,
)
from paulp.domain.execution_policy import POLICIES, ExecutionMode, policy_for_mode
from tests.support.hypothesis_scale import examples, steps

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday, inside LIVE's 13-21 UTC


def test_policy_when_nothing_stored_then_each_mode_is_its_spec_column() -> None:
    row = StrategyExecutionPolicy.register("bonding", "kalshi")
    assert all(row.policy(m) == POLICIES[m] for m in ExecutionMode) and row.policy_version == 0


def test_update_when_hours_partly_changed_then_merged_field_by_field_and_version_bumped() -> None:
    row = StrategyExecutionPolicy.register("weather", "Kalshi")
    assert row.update("live", {"maxSingleOrderSize": 20, "tradingHours": {"endHourUtc": 20}}, "ops-dana", "r", T0) == 1
    assert row.update("LIVE", {"tradingHours": {"tradingDays": [5, 1, 1]}}, "ops-dana", "r", T0) == 2
    live = row.policy(ExecutionMode.LIVE)
    assert (live.max_single_order_size, live.trading_hours.start_hour_utc, live.trading_hours.end_hour_utc,
            live.trading_hours.trading_days) == (20, 13, 20, frozenset({1, 5}))
    assert row.policy(ExecutionMode.PAPER) == POLICIES[ExecutionMode.PAPER]  # the other mode is untouched
    last = row.collect_events()[-1]
    assert (last.mode, last.changes, last.previous, last.version) == (
        "LIVE", {"tradingHours": {"tradingDays": [1, 5]}}, {"tradingHours": {"tradingDays": [1, 2, 3, 4, 5]}}, 2)


def test_update_when_max_single_order_size_tightened_then_the_engine_refuses_a_larger_order() -> None:
    row = StrategyExecutionPolicy.register("bonding", "kalshi")
    row.update("PAPER", {"maxSingleOrderSize": 10}, "ops-dana", "incident", T0)
    request = ExecutionRequest("o-1", ExecutionSignal("KXA", Side.YES, 0.6, 0.42, 0.18, 0.8), 50, 42,
                               source="bonding")
    market = MarketSnapshot(ticker="KXA", yes_bid=41, yes_ask=42, no_bid=58, no_ask=59, volume_24h=50_000)
    before = evaluate_execution(request, market, policy_for_mode(ExecutionMode.PAPER), RateLimitState(), T0)
    after = evaluate_execution(request, market, row.policy(ExecutionMode.PAPER), RateLimitState(), T0)
    assert before.approved and not after.approved and "10" in (after.rejection_reason or "")


@pytest.mark.parametrize("mode,changes,message", [
    ("DISABLED", {"maxOrdersPerMinute": 1}, "DISABLED's policy is fixed"),
    ("SHADOW", {"maxOrdersPerMinute": 1}, "PAPER or LIVE"),
    ("LIVE", {}, "no policy field"),
    ("LIVE", {"maxOrders": 1}, "unknown policy field"),
    ("LIVE", {"requireRiskApproval": False}, "always true"),
    ("LIVE", {"maxOrdersPerMinute": -1}, "whole number"),
    ("LIVE", {"maxOrdersPerMinute": 1.5}, "whole number"),
    ("LIVE", {"maxSingleOrderSize": True}, "whole number"),
    ("LIVE", {"paperTradeSlippage": 99}, "whole number"),
    ("LIVE", {"minOrderSpacingMs": float("inf")}, "finite"),
    ("LIVE", {"blockedTickers": [1]}, "list"),
    ("LIVE", {"tradingHours": {"startHourUtc": 24}}, "whole number"),
    ("LIVE", {"tradingHours": {"startHourUtc": 21}}, "must be before"),
    ("LIVE", {"tradingHours": {"enabled": "yes"}}, "true or false"),
    ("LIVE", {"tradingHours": {"days": [1]}}, "unknown tradingHours"),
    ("LIVE", {"tradingHours": {"tradingDays": [7]}}, "whole number"),
    ("LIVE", {"tradingHours": {"blackoutPeriods": [{"name": "x", "start": "2026-03-02T10:00:00",
                                                     "end": "2026-03-02T11:00:00+00:00", "reason": "r"}]}}, "offset"),
    ("LIVE", {"maxSingleOrderSize": 50}, "nothing changes"),
])
def test_update_when_input_bad_then_refused_and_nothing_recorded(mode: str, changes: dict[str, Any],
                                                                 message: str) -> None:
    row = StrategyExecutionPolicy.register("bonding", "kalshi")
    row.collect_events()
    with pytest.raises(InvalidExecutionPolicy, match=message):
        row.update(mode, changes, "ops-dana", "r", T0)
    assert row.collect_events() == [] and row.policy_version == 0 and row.overrides == {}


def test_register_when_strategy_or_venue_unknown_then_refused() -> None:
    with pytest.raises(InvalidExecutionPolicy, match="unknown strategy"):
        StrategyExecutionPolicy.register("momentum", "kalshi")
    with pytest.raises(InvalidExecutionPolicy, match="unknown venue"):
        StrategyExecutionPolicy.register("bonding", "polymarket")


def test_policy_json_when_blackout_set_then_round_trips_through_the_merge() -> None:
    row = StrategyExecutionPolicy.register("bonding", "kalshi")
    blackout = {"name": "FOMC", "start": "2026-03-18T18:00:00+00:00", "end": "2026-03-18T19:00:00+00:00",
                "reason": "rate decision"}
    row.update("LIVE", {"tradingHours": {"blackoutPeriods": [blackout]}, "blockedTickers": "KXA, KXB,KXA"}, "o", "r",
               T0)
    shown = policy_json(row.policy(ExecutionMode.LIVE))
    assert shown["tradingHours"]["blackoutPeriods"] == [blackout] and shown["blockedTickers"] == ["KXA", "KXB"]
    assert policy_json(row.policy(ExecutionMode.DISABLED))["minOrderSpacingMs"] == "Infinity"


FIELD_VALUES = {
    "maxOrdersPerMinute": st.integers(min_value=-1, max_value=20),
    "maxSingleOrderSize": st.one_of(st.integers(min_value=0, max_value=200), st.just(2.5)),
    "minOrderSpacingMs": st.one_of(st.integers(min_value=-5, max_value=10_000), st.just(float("nan"))),
    "blockedTickers": st.lists(st.sampled_from(["KXA", "KXB", " "]), max_size=3),
    "tradingHours": st.fixed_dictionaries({}, optional={"startHourUtc": st.integers(min_value=0, max_value=25),
                                                        "endHourUtc": st.integers(min_value=0, max_value=25),
                                                        "enabled": st.booleans()}),
}


class ExecutionPolicyMachine(RuleBasedStateMachine):
    """Random updates (good and bad) to both modes: a refusal records nothing, the version counts the updates,
    each mode's policy equals its §5.1 column with that mode's changes folded over it (an oracle merging the
    events' changes), DISABLED never moves, and the transcoded events rebuild the live aggregate."""

    def __init__(self) -> None:
        super().__init__()
        self.mapper = make_mapper()
        self.row = StrategyExecutionPolicy.register("bonding", "kalshi")
        self.history: list[Any] = []
        self._record()

    def _record(self) -> list[Any]:
        events = self.row.collect_events()
        self.history += [self.mapper.to_domain_event(self.mapper.to_stored_event(e)) for e in events]
        return events

    @rule(mode=st.sampled_from(["PAPER", "LIVE", "DISABLED"]),
          changes=st.fixed_dictionaries({}, optional=FIELD_VALUES))
    def update(self, mode: str, changes: dict[str, Any]) -> None:
        before = copy.deepcopy(vars(self.row))
        try:
            self.row.update(mode, changes, "ops-dana", "r", T0)
        except InvalidExecutionPolicy:
            assert vars(self.row) == before and self._record() == []
            return
        policy_changes(changes)  # accepted input is valid input
        assert mode != "DISABLED" and len(self._record()) == 1

    @invariant()
    def policy_is_the_column_with_its_changes(self) -> None:
        updates = [e for e in self.history if isinstance(e, StrategyExecutionPolicy.Updated)]
        assert self.row.policy_version == len(updates)
        for mode in (ExecutionMode.PAPER, ExecutionMode.LIVE):
            expected = policy_json(POLICIES[mode])
            for e in (u for u in updates if u.mode == mode.value):
                hours = {**expected["tradingHours"], **e.changes.get("tradingHours", {})}
                expected = {**expected, **{k: v for k, v in e.changes.items() if k != "tradingHours"},
                            "tradingHours": hours}
            shown = policy_json(self.row.policy(mode))
            assert shown == expected and shown["tradingHours"]["startHourUtc"] < shown["tradingHours"]["endHourUtc"]
        assert self.row.policy(ExecutionMode.DISABLED) == POLICIES[ExecutionMode.DISABLED]

    @invariant()
    def replay_equals_live(self) -> None:
        rebuilt = reduce(lambda agg, ev: ev.mutate(agg), self.history, None)
        assert rebuilt is not None and vars(rebuilt) == vars(self.row)


TestExecutionPolicyMachine = ExecutionPolicyMachine.TestCase
TestExecutionPolicyMachine.settings = settings(max_examples=examples(60), stateful_step_count=steps(25), deadline=None)


# ------------------------------------------------------- pre-trade thresholds and VPIN bands (ADR 0433)


def test_update_when_pre_trade_thresholds_set_then_policy_and_json_carry_them() -> None:
    row = StrategyExecutionPolicy.register("bonding", "kalshi")
    row.update("PAPER", {"maxSpreadToTrade": 0.05, "minDepthToTrade": 250, "maxVpinToTrade": 0.5,
                         "vpinNormalThreshold": 0.2, "vpinElevatedEdgeMultiplier": 2}, "ops", "thin books", T0)
    paper = row.policy(ExecutionMode.PAPER)
    assert (paper.max_spread_to_trade, paper.min_depth_to_trade, paper.max_vpin_to_trade,
            paper.vpin_normal_threshold, paper.vpin_elevated_edge_multiplier) == (0.05, 250.0, 0.5, 0.2, 2.0)
    assert policy_json(paper)["minDepthToTrade"] == 250.0 and policy_json(paper)["vpinElevatedEdgeMultiplier"] == 2
    assert row.policy(ExecutionMode.LIVE).max_spread_to_trade == 0.08  # per mode


@pytest.mark.parametrize("changes,message", [
    ({"maxSpreadToTrade": 1.5}, "maxSpreadToTrade must be a fraction"),
    ({"minDepthToTrade": -1}, "minDepthToTrade must be US dollars"),
    ({"vpinElevatedEdgeMultiplier": 0.5}, "multiplier of at least 1"),
    ({"maxVpinToTrade": 0.25}, "vpinNormalThreshold (0.3) must be below maxVpinToTrade (0.25)"),
    ({"vpinNormalThreshold": 0.6}, "must be below maxVpinToTrade"),
])
def test_update_when_thresholds_bad_or_bands_crossed_then_refused(changes: dict[str, Any], message: str) -> None:
    row = StrategyExecutionPolicy.register("bonding", "kalshi")
    with pytest.raises(InvalidExecutionPolicy, match=re.escape(message)):
        row.update("PAPER", changes, "ops", "r", T0)
    assert row.policy_version == 0 and not row.collect_events()[1:]
