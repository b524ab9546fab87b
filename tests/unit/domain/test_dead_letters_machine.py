"""DeadLetter as a state machine (api-and-security §7.2 resolution; ADR 0398): random replay attempts.

A dead letter is replayed at most once: the first replay with a named operator and a reason is recorded, every
later one raises ``ReplayRefused``, a blank operator or reason raises ``InvalidReplay``, and neither records
anything; the stored events rebuild the same letter.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from paulp.domain.dead_letters import MAX_ERROR_CHARS, DeadLetter, InvalidReplay, ReplayRefused
from tests.support.hypothesis_scale import examples, steps
from tests.support.replay import folded, through_store

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
names = st.sampled_from(["ops-ann", "ops-bob", " ", "", "ops\x00"])


def _view(letter: DeadLetter) -> tuple[Any, ...]:
    return letter.id, letter.version, letter.consumer, letter.notification_id, letter.topic, letter.replayed_by


class DeadLetterMachine(RuleBasedStateMachine):
    """The model: who replayed the letter, if anyone."""

    @initialize(consumer=st.sampled_from(["positions", "trades", "audit-mirror"]),
                notification_id=st.integers(min_value=1, max_value=2**53),
                error=st.text(max_size=40).map(lambda s: s * 60), attempts=st.integers(min_value=1, max_value=5))
    def dead_lettered(self, consumer: str, notification_id: int, error: str, attempts: int) -> None:
        self.letter = DeadLetter.record(consumer, f"paulp.events.{consumer}", 7, notification_id, "x:Y", error,
                                        attempts, 3, T0)
        assert self.letter.id == DeadLetter.create_id(consumer, notification_id)
        [created] = self.letter.collect_events()
        assert isinstance(created, DeadLetter.MessageDeadLettered)
        assert created.error == error[:MAX_ERROR_CHARS]
        self.stored = through_store([created])
        self.replayed_by: str | None = None
        self.now = T0

    @rule(actor=names, reason=st.sampled_from(["fixed the projector", "", " \t"]),
          minutes=st.integers(min_value=0, max_value=600))
    def replay(self, actor: str, reason: str, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        before = _view(self.letter)
        if self.replayed_by is not None:
            with pytest.raises(ReplayRefused) as refused:
                self.letter.replay(actor, reason, self.now)
            assert refused.value.code == "dead_letter_already_replayed"
            assert list(self.letter.collect_events()) == [] and _view(self.letter) == before
            return
        if not actor.strip() or not reason.strip() or "\x00" in actor:
            with pytest.raises(InvalidReplay) as invalid:
                self.letter.replay(actor, reason, self.now)
            assert invalid.value.code == "dead_letter_replay_invalid"
            assert list(self.letter.collect_events()) == [] and _view(self.letter) == before
            return
        self.letter.replay(actor, reason, self.now)
        [ev] = self.letter.collect_events()
        assert isinstance(ev, DeadLetter.Replayed) and (ev.actor, ev.reason, ev.at) == (actor, reason, self.now)
        self.stored.extend(through_store([ev]))
        self.replayed_by = actor

    @invariant()
    def replayed_at_most_once(self) -> None:
        assert self.letter.replayed_by == self.replayed_by
        assert self.letter.version == 1 + (self.replayed_by is not None)

    @invariant()
    def replay_through_the_store_equals_live(self) -> None:
        assert _view(folded(self.stored, DeadLetter)) == _view(self.letter)


DeadLetterMachine.TestCase.settings = settings(max_examples=examples(40), stateful_step_count=steps(8), deadline=None)
TestDeadLetterMachine = DeadLetterMachine.TestCase
