"""Operator reviews (api-and-security §1.3; ADR 0255): violation ids from risk results, resolve once,
approve a pair once, input validation, and replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from paulp.domain.order_values import RiskCheckResult
from paulp.domain.reviews import (
    AlreadyApproved,
    AlreadyResolved,
    InvalidNotes,
    MarketPair,
    PairTerms,
    ReviewerRequired,
    ViolationResolution,
    blocked_invariants,
    parse_violation_id,
    review_notes,
    reviewer_name,
    risk_violation_id,
)
from tests.support.hypothesis_scale import examples, steps

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TERMS = PairTerms("kalshi", "KXFED-26MAR-T4.25", "polymarket", "0xabc", "identical")


def test_blocked_invariants_when_rejected_then_one_per_invariant_with_names() -> None:
    result = RiskCheckResult(False, violations=("size too big", "too close to settlement"),
                             invariant_ids=("I1_MAX_POSITION_SIZE", "I11_MIN_TIME_TO_SETTLEMENT")).to_dict()
    found = blocked_invariants(result)
    assert [(b.invariant_id, b.name, b.message) for b in found] == [
        ("I1_MAX_POSITION_SIZE", "Max Position Size", "size too big"),
        ("I11_MIN_TIME_TO_SETTLEMENT", "Min Time To Settlement", "too close to settlement"),
    ]


def test_blocked_invariants_when_approved_then_none() -> None:
    assert blocked_invariants(RiskCheckResult(True).to_dict()) == []


def test_blocked_invariants_when_rejection_names_no_invariant_then_one_unspecified_row() -> None:
    (only,) = blocked_invariants(RiskCheckResult(False).to_dict())
    assert (only.invariant_id, only.message) == ("RISK_CHECK", "Risk check failed")
    two = blocked_invariants({"approved": False, "violations": ["a", "b"]})
    assert [b.invariant_id for b in two] == ["RISK_CHECK_1", "RISK_CHECK_2"]


def test_violation_id_when_built_then_parses_back() -> None:
    vid = risk_violation_id("order-0123456789abcdef", "I1_MAX_POSITION_SIZE")
    assert vid == "order-0123456789abcdef:I1_MAX_POSITION_SIZE"
    assert parse_violation_id(vid) == ("order-0123456789abcdef", "I1_MAX_POSITION_SIZE")
    for bad in ("", "nocolon", ":I1", "order-1:"):
        assert parse_violation_id(bad) is None


@pytest.mark.parametrize("value", [None, "", "   ", 7, ["bob"], "x" * 201])
def test_reviewer_name_when_missing_or_not_text_then_validation_error(value: Any) -> None:
    with pytest.raises(ReviewerRequired) as raised:
        reviewer_name(value, "resolver")
    assert raised.value.code == "validation_error"


def test_reviewer_name_when_given_then_trimmed_and_notes_optional() -> None:
    assert reviewer_name("  Dana ", "reviewer") == "Dana"
    assert review_notes(None) is None and review_notes("checked the feed") == "checked the feed"
    with pytest.raises(InvalidNotes):
        review_notes(12)


def test_resolve_when_twice_then_already_resolved_and_first_resolution_stands() -> None:
    agg = ViolationResolution(violation_id="o:I1", order_id="o", invariant_id="I1")
    agg.resolve("dana", "false alarm", "token:ops", T0)
    with pytest.raises(AlreadyResolved):
        agg.resolve("erin", None, "token:other", T0 + timedelta(hours=1))
    assert (agg.resolver, agg.actor, agg.resolved_at) == ("dana", "token:ops", T0)
    kinds = [type(e).__name__ for e in agg.collect_events()]
    assert kinds == ["Opened", "Resolved"]


def test_pair_when_proposed_then_deterministic_id_and_pending_review() -> None:
    pair = MarketPair.propose(TERMS, "scanner", T0)
    assert pair.pair_id == TERMS.pair_id == PairTerms(*vars(TERMS).values()).pair_id
    assert pair.pair_id.startswith("pair-") and pair.status == "pending_review"
    assert MarketPair.create_id(pair.pair_id) == pair.id


def test_pair_approve_when_twice_then_already_approved() -> None:
    pair = MarketPair.propose(TERMS, "scanner", T0)
    pair.approve("dana", None, "token:ops", T0)
    with pytest.raises(AlreadyApproved):
        pair.approve("erin", "again", "token:other", T0)
    assert (pair.status, pair.reviewer, pair.actor) == ("approved", "dana", "token:ops")


class ReviewMachine(RuleBasedStateMachine):
    """Random resolve/approve attempts: each review happens at most once, keeps its first reviewer and
    actor, and replaying the recorded events rebuilds both aggregates."""

    def __init__(self) -> None:
        super().__init__()
        self.violation = ViolationResolution(violation_id="o:I1", order_id="o", invariant_id="I1")
        self.pair = MarketPair.propose(TERMS, "scanner", T0)
        self.v_events = list(self.violation.collect_events())
        self.p_events = list(self.pair.collect_events())
        self.first_resolver: str | None = None
        self.first_reviewer: str | None = None

    @rule(who=st.sampled_from(["dana", "erin"]), actor=st.sampled_from(["a", "b"]))
    def resolve(self, who: str, actor: str) -> None:
        try:
            self.violation.resolve(who, None, actor, T0)
            assert self.first_resolver is None
            self.first_resolver = who
        except AlreadyResolved:
            assert self.first_resolver is not None
        self.v_events += list(self.violation.collect_events())

    @rule(who=st.sampled_from(["dana", "erin"]), actor=st.sampled_from(["a", "b"]))
    def approve(self, who: str, actor: str) -> None:
        try:
            self.pair.approve(who, "ok", actor, T0)
            assert self.first_reviewer is None
            self.first_reviewer = who
        except AlreadyApproved:
            assert self.first_reviewer is not None
        self.p_events += list(self.pair.collect_events())

    @invariant()
    def reviewed_at_most_once(self) -> None:
        assert sum(isinstance(e, ViolationResolution.Resolved) for e in self.v_events) <= 1
        assert sum(isinstance(e, MarketPair.Approved) for e in self.p_events) <= 1
        assert self.violation.resolver == self.first_resolver and self.pair.reviewer == self.first_reviewer

    @invariant()
    def replay_equals_live(self) -> None:
        v = reduce(lambda agg, ev: ev.mutate(agg), self.v_events, None)
        p = reduce(lambda agg, ev: ev.mutate(agg), self.p_events, None)
        assert v is not None and p is not None
        assert (v.resolved, v.resolver, v.actor, v.version) == (self.violation.resolved, self.violation.resolver,
                                                                self.violation.actor, self.violation.version)
        assert (p.status, p.reviewer, p.actor, p.version) == (self.pair.status, self.pair.reviewer,
                                                              self.pair.actor, self.pair.version)


TestReviewMachine = ReviewMachine.TestCase
TestReviewMachine.settings = settings(max_examples=examples(50), stateful_step_count=steps(20), deadline=None)
