"""PositionRebuild as a state machine (trading §7 "Rebuild", §8 DR step 4; ADR 0415, 0450): the venue and the
internal book drift apart at random, and an operator tries to adopt the venue's positions under random conditions.

A refused adoption raises its ``RebuildRefused`` and records nothing; a matching book records nothing; an accepted
one records ``Started`` and one ``Adjusted`` per drifted key (venue - internal, with the venue's cost when usable),
after which internal positions equal the venue's exactly. A recorded rebuild is never changed afterwards, and its
stored events rebuild it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from paulp.domain.orchestration import reconciliation_result
from paulp.domain.position_rebuild import (
    MAX_READ_AGE,
    BreakerNotHalted,
    OperatorRequired,
    PositionAdjustment,
    PositionRebuild,
    RebuildRefused,
    StaleVenueRead,
    VenueEvidenceMissing,
    adjusted_positions,
    usable_cost,
)
from paulp.domain.reconciliation import ZERO, Position, PositionKey, RunStatus, reconcile
from tests.support.hypothesis_scale import examples, steps
from tests.support.replay import folded, through_store

T0 = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
KEYS: list[PositionKey] = [("KXHIGHNY-26NOV27-T50", "YES"), ("KXHIGHNY-26NOV27-T50", "NO"), ("KXBTC-26NOV27", "YES")]
keys = st.sampled_from(KEYS)
sizes = st.one_of(st.just(ZERO), st.decimals(min_value=0, max_value=500, places=2))
costs = st.dictionaries(keys, st.sampled_from([Decimal(-5), ZERO, Decimal(1), Decimal("4500.5"), Decimal(10**6)]),
                        max_size=3)


def _book(sizes_by_key: dict[PositionKey, Decimal]) -> list[Position]:
    return [Position(m, s, n) for (m, s), n in sorted(sizes_by_key.items()) if n != ZERO]


def _view(rebuild: PositionRebuild) -> tuple[Any, ...]:
    return (rebuild.id, rebuild.version, rebuild.rebuild_id, rebuild.venue, rebuild.operator, rebuild.reason,
            rebuild.breaker_state, rebuild.venue_read_at, rebuild.evidence_hashes, rebuild.comparison, rebuild.at,
            rebuild.adjustments)


class PositionRebuildMachine(RuleBasedStateMachine):
    """The model: internal and venue sizes per key, and every rebuild recorded with its view when recorded."""

    @initialize()
    def start(self) -> None:
        self.internal: dict[PositionKey, Decimal] = {}
        self.venue: dict[PositionKey, Decimal] = {}
        self.rebuilds: list[tuple[PositionRebuild, tuple[Any, ...], list[Any]]] = []
        self.now = T0

    @rule(key=keys, size=sizes)
    def venue_moves(self, key: PositionKey, size: Decimal) -> None:
        """A fill the log never got, or a backup restored behind the venue: the venue says ``size``."""
        self.venue[key] = size

    @rule(key=keys, size=sizes)
    def internal_moves(self, key: PositionKey, size: Decimal) -> None:
        self.internal[key] = size

    @rule(age=st.integers(min_value=0, max_value=120), venue_costs=costs,
          minutes=st.integers(min_value=1, max_value=30), operator=st.sampled_from([" ops-ann ", "ops-bob"]))
    def adopt(self, age: int, venue_costs: dict[PositionKey, Decimal], minutes: int, operator: str) -> None:
        """In HALT, with a fresh evidenced read and an operator: the venue's book is adopted (or nothing drifted)."""
        self._adopt("HALT", operator, "DR drill: restored from the 06:00 backup", age, True, venue_costs, minutes)

    @rule(breaker=st.sampled_from(["HALT", "NORMAL", "RECOVERY", "halt"]),
          operator=st.sampled_from([" ops-ann ", "ops-bob", "ops-cy", "  ", "x" * 1001]),
          reason=st.sampled_from(["DR drill", "restore lagged", "x" * 1000, "", "a\x00b"]),
          age=st.integers(min_value=-30, max_value=200),
          evidence=st.booleans(), minutes=st.integers(min_value=1, max_value=30))
    def adopt_under_any_conditions(self, breaker: str, operator: str, reason: str, age: int, evidence: bool,
                                   minutes: int) -> None:
        self._adopt(breaker, operator, reason, age, evidence, {}, minutes)

    def _adopt(self, breaker: str, operator: str, reason: str, age: int, evidence: bool,
               venue_costs: dict[PositionKey, Decimal], minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        read_at = self.now - timedelta(seconds=age)
        internal = _book(self.internal)
        run = reconcile(internal, _book(self.venue))
        rebuild_id = f"dr-{len(self.rebuilds) + 1}"
        args: dict[str, Any] = {
            "rebuild_id": rebuild_id, "venue": "kalshi", "run": run,
            "comparison": reconciliation_result(run, self.now), "evidence_hashes": ["ab" * 32] if evidence else [],
            "read_at": read_at, "breaker_state": breaker, "operator": operator, "reason": reason, "now": self.now,
            "costs": venue_costs}
        refusal: type[RebuildRefused] | None = None  # the first failure wins, in the order the service checks
        if not operator.strip() or len(operator.strip()) > 1000 or not reason.strip() or "\x00" in reason:
            refusal = OperatorRequired
        elif breaker != "HALT":
            refusal = BreakerNotHalted
        elif not evidence:
            refusal = VenueEvidenceMissing
        elif not timedelta(0) <= self.now - read_at <= MAX_READ_AGE:
            refusal = StaleVenueRead
        if refusal is not None:
            with pytest.raises(refusal):
                PositionRebuild.adopt(**args)
            return
        rebuild = PositionRebuild.adopt(**args)
        drifted = {k: self.venue.get(k, ZERO) - self.internal.get(k, ZERO) for k in KEYS}
        drifted = {k: c for k, c in drifted.items() if c != ZERO}
        if not drifted:
            assert rebuild is None
            return
        assert rebuild is not None and rebuild.id == PositionRebuild.create_id(rebuild_id)
        assert rebuild.operator == operator.strip() and rebuild.breaker_state == "HALT"
        assert rebuild.adjustments == [
            PositionAdjustment(m, s, self.internal.get((m, s), ZERO), self.venue.get((m, s), ZERO), c,
                               usable_cost(venue_costs.get((m, s)), self.venue[m, s]) if c > ZERO else None)
            for (m, s), c in sorted(drifted.items())]
        events = list(rebuild.collect_events())
        assert [type(e) for e in events] == [PositionRebuild.Started] + [PositionRebuild.Adjusted] * len(drifted)
        after = adjusted_positions(internal, rebuild.adjustments)
        assert after == _book(self.venue)
        assert reconcile(after, _book(self.venue)).status is RunStatus.OK
        self.internal = {p.key: p.size for p in after}
        stored = through_store(events)
        self.rebuilds.append((rebuild, _view(rebuild), stored))

    @invariant()
    def recorded_rebuilds_never_change(self) -> None:
        for rebuild, when_recorded, _ in self.rebuilds:
            assert list(rebuild.collect_events()) == []
            assert _view(rebuild) == when_recorded
            assert rebuild.version == 1 + len(rebuild.adjustments) and rebuild.adjustments
            assert all(a.contracts == a.venue_size - a.internal_size != ZERO for a in rebuild.adjustments)

    @invariant()
    def replay_through_the_store_equals_live(self) -> None:
        for rebuild, _, stored in self.rebuilds:
            assert _view(folded(stored, PositionRebuild)) == _view(rebuild)


PositionRebuildMachine.TestCase.settings = settings(max_examples=examples(60), stateful_step_count=steps(20),
                                                    deadline=None)
TestPositionRebuildMachine = PositionRebuildMachine.TestCase
