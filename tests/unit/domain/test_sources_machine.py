"""Source as a state machine (api-and-security §4.8; ADR 0432): write-once apart from its expiry.

Random clock moves, TTL sweeps and direct expiries: a source expires at most once, at the first expiry; it is due
only while unexpired and past its TTL; a second expiry records nothing; the stored events rebuild the same source.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from paulp.domain.sources import Source
from tests.support.hypothesis_scale import examples, steps
from tests.support.replay import folded, through_store

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone(timedelta(hours=-5)))
PARENT = "src-" + "a" * 32


def _view(source: Source) -> tuple[Any, ...]:
    return (source.id, source.version, source.source_id, source.source_type, source.source_url, source.vendor,
            source.quality, source.evidence_hash, source.blob_stored, source.fetched_at, source.expires_at,
            source.metadata, source.lineage, source.actor, source.expired_at)


class SourceMachine(RuleBasedStateMachine):
    """The model: when the source expires by its TTL, and when it was expired, if it was."""

    @initialize(ttl=st.none() | st.integers(min_value=1, max_value=7200), kind=st.sampled_from(
        ["api_response", "computed", "manual_entry"]), metadata=st.dictionaries(
        st.text(max_size=5), st.none() | st.booleans() | st.integers(-10, 10) | st.text(max_size=5), max_size=3))
    def registered(self, ttl: int | None, kind: str, metadata: dict[str, Any]) -> None:
        self.source = Source.register(source_type=kind, url="https://api.elections.kalshi.com/x", vendor="kalshi",
                                      quality="primary", fetched_at=T0, actor=" ops ", ttl_seconds=ttl,
                                      lineage=[PARENT] if kind == "computed" else [], metadata=metadata)
        self.stored = through_store(self.source.collect_events())
        self.expires_at = None if ttl is None else T0 + timedelta(seconds=ttl)
        self.expired_at: datetime | None = None
        self.now = T0.astimezone(UTC)

    def _collect(self, expired: bool) -> None:
        new = list(self.source.collect_events())
        assert len(new) == expired and all(isinstance(e, Source.Expired) for e in new)
        self.stored += through_store(new)
        if expired:
            self.expired_at = self.now

    @rule(seconds=st.integers(min_value=0, max_value=3600))
    def advance(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @rule()
    def sweep(self) -> None:
        """The TTL sweep: expire the source if it is due (the service's condition)."""
        due = self.source.due_to_expire(self.now)
        assert due is (self.expired_at is None and self.expires_at is not None and self.expires_at <= self.now)
        expired = due and self.source.expire("ttl passed (sweep by ops)", self.now)
        assert expired is due
        self._collect(expired)

    @rule(reason=st.sampled_from(["retracted upstream", ""]))
    def expire(self, reason: str) -> None:
        expired = self.source.expire(reason, self.now)
        assert expired is (self.expired_at is None)
        self._collect(expired)

    @invariant()
    def expired_once_at_most(self) -> None:
        assert self.source.expires_at == self.expires_at
        assert self.source.expired_at == self.expired_at
        assert self.source.version == 1 + (self.expired_at is not None)
        assert not (self.expired_at is not None and self.source.due_to_expire(self.now))

    @invariant()
    def replay_through_the_store_equals_live(self) -> None:
        assert _view(folded(self.stored, Source)) == _view(self.source)


SourceMachine.TestCase.settings = settings(max_examples=examples(50), stateful_step_count=steps(15), deadline=None)
TestSourceMachine = SourceMachine.TestCase
