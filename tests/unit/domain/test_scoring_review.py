"""Human override of a scoring run (llm-routing §8.3, ``LlmScoringOverriddenByHuman``; ADR 0425)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.llm_records import InvalidOverride, ScoringRun
from tests.support.hypothesis_scale import examples, steps

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
MAPPER = make_mapper()


def flagged_run(decision_id: str = "d-1") -> ScoringRun:
    return ScoringRun(decision_id=decision_id, run_type="ambiguity_score", target_entity_type="market",
                      target_entity_id="KXFED", prompt_version="1.0.0", prompt_hash="h", model_id="m",
                      input_hash="i", output={"score": 0.8, "warnings": ["unclear"]}, confidence=0.4,
                      flagged_for_human_review=True, execution_failed=False, input_tokens=None, output_tokens=None,
                      cost_usd=None, created_at=T0, input_text='{"marketTitle":"T"}')


def test_override_when_valid_then_the_score_stands_and_the_flag_is_cleared() -> None:
    run = flagged_run()
    run.collect_events()
    run.override(0.2, "  criteria cite the BLS release  ", "ops-dana", T0 + timedelta(hours=1))
    (event,) = run.collect_events()
    assert type(event) is ScoringRun.OverriddenByHuman
    assert (event.override_score, event.reason, event.actor) == (0.2, "criteria cite the BLS release", "ops-dana")
    assert (run.human_override_score, run.flagged_for_human_review, run.overridden_by) == (0.2, False, "ops-dana")
    assert run.output["score"] == 0.8  # the model's answer is kept as recorded


@pytest.mark.parametrize("score", [-0.01, 1.01, float("nan"), float("inf"), True, "0.5", None])
def test_override_when_score_not_a_number_from_0_to_1_then_invalid_and_nothing_recorded(score: Any) -> None:
    run = flagged_run()
    run.collect_events()
    with pytest.raises(InvalidOverride) as raised:
        run.override(score, "why", "ops", T0)
    assert raised.value.code == "INVALID_OVERRIDE"
    assert run.collect_events() == [] and run.flagged_for_human_review and run.human_override_score is None


@pytest.mark.parametrize(("reason", "actor"), [("", "ops"), ("   ", "ops"), ("why", ""), ("why", None),
                                                ("x" * 2001, "ops"), ("a\x00b", "ops"), ("why", "o\x00ps")])
def test_override_when_reason_or_actor_blank_or_too_long_then_invalid(reason: Any, actor: Any) -> None:
    with pytest.raises(InvalidOverride):
        flagged_run().override(0.5, reason, actor, T0)


def test_override_when_given_0_or_1_then_accepted() -> None:
    run = flagged_run()
    run.override(0, "no ambiguity", "ops", T0)
    run.override(1, "on reflection, fully ambiguous", "ops", T0)  # a correction: the latest stands
    assert run.human_override_score == 1.0


class ScoringReviewMachine(RuleBasedStateMachine):
    """Random overrides: a refused one records nothing; once any is accepted the run no longer awaits review and
    holds the latest accepted score; replay through the store's transcoder rebuilds the live run."""

    def __init__(self) -> None:
        super().__init__()
        self.run = flagged_run()
        self.history = list(self.run.collect_events())
        self.accepted: list[float] = []
        self.now = T0

    @rule(score=st.one_of(st.floats(min_value=-0.5, max_value=1.5), st.sampled_from([0.0, 1.0, float("nan")])),
          reason=st.sampled_from(["why", "", "  "]), actor=st.sampled_from(["ops", "ops-dana", " "]))
    def override(self, score: float, reason: str, actor: str) -> None:
        legal = 0 <= score <= 1 and reason.strip() != "" and actor.strip() != ""
        self.now += timedelta(minutes=1)
        try:
            self.run.override(score, reason, actor, self.now)
        except InvalidOverride:
            assert not legal
        else:
            assert legal
            self.accepted.append(score)
        self.history += self.run.collect_events()

    @invariant()
    def flag_and_score_follow_the_accepted_overrides(self) -> None:
        assert self.run.flagged_for_human_review is (not self.accepted)
        assert self.run.human_override_score == (self.accepted[-1] if self.accepted else None)

    @invariant()
    def transcoded_replay_equals_live(self) -> None:
        events = [MAPPER.to_domain_event(MAPPER.to_stored_event(e)) for e in self.history]
        rebuilt = reduce(lambda agg, ev: ev.mutate(agg), events, None)
        assert rebuilt is not None and vars(rebuilt) == vars(self.run)


TestScoringReviewMachine = ScoringReviewMachine.TestCase
TestScoringReviewMachine.settings = settings(max_examples=examples(40), stateful_step_count=steps(15), deadline=None)
