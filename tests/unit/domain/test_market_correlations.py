"""Operator-declared market correlations (ADR 0365): one aggregate per unordered pair, known edge types only,
weights in (0, 1], a refused command records nothing, and replaying the stored events rebuilds the aggregate."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.market_correlations import (
    EDGE_TYPES,
    RULE_TYPES,
    InvalidCorrelation,
    MarketCorrelation,
    MarketCorrelationRule,
    NoActiveCorrelation,
    NoActiveRule,
    correlation_pair,
    rule_selector,
)
from paulp.domain.risk_correlation import (
    EDGE_TYPE_CAPS,
    CorrelationRule,
    GraphEdge,
    GraphNode,
    catalogue,
    correlated_markets,
    edge_score,
    kalshi_series,
)
from paulp.domain.risk_input import UNKNOWN_CATEGORY, Position
from tests.support.hypothesis_scale import examples, steps

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def declared(a: str = "KXFED-B", b: str = "KXFED-A", kind: str = "same_series", weight: float = 0.95,
             at: datetime = T0) -> MarketCorrelation:
    pair = MarketCorrelation.register(a, b)
    pair.declare(kind, weight, "ops-dana", "same FOMC meeting", at)
    return pair


def test_declare_when_valid_then_pair_ordered_active_and_events_carry_the_pair() -> None:
    pair = declared()
    assert (pair.market_id, pair.related_market_id) == ("KXFED-A", "KXFED-B")
    assert (pair.correlation_type, pair.weight, pair.actor, pair.declared_at) == ("same_series", 0.95, "ops-dana", T0)
    assert pair.active and pair.effective_score() == 0.8  # same_series caps at 0.8 where I3 reads it
    events = pair.collect_events()
    assert [type(e).__name__ for e in events] == ["Registered", "Declared"]
    assert {(e.market_id, e.related_market_id) for e in events} == {("KXFED-A", "KXFED-B")}  # type: ignore[attr-defined]


@given(a=st.from_regex(r"\AKX[A-Z0-9]{1,8}\Z"), b=st.from_regex(r"\AKX[A-Z0-9]{1,8}\Z"))
def test_create_id_when_pair_spelt_either_way_then_one_aggregate(a: str, b: str) -> None:
    if a == b:
        with pytest.raises(InvalidCorrelation, match="itself"):
            MarketCorrelation.create_id(a, b)
        return
    assert MarketCorrelation.create_id(a, b) == MarketCorrelation.create_id(b, a)
    assert MarketCorrelation.register(b, a).id == MarketCorrelation.create_id(a, b)
    assert correlation_pair(a, b) == tuple(sorted((a, b)))


@pytest.mark.parametrize(("a", "b", "match"), [
    ("KX-A", "KX-A", "itself"), (" KX-A ", "KX-A", "itself"), ("", "KX-B", "market"), ("KX-A", "  ", "related"),
    ("kx-a", "KX-B", "market"), ("KX A", "KX-B", "market"), ("KX/A", "KX-B", "market"), (None, "KX-B", "market"),
    ("KX-A", 7, "related"), ("K" * 101, "KX-B", "market"),
])
def test_pair_when_tickers_missing_equal_or_malformed_then_invalid(a: Any, b: Any, match: str) -> None:
    with pytest.raises(InvalidCorrelation, match=match) as raised:
        correlation_pair(a, b)
    assert raised.value.code == "INVALID_CORRELATION"


@pytest.mark.parametrize("kind", ["correlated", "CORRELATED_WITH", "cached", "", None, 3])
def test_declare_when_type_unknown_then_invalid_and_nothing_recorded(kind: Any) -> None:
    pair = MarketCorrelation.register("KX-A", "KX-B")
    pair.collect_events()
    with pytest.raises(InvalidCorrelation, match="type must be one of"):
        pair.declare(kind, 0.5, "ops", "why", T0)
    assert pair.collect_events() == [] and not pair.active


@pytest.mark.parametrize("weight", [0, 0.0, -0.1, 1.0000001, 2, float("nan"), float("inf"), True, "0.5", None])
def test_declare_when_weight_outside_0_1_then_invalid_and_nothing_recorded(weight: Any) -> None:
    pair = declared()
    pair.collect_events()
    with pytest.raises(InvalidCorrelation, match="weight"):
        pair.declare("correlated_with", weight, "ops", "why", T0)
    assert pair.collect_events() == [] and pair.weight == 0.95


@pytest.mark.parametrize("field", ["actor", "reason"])
@pytest.mark.parametrize("blank", ["", "  ", None, 5, "x" * 2001])
def test_declare_when_provenance_blank_or_overlong_then_invalid(field: str, blank: Any) -> None:
    args = {"actor": "ops", "reason": "why", field: blank}
    with pytest.raises(InvalidCorrelation, match=field):
        MarketCorrelation.register("KX-A", "KX-B").declare("correlated_with", 1, args["actor"], args["reason"], T0)


def test_withdraw_when_active_then_inactive_and_declaring_again_restores_it() -> None:
    pair = declared()
    pair.withdraw("ops-erin", "series split", T0 + timedelta(hours=1))
    assert not pair.active and pair.effective_score() is None and pair.withdrawn_by == "ops-erin"
    with pytest.raises(NoActiveCorrelation):
        pair.withdraw("ops-erin", "again", T0 + timedelta(hours=2))
    pair.declare("correlated_with", 0.4, "ops-dana", "re-linked", T0 + timedelta(hours=3))
    assert pair.active and pair.effective_score() == 0.4 and pair.withdrawn_at is None


def test_withdraw_when_never_declared_then_no_active_correlation_and_nothing_recorded() -> None:
    pair = MarketCorrelation.register("KX-A", "KX-B")
    pair.collect_events()
    with pytest.raises(NoActiveCorrelation) as raised:
        pair.withdraw("ops", "why", T0)
    assert raised.value.code == "NO_ACTIVE_CORRELATION" and pair.collect_events() == []


def test_declared_types_when_compared_with_the_read_side_then_every_capped_type_and_nothing_else() -> None:
    assert set(EDGE_TYPES) == set(EDGE_TYPE_CAPS)
    for kind in EDGE_TYPES:  # each declarable type is scored by its own cap, never the 0.3 of unknown types
        cap = EDGE_TYPE_CAPS[kind]
        assert edge_score(kind, 1.0) == (1.0 if cap is None else cap)


def test_effective_score_when_read_as_the_risk_check_reads_the_row_then_equal() -> None:
    pair = declared(kind="tagged_with_topic", weight=0.9)
    edge = GraphEdge(GraphNode(pair.market_id), GraphNode(pair.related_market_id), "tagged_with_topic", pair.weight)
    [found] = correlated_markets("KXFED-B", T0, edges=[edge])
    assert (found.market_id, found.correlation_score) == ("KXFED-A", pair.effective_score()) == ("KXFED-A", 0.5)


TICKERS = ("KX-A", "KX-B", "KX-C")


class MarketCorrelationMachine(RuleBasedStateMachine):
    """Random declarations (good and bad) and withdrawals over three pairs: a refused command records nothing,
    every pair's state is legal, and folding its transcoded events rebuilds the live aggregate."""

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.pairs: dict[tuple[str, str], MarketCorrelation] = {}
        self.history: dict[tuple[str, str], list[Any]] = {}
        self.mapper = make_mapper()

    def _pair(self, a: str, b: str) -> MarketCorrelation:
        key = correlation_pair(a, b)
        if key not in self.pairs:
            self.pairs[key] = MarketCorrelation.register(a, b)
            self.history[key] = []
            self._record(key)
        return self.pairs[key]

    def _record(self, key: tuple[str, str]) -> list[Any]:
        events = self.pairs[key].collect_events()
        self.history[key] += [self.mapper.to_domain_event(self.mapper.to_stored_event(e)) for e in events]
        return events

    @rule(minutes=st.integers(min_value=0, max_value=600))
    def advance(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule(a=st.sampled_from(TICKERS), b=st.sampled_from(TICKERS),
          kind=st.sampled_from([*EDGE_TYPES, "correlated", ""]),
          weight=st.one_of(st.floats(min_value=-0.5, max_value=1.5), st.sampled_from([1.0, 0.0, float("nan")])),
          actor=st.sampled_from(["ops-dana", " "]))
    def declare(self, a: str, b: str, kind: str, weight: float, actor: str) -> None:
        if a == b:
            with pytest.raises(InvalidCorrelation):
                correlation_pair(a, b)
            return
        pair, key = self._pair(a, b), correlation_pair(a, b)
        before = vars(pair).copy()
        legal = kind in EDGE_TYPE_CAPS and 0 < weight <= 1 and actor.strip() != ""
        try:
            pair.declare(kind, weight, actor, "why", self.now)
        except InvalidCorrelation:
            assert not legal and vars(pair) == before
        else:
            assert legal and pair.active and (pair.correlation_type, pair.weight) == (kind, weight)
        assert len(self._record(key)) == (1 if legal else 0)

    @rule(a=st.sampled_from(TICKERS), b=st.sampled_from(TICKERS), reason=st.sampled_from(["stale", ""]))
    def withdraw(self, a: str, b: str, reason: str) -> None:
        if a == b:
            return
        pair, key = self._pair(a, b), correlation_pair(a, b)
        was_active = pair.active
        try:
            pair.withdraw("ops-erin", reason, self.now)
        except (NoActiveCorrelation, InvalidCorrelation):
            assert not (was_active and reason)
        else:
            assert was_active and reason and not pair.active
        assert len(self._record(key)) == (1 if was_active and reason else 0)

    @precondition(lambda self: bool(self.pairs))
    @invariant()
    def state_is_legal(self) -> None:
        for (a, b), pair in self.pairs.items():
            assert a < b and (pair.market_id, pair.related_market_id) == (a, b)
            assert pair.id == MarketCorrelation.create_id(b, a)
            if pair.declared_at is None:
                assert pair.correlation_type is None and pair.weight is None and pair.withdrawn_at is None
                continue
            assert pair.correlation_type in EDGE_TYPE_CAPS and pair.weight is not None and 0 < pair.weight <= 1
            assert pair.actor and pair.reason
            assert pair.withdrawn_at is None or pair.withdrawn_at >= pair.declared_at
            assert pair.active == (pair.withdrawn_at is None)

    @invariant()
    def replay_equals_live(self) -> None:
        for key, pair in self.pairs.items():
            rebuilt = reduce(lambda agg, ev: ev.mutate(agg), self.history[key], None)
            assert rebuilt is not None and vars(rebuilt) == vars(pair)


TestMarketCorrelationMachine = MarketCorrelationMachine.TestCase
TestMarketCorrelationMachine.settings = settings(max_examples=examples(60), stateful_step_count=steps(30),
                                                 deadline=None)


# ------------------------------------------------------------------ §3.4 step 3: correlation rules (ADR 0431)


def test_rule_when_declared_replaced_and_withdrawn_then_one_aggregate_per_selector() -> None:
    rule = MarketCorrelationRule.register("series", " KXHIGHNY ")
    assert rule.id == MarketCorrelationRule.create_id("series", "KXHIGHNY") != MarketCorrelationRule.create_id(
        "category", "KXHIGHNY")
    rule.declare(0.5, "ops", "same city", T0)
    rule.declare(0.8, "ops", "same city, tighter", T0)
    assert (rule.active, rule.weight, rule.rule_type) == (True, 0.8, "same_series")
    rule.withdraw("ops", "split", T0)
    assert not rule.active
    with pytest.raises(NoActiveRule):
        rule.withdraw("ops", "again", T0)
    names = [type(e).__name__ for e in rule.collect_events()]
    assert names == ["Registered", "Declared", "Declared", "Withdrawn"]


@pytest.mark.parametrize(("field", "value"), [("ticker", "KX"), ("series", "kxhigh"), ("series", ""),
                                              ("category", "  "), ("category", "x" * 101), ("series", None)])
def test_rule_selector_when_malformed_then_invalid(field: Any, value: Any) -> None:
    with pytest.raises(InvalidCorrelation):
        rule_selector(field, value)


@given(st.lists(st.tuples(st.sampled_from(["KXA-1", "KXA-2", "KXB-1", "KXB-2", "KXC"]),
                          st.sampled_from(["Weather", "Economics", UNKNOWN_CATEGORY])), max_size=6),
       st.sampled_from(["KXA-9", "KXB-9", "KXC"]), st.sampled_from(["Weather", "Economics", UNKNOWN_CATEGORY, None]),
       st.sampled_from(["category", "series"]), st.floats(0.05, 1.0))
def test_rules_relate_exactly_the_held_markets_sharing_the_selected_field(held: list[tuple[str, str]], target: str,
                                                                         category: str | None, field: str,
                                                                         weight: float) -> None:
    positions = [Position(t, c, 10.0) for t, c in held]
    book = catalogue(target, category, positions)
    me = book[0]
    value = me.category if field == "category" else me.series
    rules = [CorrelationRule(json.dumps({field: value}), weight, RULE_TYPES[field])] if value else []
    found = correlated_markets(target, T0, rules=rules, catalogue=book)
    category_of = {m.market_id: m.category for m in book}  # one entry per market, 'unknown' read as none
    expected = {t for t, _ in held if t != target and value is not None and (
        (field == "series" and kalshi_series(t) == value) or (field == "category" and category_of[t] == value))}
    assert {m.market_id for m in found} == expected
    assert all(m.correlation_score == weight and m.correlation_type == RULE_TYPES[field] for m in found)
    assert me.category in (None, "Weather", "Economics") and UNKNOWN_CATEGORY not in {m.category for m in book}
