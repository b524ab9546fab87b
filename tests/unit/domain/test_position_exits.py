"""PositionExit: its transitions, PnL in USD, identity per exit of an episode, a replaying stateful test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from functools import reduce
from uuid import uuid5

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.errors import DomainError
from paulp.domain.exits import ExitReason
from paulp.domain.namespace import PAULP_NAMESPACE
from paulp.domain.position_exits import ALLOWED, ExitNotAllowed, ExitState, InvalidExit, PositionExit
from tests.support.hypothesis_scale import examples, steps

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
OPENED = T0 - timedelta(hours=3)


def _exit(contracts: int = 40, entry: float = 60.0, observed: float = 57.5, mode: str = "PAPER",
          sequence: int = 0) -> PositionExit:
    return PositionExit.decide("bonding", "KX-A", "YES", OPENED, sequence, contracts, entry, observed,
                               ExitReason.STOP_LOSS_HIT, mode, T0)


def _replay(ex: PositionExit) -> PositionExit:
    events = ex.collect_events()
    mapper = make_mapper()
    decoded = [mapper.to_domain_event(mapper.to_stored_event(e)) for e in events]
    rebuilt = reduce(lambda agg, e: e.mutate(agg), decoded, None)
    assert rebuilt is not None
    return rebuilt


def test_fill_when_stop_hit_then_pnl_in_usd_from_side_prices():
    ex = _exit()
    ex.fill(40, 57.5, T0)
    assert (ex.state, ex.exit_price, ex.contracts) == (ExitState.FILLED, 57.5, 40)
    assert ex.realized_pnl_usd == pytest.approx((57.5 - 60.0) * 40 / 100)


def test_fill_when_partial_then_only_that_size_counts():
    ex = _exit(contracts=40)
    ex.fill(15, 58.0, T0)
    assert ex.contracts == 15 and ex.realized_pnl_usd == pytest.approx(-0.3)


def test_identity_when_same_episode_and_sequence_then_same_id_else_different():
    a = _exit()
    assert a.id == _exit(observed=55.0).id == PositionExit.create_id("bonding", "KX-A", "YES", "PAPER", OPENED, 0)
    assert a.id != _exit(sequence=1).id
    assert a.id != _exit(mode="LIVE").id  # paper and LIVE contracts are separate positions (ADR 0262)
    assert a.id != PositionExit.create_id("bonding", "KX-A", "YES", "PAPER", OPENED + timedelta(seconds=1), 0)
    assert a.id != PositionExit.create_id("bonding", "KX-A", "NO", "PAPER", OPENED, 0)


def test_identity_when_same_instant_read_in_another_zone_then_same_id_as_stored_in_utc():
    # A connection whose session TimeZone is not UTC hands back the same instant as +01:00: one exit, one id.
    paris = OPENED.astimezone(timezone(timedelta(hours=1)))
    stored = uuid5(PAULP_NAMESPACE, f"position-exit/bonding/KX-A/YES/PAPER/{OPENED.isoformat()}/0")
    assert PositionExit.create_id("bonding", "KX-A", "YES", "PAPER", paris, 0) == stored == _exit().id
    with pytest.raises(InvalidExit):
        PositionExit.create_id("bonding", "KX-A", "YES", "PAPER", OPENED.replace(tzinfo=None), 0)


def test_client_order_id_when_redecided_then_a_new_one_for_the_new_attempt():
    ex = _exit(mode="LIVE")
    first = ex.client_order_id
    ex.fail("venue answered canceled with nothing filled", T0)
    ex.redecide(40, 56.0, ExitReason.STOP_LOSS_HIT, T0 + timedelta(minutes=5))
    assert ex.client_order_id != first and ex.attempt == 2 and ex.state is ExitState.DECIDED
    assert len(ex.client_order_id) <= 32 and ex.client_order_id.startswith("exit-")


@pytest.mark.parametrize("kwargs", [
    {"contracts": 0}, {"entry": 0.0}, {"entry": 100.0}, {"observed": -1.0}, {"mode": "DISABLED"},
    {"sequence": -1},
])
def test_decide_when_values_cannot_be_a_sale_then_invalid_exit(kwargs):
    with pytest.raises(InvalidExit):
        _exit(**kwargs)


@pytest.mark.parametrize(("size", "price"), [(0, 50.0), (41, 50.0), (10, 0.0), (10, 100.0)])
def test_fill_when_size_or_price_impossible_then_invalid_exit_and_state_kept(size, price):
    ex = _exit()
    with pytest.raises(InvalidExit):
        ex.fill(size, price, T0)
    assert ex.state is ExitState.DECIDED


def test_transitions_when_not_allowed_then_refused():
    ex = _exit()
    ex.fill(40, 57.0, T0)
    for move in (lambda: ex.fail("x", T0), lambda: ex.doubt("x", T0),
                 lambda: ex.redecide(1, 50.0, ExitReason.STOP_LOSS_HIT, T0), lambda: ex.fill(1, 50.0, T0)):
        with pytest.raises(ExitNotAllowed):
            move()
    fresh = _exit()
    with pytest.raises(ExitNotAllowed):
        fresh.redecide(40, 50.0, ExitReason.STOP_LOSS_HIT, T0)


def test_errors_carry_codes():
    for cls in (ExitNotAllowed, InvalidExit):
        assert issubclass(cls, DomainError) and cls.code


class ExitMachine(RuleBasedStateMachine):
    """Random commands on one exit: only allowed transitions happen, a refused command changes nothing,
    and replaying the stored events rebuilds the same exit."""

    def __init__(self) -> None:
        super().__init__()
        self.exit = _exit(mode="LIVE")
        self.events = list(self.exit.collect_events())
        self.at = T0

    def _try(self, command) -> None:  # type: ignore[no-untyped-def]
        before = (self.exit.state, self.exit.attempt, self.exit.contracts, self.exit.version)
        try:
            command()
        except DomainError:
            assert (self.exit.state, self.exit.attempt, self.exit.contracts, self.exit.version) == before
            return
        new = list(self.exit.collect_events())
        assert len(new) == 1
        self.events += new

    @rule(size=st.integers(-2, 45), price=st.floats(-5, 105, allow_nan=False))
    def fill(self, size: int, price: float) -> None:
        state = self.exit.state
        self._try(lambda: self.exit.fill(size, price, self.at))
        if self.exit.state is ExitState.FILLED and state is not ExitState.FILLED:
            assert state in (ExitState.DECIDED, ExitState.IN_DOUBT)

    @rule()
    def doubt(self) -> None:
        self._try(lambda: self.exit.doubt("timeout", self.at))

    @rule()
    def fail(self) -> None:
        self._try(lambda: self.exit.fail("refused", self.at))

    @rule(contracts=st.integers(-1, 50), price=st.floats(0, 100, allow_nan=False))
    def redecide(self, contracts: int, price: float) -> None:
        self._try(lambda: self.exit.redecide(contracts, price, ExitReason.TAKE_PROFIT_HIT, self.at))

    @rule()
    def tick(self) -> None:
        self.at += timedelta(minutes=5)

    @invariant()
    def only_allowed_states_and_replay_equal(self) -> None:
        assert self.exit.state in ALLOWED
        if self.exit.state is ExitState.FILLED:
            assert self.exit.exit_price is not None and 0 < self.exit.exit_price < 100
            assert 1 <= self.exit.contracts
        mapper = make_mapper()
        decoded = [mapper.to_domain_event(mapper.to_stored_event(e)) for e in self.events]
        rebuilt = reduce(lambda agg, e: e.mutate(agg), decoded, None)
        assert rebuilt is not None
        for name in ("state", "attempt", "contracts", "exit_price", "realized_pnl_usd", "observed_price",
                     "client_order_id", "version"):
            assert getattr(rebuilt, name) == getattr(self.exit, name), name


TestExitMachine = ExitMachine.TestCase
TestExitMachine.settings = settings(max_examples=examples(60), stateful_step_count=steps(25), deadline=None)


def test_replay_when_decided_then_filled_then_same_exit():
    ex = _exit()
    ex.fill(40, 58.0, T0)
    rebuilt = _replay(ex)
    assert (rebuilt.state, rebuilt.realized_pnl_usd, rebuilt.reason) == (ExitState.FILLED, ex.realized_pnl_usd,
                                                                        ExitReason.STOP_LOSS_HIT)


def test_fill_when_position_averaged_in_since_the_decision_then_pnl_from_the_entry_as_of_the_fill():
    ex = _exit(contracts=40)  # decided at entry 60
    ex.fill(40, 57.5, T0, entry_price=55.0)  # another fill since brought the position's average to 55
    assert ex.realized_pnl_usd == pytest.approx((57.5 - 55.0) * 40 / 100)
    assert ex.entry_price == 55.0
    rebuilt = _replay(ex)
    assert (rebuilt.entry_price, rebuilt.realized_pnl_usd) == (55.0, ex.realized_pnl_usd)


def test_fill_when_entry_as_of_the_fill_impossible_then_invalid_exit():
    ex = _exit()
    with pytest.raises(InvalidExit):
        ex.fill(10, 57.5, T0, entry_price=0.0)


def test_operator_close_when_decided_then_replays_with_who_and_why():
    ex = PositionExit.decide("bonding", "KX-A", "YES", OPENED, 0, 40, 60.0, 62.0, ExitReason.OPERATOR_CLOSE,
                             "LIVE", T0, requested_by="alice", note="INC-7 flatten")
    ex.fail("venue answered rejected", T0)
    ex.redecide(40, 61.0, ExitReason.OPERATOR_CLOSE, T0 + timedelta(minutes=1), "bob", "INC-7 again")
    rebuilt = _replay(ex)
    assert (rebuilt.reason, rebuilt.requested_by, rebuilt.note, rebuilt.attempt) == (
        ExitReason.OPERATOR_CLOSE, "bob", "INC-7 again", 2)


@pytest.mark.parametrize(("reason", "who", "why"), [
    (ExitReason.OPERATOR_CLOSE, None, "flatten"),
    (ExitReason.OPERATOR_CLOSE, "alice", "   "),
    (ExitReason.STOP_LOSS_HIT, "alice", "flatten"),  # a rule's exit names no operator
    (ExitReason.TIME_LIMIT_EXCEEDED, None, "note"),
])
def test_decide_when_operator_fields_do_not_match_the_reason_then_invalid_exit(reason, who, why):
    with pytest.raises(InvalidExit):
        PositionExit.decide("bonding", "KX-A", "YES", OPENED, 0, 40, 60.0, 62.0, reason, "PAPER", T0,
                            requested_by=who, note=why)


def test_redecide_after_an_operator_close_failed_then_a_rule_exit_clears_who_and_why():
    ex = PositionExit.decide("bonding", "KX-A", "YES", OPENED, 0, 40, 60.0, 62.0, ExitReason.OPERATOR_CLOSE,
                             "LIVE", T0, requested_by="alice", note="flatten")
    ex.fail("no bid to sell into", T0)
    ex.redecide(40, 57.0, ExitReason.STOP_LOSS_HIT, T0 + timedelta(minutes=5))
    assert (ex.reason, ex.requested_by, ex.note) == (ExitReason.STOP_LOSS_HIT, None, None)
