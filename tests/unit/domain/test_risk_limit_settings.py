"""The operator's risk limits row (trading §3.2; ADR 0379): partial merge, bounds per field, tightening at once,
loosening only through a second operator's approval, and nothing recorded on any refusal."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.gate_checks import risk_limit_problems
from paulp.domain.risk_limit_settings import (
    InvalidRiskLimit,
    LooseningNeedsApproval,
    ProposalRefused,
    RiskLimitSettings,
    limit_changes,
    limit_name,
)
from paulp.domain.risk_limits import DEFAULT_LIMITS, UnknownRiskLimit, adjusted_limits
from tests.support.hypothesis_scale import examples, steps

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
# Written from the spec's table, apart from the code: which way each limit gets stricter.
STRICTER_WHEN_LOWER = {"maxPositionPct", "maxConcentrationPct", "maxMarketExposurePct", "maxCategoryExposurePct",
                       "maxDailyLossPct", "maxDrawdownPct", "maxWeeklyLossPct", "maxVpin", "maxSpread",
                       "maxAmbiguityScore", "maxPriceStalenessSeconds", "maxOrderSize", "slippageKillThresholdPct"}
STRICTER_WHEN_HIGHER = {"minLiquidity", "minTimeToSettlementHours", "minOrderSize"}


def _stricter_or_equal(name: str, new: Any, old: Any) -> bool:
    if name == "allowedEquivalenceGrades":
        return set(new) <= set(old)
    return new <= old if name in STRICTER_WHEN_LOWER else new >= old


def test_limit_name_when_either_spelling_then_the_spec_name() -> None:
    assert limit_name("max_position_pct") == limit_name("maxPositionPct") == "maxPositionPct"


@pytest.mark.parametrize("name", ["stop_loss_pct", "haltTimeoutMinutes", "max_tail_herfindahl"])
def test_limit_name_when_row_field_read_as_a_constant_then_refused_naming_its_reader(name: str) -> None:
    with pytest.raises(UnknownRiskLimit, match="read as a constant by"):
        limit_name(name)


@pytest.mark.parametrize("changes,message", [
    ({}, "no limit to change"),
    ({"maxPositionPct": 0}, r"\(0, 100\]"),
    ({"maxPositionPct": 100.5}, r"\(0, 100\]"),
    ({"maxPositionPct": True}, "finite number"),
    ({"maxPositionPct": "4"}, "finite number"),
    ({"maxDrawdownPct": float("nan")}, "finite number"),
    ({"maxVpin": 1.2}, r"\(0, 1\]"),
    ({"maxSpread": 1}, r"\(0, 1\)"),
    ({"minOrderSize": -1}, "> 0"),
    ({"allowedEquivalenceGrades": []}, "non-empty list"),
    ({"allowedEquivalenceGrades": ["identical", "close_enough"]}, "non-empty list"),
    ({"maxPositionPct": 4, "max_position_pct": 3}, "given twice"),
])
def test_limit_changes_when_value_out_of_bounds_then_invalid_risk_limit(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRiskLimit, match=message):
        limit_changes(changes)


def test_update_when_tightening_then_in_force_at_once_with_previous_values_recorded() -> None:
    row = RiskLimitSettings.start()
    version = row.update({"max_position_pct": 4, "minLiquidity": 800}, "ops-dana", "incident 12", T0)
    events = row.collect_events()
    assert version == 1 and row.limits.max_position_pct == 4 and row.limits.min_liquidity == 800
    assert adjusted_limits(row.limits, "CAUTION").max_position_pct == 2  # the breaker still scales on top
    updated = events[-1]
    assert isinstance(updated, RiskLimitSettings.Updated)
    assert (updated.changes, updated.previous) == ({"maxPositionPct": 4.0, "minLiquidity": 800.0},
                                                   {"maxPositionPct": 5.0, "minLiquidity": 500.0})
    assert (updated.actor, updated.reason, updated.updated_at, updated.version) == ("ops-dana", "incident 12", T0, 1)


@pytest.mark.parametrize("changes", [{"maxPositionPct": 6}, {"minOrderSize": 5},
                                     {"allowedEquivalenceGrades": "identical,near_equivalent,not_equivalent"},
                                     {"maxPositionPct": 4, "maxOrderSize": 20000}])
def test_update_when_any_limit_loosened_then_refused_and_nothing_recorded(changes: dict[str, Any]) -> None:
    row = RiskLimitSettings.start()
    row.collect_events()
    with pytest.raises(LooseningNeedsApproval, match="second"):
        row.update(changes, "ops-dana", "more room", T0)
    assert row.collect_events() == [] and row.limits == DEFAULT_LIMITS and row.limits_version == 0


def test_update_when_row_would_break_a_cross_bound_then_refused() -> None:
    row = RiskLimitSettings.start()
    with pytest.raises(InvalidRiskLimit, match="maxDailyLossPct must not exceed maxWeeklyLossPct"):
        row.update({"maxWeeklyLossPct": 2}, "ops-dana", "r", T0)  # daily 3 > weekly 2
    with pytest.raises(InvalidRiskLimit, match="nothing changes"):
        row.update({"maxPositionPct": 5, "allowedEquivalenceGrades": ["near_equivalent", "identical"]}, "o", "r", T0)
    with pytest.raises(InvalidRiskLimit, match="actor required"):
        row.update({"maxPositionPct": 4}, " ", "r", T0)


def test_loosening_when_proposed_then_approved_by_a_second_operator_within_24h() -> None:
    row = RiskLimitSettings.start()
    pid = row.propose({"maxPositionPct": 6, "maxConcentrationPct": 12}, "ops-dana", "more room", T0)
    assert row.limits == DEFAULT_LIMITS and pid == "P1"  # a proposal changes nothing
    with pytest.raises(ProposalRefused, match="second operator"):
        row.approve(pid, " OPS-DANA ", "self", T0)
    version = row.approve("p1", "ops-erin", "agreed", T0 + timedelta(hours=24))
    assert version == 1 and row.limits.max_position_pct == 6 and row.limits.max_concentration_pct == 12
    updated = row.collect_events()[-1]
    assert (updated.actor, updated.proposed_by, updated.proposal_id) == ("ops-erin", "ops-dana", "P1")
    with pytest.raises(ProposalRefused, match="already approved"):
        row.approve(pid, "ops-finn", "again", T0)


def test_approve_when_expired_stale_or_unknown_then_refused_and_nothing_recorded() -> None:
    row = RiskLimitSettings.start()
    late = row.propose({"maxOrderSize": 12000}, "ops-dana", "r", T0)
    stale = row.propose({"maxVpin": 0.6}, "ops-dana", "r", T0)
    row.update({"maxPositionPct": 4}, "ops-erin", "tighten", T0)
    row.collect_events()
    with pytest.raises(ProposalRefused, match="expired"):
        row.approve(late, "ops-erin", "r", T0 + timedelta(hours=24, seconds=1))
    with pytest.raises(ProposalRefused, match="changed since"):
        row.approve(stale, "ops-erin", "r", T0)
    with pytest.raises(ProposalRefused, match="no proposal"):
        row.approve("P9", "ops-erin", "r", T0)
    with pytest.raises(ProposalRefused, match="loosens nothing"):
        row.propose({"maxPositionPct": 3}, "ops-dana", "r", T0)
    assert row.collect_events() == [] and row.limits.max_order_size == 10000 and row.pending(T0) == {}


@given(st.dictionaries(st.sampled_from(sorted(STRICTER_WHEN_LOWER | STRICTER_WHEN_HIGHER)),
                       st.floats(min_value=0.001, max_value=30000), min_size=1, max_size=4))
def test_update_property_when_accepted_then_no_limit_looser_and_row_within_bounds(changes: dict[str, float]) -> None:
    row = RiskLimitSettings.start()
    before = DEFAULT_LIMITS.to_json()
    try:
        row.update(changes, "ops", "r", T0)
    except (InvalidRiskLimit, LooseningNeedsApproval):
        assert row.limits == DEFAULT_LIMITS
        return
    after = row.limits.to_json()
    assert all(_stricter_or_equal(k, after[k], before[k]) for k in after)
    assert risk_limit_problems(after) == []


NAMES = sorted(STRICTER_WHEN_LOWER | STRICTER_WHEN_HIGHER)
VALUES = st.one_of(st.floats(min_value=-1, max_value=20000), st.sampled_from([0.5, 1, 3, 5, 10, 50, 100]),
                   st.just(float("inf")), st.booleans())


class RiskLimitsMachine(RuleBasedStateMachine):
    """Random tightenings, loosenings, proposals and approvals (good and bad): a refusal changes nothing and records
    nothing, the row always passes P4's bounds, a direct update never loosens, a loosening is in force only with a
    second operator's approval, and the transcoded events rebuild the live aggregate."""

    def __init__(self) -> None:
        super().__init__()
        self.now, self.mapper = T0, make_mapper()
        self.row = RiskLimitSettings.start()
        self.history: list[Any] = []
        self._record()

    def _record(self) -> list[Any]:
        events = self.row.collect_events()
        self.history += [self.mapper.to_domain_event(self.mapper.to_stored_event(e)) for e in events]
        return events

    def _attempt(self, command: Any, *args: Any) -> Any:
        before, limits = copy.deepcopy(vars(self.row)), self.row.limits.to_json()
        try:
            result = command(*args)
        except (InvalidRiskLimit, UnknownRiskLimit, LooseningNeedsApproval, ProposalRefused):
            assert vars(self.row) == before and self._record() == []
            return None
        events = self._record()
        if not events:  # only a repeated proposal records nothing (ADR 0517): the row is untouched
            assert command.__name__ == "propose" and vars(self.row) == before
            return limits, None, result
        assert len(events) == 1
        return limits, events[0], result

    @rule(hours=st.integers(min_value=0, max_value=30))
    def advance(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

    @rule(changes=st.dictionaries(st.sampled_from(NAMES), VALUES, min_size=1, max_size=3),
          actor=st.sampled_from(["ops-dana", "ops-erin", ""]))
    def update(self, changes: dict[str, Any], actor: str) -> None:
        done = self._attempt(self.row.update, changes, actor, "r", self.now)
        if done is not None:
            before, event, _ = done
            assert all(_stricter_or_equal(k, v, before[k]) for k, v in event.changes.items())
            assert event.proposal_id is None and event.actor == actor

    @rule(changes=st.dictionaries(st.sampled_from(NAMES), VALUES, min_size=1, max_size=3),
          actor=st.sampled_from(["ops-dana", "ops-erin"]))
    def propose(self, changes: dict[str, Any], actor: str) -> None:
        waiting = {pid: dict(p["changes"]) for pid, p in self.row.pending(self.now).items()}
        done = self._attempt(self.row.propose, changes, actor, "r", self.now)
        if done is not None and done[1] is None:  # the same changes already wait for approval: that proposal
            assert done[2] in waiting
            return
        if done is not None:
            before, event, _ = done
            assert done[2] not in waiting
            assert not all(_stricter_or_equal(k, v, before[k]) for k, v in event.changes.items())

    @rule(n=st.integers(min_value=1, max_value=6), actor=st.sampled_from(["ops-dana", "ops-erin", "OPS-ERIN"]))
    def approve(self, n: int, actor: str) -> None:
        proposal = next((e for e in self.history if isinstance(e, RiskLimitSettings.LooseningProposed)
                         and e.proposal_id == f"P{n}"), None)
        done = self._attempt(self.row.approve, f"P{n}", actor, "agreed", self.now)
        if done is not None:
            assert proposal is not None and actor.casefold() != proposal.actor.casefold()
            assert self.now <= proposal.expires_at and done[1].version == proposal.base_version + 1
            assert done[1].changes == proposal.changes and done[1].proposed_by == proposal.actor

    @invariant()
    def row_is_legal(self) -> None:
        updates = [e for e in self.history if isinstance(e, RiskLimitSettings.Updated)]
        assert self.row.limits_version == len(updates) == (updates[-1].version if updates else 0)
        merged = reduce(lambda acc, e: {**acc, **e.changes}, updates, DEFAULT_LIMITS.to_json())
        assert self.row.limits.to_json() == merged and risk_limit_problems(merged) == []

    @invariant()
    def replay_equals_live(self) -> None:
        rebuilt = reduce(lambda agg, ev: ev.mutate(agg), self.history, None)
        assert rebuilt is not None and vars(rebuilt) == vars(self.row)


TestRiskLimitsMachine = RiskLimitsMachine.TestCase
TestRiskLimitsMachine.settings = settings(max_examples=examples(60), stateful_step_count=steps(30), deadline=None)
