"""VenueOrder (api-and-security §1.3 "venue record shapes"): a replaying stateful test of its merged record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import reduce
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.venue_orders import VenueOrder, same_value, venue_order_id
from tests.support.hypothesis_scale import examples, steps

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
KEYS = ["status", "fill_count", "yes_price", "remaining_count", "raw", "nested"]
# values as a venue record holds them: JSON's, Kalshi's exact Decimals (ADR 0330), bools (True == 1 in Python)
NUMBERS = st.one_of(st.integers(-5, 100), st.floats(0, 100, allow_nan=False),
                    st.decimals(0, 100, places=4, allow_nan=False), st.just(float("nan")))
VALUES = st.one_of(st.none(), st.booleans(), NUMBERS, st.sampled_from(["resting", "executed", "canceled", "", "1"]),
                   st.lists(st.one_of(st.integers(0, 3), st.booleans()), max_size=2),
                   st.dictionaries(st.sampled_from(["a", "b"]), st.one_of(st.integers(0, 3), st.floats(0, 3)),
                                   max_size=2))
REPORTS = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=4)


def _stored(events: list[Any]) -> list[Any]:
    mapper = make_mapper()
    return [mapper.to_domain_event(mapper.to_stored_event(e)) for e in events]


def canon(value: Any) -> Any:
    """The oracle: a value as one tagged, hashable form (numbers by their normalised decimal text), so "the venue
    reported it again" is ``canon(a) == canon(b)``, written independently of ``same_value``."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float | Decimal):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        return ("number", "NaN" if number.is_nan() else str(number.normalize()))
    if isinstance(value, dict):
        return ("object", tuple(sorted((k, canon(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("list", tuple(canon(v) for v in value))
    return ("other", value)


class VenueOrderMachine(RuleBasedStateMachine):
    """Random reports of one venue order: the record is every report merged over the earlier ones, a report
    that changes nothing records nothing, and replaying the stored events rebuilds the same record."""

    def __init__(self) -> None:
        super().__init__()
        self.at = T0
        self.order = VenueOrder("kalshi", "o-1", {"order_id": "o-1", "status": "resting"}, self.at)
        self.model: dict[str, Any] = {"order_id": "o-1", "status": "resting"}
        self.events = list(self.order.collect_events())

    @rule(report=REPORTS, minutes=st.integers(0, 30))
    def report(self, report: dict[str, Any], minutes: int) -> None:
        self.at += timedelta(minutes=minutes)
        changed = {k: v for k, v in report.items() if k not in self.model or canon(self.model[k]) != canon(v)}
        version = self.order.version
        assert self.order.update(report, self.at) is bool(changed)
        new = list(self.order.collect_events())
        if changed:
            (ev,) = new
            assert isinstance(ev, VenueOrder.Updated) and canon(ev.changes) == canon(changed)
        else:
            assert new == [] and self.order.version == version
        self.model.update(changed)  # the same value in another form keeps the form first recorded
        self.events += new

    @rule()
    def same_numbers_in_another_form(self) -> None:
        """Kalshi's Decimal, our float and a whole int of one value are one report, not a change."""
        again = {k: (Decimal(repr(v)) if isinstance(v, float) else float(v) if isinstance(v, Decimal) else v)
                 for k, v in self.order.record.items()}
        assert self.order.update(again, self.at) is False
        assert self.order.collect_events() == []

    @rule()
    def same_report_again(self) -> None:
        """A webhook retried or a poll that finds nothing new."""
        assert self.order.update(dict(self.order.record), self.at) is False
        assert self.order.collect_events() == []

    @invariant()
    def record_is_the_merge_of_every_report(self) -> None:
        assert canon(self.order.record) == canon(self.model)
        assert all(type(self.order.record[k]) is type(v) for k, v in self.model.items())
        assert self.order.id == venue_order_id("kalshi", "o-1")
        assert (self.order.venue, self.order.order_id) == ("kalshi", "o-1")

    @invariant()
    def replay_equals_live(self) -> None:
        rebuilt = reduce(lambda agg, ev: ev.mutate(agg), _stored(self.events), None)
        assert isinstance(rebuilt, VenueOrder)
        assert canon(vars(rebuilt)) == canon(vars(self.order))
        assert rebuilt.update(dict(self.order.record), self.at) is False  # the stored forms read as the same


TestVenueOrderMachine = VenueOrderMachine.TestCase
TestVenueOrderMachine.settings = settings(max_examples=examples(60), stateful_step_count=steps(20), deadline=None)


def test_update_when_venue_reports_a_new_field_as_null_then_recorded_once():
    order = VenueOrder("kalshi", "o-1", {"order_id": "o-1", "status": "resting"}, T0)
    order.collect_events()
    assert order.update({"status": "resting", "expiration_time": None}, T0) is True
    assert order.record == {"order_id": "o-1", "status": "resting", "expiration_time": None}
    (ev,) = order.collect_events()
    assert ev.changes == {"expiration_time": None}
    assert order.update({"status": "resting", "expiration_time": None}, T0) is False


@pytest.mark.parametrize(("before", "after"), [
    (Decimal("42.35"), 42.35),  # Kalshi's exact price, then our float of it: Decimal("42.35") != 42.35 in Python
    (42, Decimal("42.0000")),
    (float("nan"), float("nan")),  # nan != nan: an event on every report
    ({"levels": [Decimal("0.4200"), 3]}, {"levels": (0.42, 3.0)}),
])
def test_update_when_the_same_value_comes_in_another_form_then_nothing_recorded(before: Any, after: Any) -> None:
    order = VenueOrder("kalshi", "o-1", {"order_id": "o-1", "fill_price": before}, T0)
    [stored] = _stored(order.collect_events())
    replayed = stored.mutate(None)
    for agg in (order, replayed):
        assert agg.update({"fill_price": after}, T0) is False
        assert agg.collect_events() == []


@pytest.mark.parametrize(("before", "after"), [
    (1, True), (0, False), (True, 1),  # True == 1 in Python: the change was missed
    (Decimal("42.35"), 42.36), ("1", 1), (None, 0), ([1, 2], [1, 2, 0]),
])
def test_update_when_the_value_really_changed_then_one_event_with_the_new_value(before: Any, after: Any) -> None:
    order = VenueOrder("kalshi", "o-1", {"order_id": "o-1", "fill_count": before}, T0)
    order.collect_events()
    assert order.update({"fill_count": after}, T0) is True
    (ev,) = order.collect_events()
    assert ev.changes == {"fill_count": after} and type(order.record["fill_count"]) is type(after)


@given(VALUES)
def test_same_value_when_a_value_is_stored_and_read_back_then_it_is_the_same_value(value: Any) -> None:
    order = VenueOrder("kalshi", "o-1", {"v": value}, T0)
    [stored] = _stored(order.collect_events())
    assert same_value(value, stored.record["v"]) and same_value(stored.record["v"], value)


@given(VALUES, VALUES)
def test_same_value_when_any_two_values_then_it_agrees_with_the_oracle_and_is_symmetric(a: Any, b: Any) -> None:
    assert same_value(a, b) is (canon(a) == canon(b)) is same_value(b, a)
