"""ClosingLine as a state machine (trading §4.2-4.3; ADR 0419): random observations, some stale, and closes.

The line keeps only newer observations, and only until it is estimated; it is estimated once, from exactly the
observations it kept, at the last close time it was told (else when the outcome was seen); a refused observation
or a second close records nothing; the stored events rebuild the same line.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from paulp.domain.closing_lines import ClosingLine
from paulp.domain.clv import ClosingLineEstimate, Observation, estimate_closing_line, infer_market_class
from tests.support.hypothesis_scale import examples, steps
from tests.support.replay import folded, through_store

T0 = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
CLOSES = [None, T0 + timedelta(minutes=30), T0 + timedelta(minutes=90),
          datetime(2026, 11, 27, 16, 0, tzinfo=timezone(timedelta(hours=-5)))]  # the first close, in New York
CATEGORIES = [None, "", "Politics", "Sports", "Weather", "Crypto", "Mentions", "Economics"]
unit = st.floats(min_value=0, max_value=1, allow_nan=False)
depth = st.floats(min_value=0, max_value=2000, allow_nan=False)
spread = st.floats(min_value=0, max_value=0.3, allow_nan=False)


def _view(line: ClosingLine) -> tuple[Any, ...]:
    return (line.id, line.version, line.ticker, line.observations, line.close_time, line.category, line.estimate,
            line.resolution_time)


class ClosingLineMachine(RuleBasedStateMachine):
    """The model: the observations kept, the last close time and category given, and the estimate once made."""

    @initialize(ticker=st.sampled_from(["KXHIGHNY-26NOV27-T50", "KXBTC-26NOV27", "PRES-28"]))
    def start(self, ticker: str) -> None:
        self.line = ClosingLine(ticker=ticker)
        assert self.line.id == ClosingLine.create_id(ticker)
        self.stored = through_store(self.line.collect_events())
        self.kept: list[Observation] = []
        self.close_time: datetime | None = None
        self.category: str | None = None
        self.estimate: ClosingLineEstimate | None = None
        self.resolution: datetime | None = None
        self.now = T0

    def _collect(self) -> list[Any]:
        new = list(self.line.collect_events())
        self.stored += through_store(new)
        return new

    @rule(step=st.integers(min_value=-90, max_value=600), mid=unit, depth_yes=depth, depth_no=depth,
          spread=spread, close_time=st.sampled_from(CLOSES), category=st.sampled_from(CATEGORIES),
          evidence=st.sampled_from([None, "ab" * 32]))
    def observe(self, step: int, mid: float, depth_yes: float, depth_no: float, spread: float,
                close_time: datetime | None, category: str | None, evidence: str | None) -> None:
        """A book read ``step`` seconds after the last one kept (negative or zero: a stale or repeated read)."""
        at = (self.kept[-1].timestamp if self.kept else T0) + timedelta(seconds=step)
        observation = Observation(at, mid, depth_yes, depth_no, spread)
        newer = not self.kept or at > self.kept[-1].timestamp
        recorded = self.line.observe(observation, close_time, category, evidence)
        new = self._collect()
        assert recorded is (self.estimate is None and newer)
        if not recorded:
            assert new == []
            return
        [ev] = new
        assert isinstance(ev, ClosingLine.Observed) and ev.evidence_hash == evidence
        self.kept.append(observation)
        self.close_time = close_time or self.close_time
        self.category = category or self.category

    @rule(hours=st.integers(min_value=0, max_value=48))
    def close(self, hours: int) -> None:
        """The outcome is seen ``hours`` after the first read; the line is estimated at most once."""
        resolved_at = T0 + timedelta(hours=hours)
        self.now += timedelta(minutes=7)
        estimate = self.line.close(resolved_at, self.now)
        new = self._collect()
        if self.estimate is not None:
            assert new == [] and estimate == self.estimate
            return
        self.resolution = self.close_time or resolved_at
        expected = estimate_closing_line(self.kept, infer_market_class(self.category), self.resolution)
        [ev] = new
        assert isinstance(ev, ClosingLine.Estimated) and ev.at == self.now
        assert estimate == expected
        self.estimate = estimate

    @invariant()
    def state_is_the_models(self) -> None:
        line = self.line
        assert line.observations == self.kept
        assert all(a.timestamp < b.timestamp for a, b in zip(self.kept, self.kept[1:], strict=False))
        assert (line.close_time, line.category) == (self.close_time, self.category)
        assert (line.estimate, line.resolution_time) == (self.estimate, self.resolution)
        if line.estimate is not None:
            e = line.estimate
            assert e.observation_count == len(self.kept) and 0 <= e.valid_observation_count <= len(self.kept)
            assert 0 <= e.quality_score <= 1 and 0 <= e.closing_line_price <= 1
        assert line.version == 1 + len(self.kept) + (self.estimate is not None)

    @invariant()
    def replay_through_the_store_equals_live(self) -> None:
        assert _view(folded(self.stored, ClosingLine)) == _view(self.line)


ClosingLineMachine.TestCase.settings = settings(max_examples=examples(60), stateful_step_count=steps(20), deadline=None)
TestClosingLineMachine = ClosingLineMachine.TestCase
