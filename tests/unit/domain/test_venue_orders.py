"""VenueOrder (api-and-security §1.3 "venue record shapes"): a replaying stateful test of its merged record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.venue_orders import VenueOrder, venue_order_id

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
KEYS = ["status", "fill_count", "yes_price", "remaining_count", "raw", "nested"]
# JSON-shaped values as a venue reports them; bools are left out, since 1 == True in Python (noted in the report)
VALUES = st.one_of(st.none(), st.integers(-5, 100), st.sampled_from(["resting", "executed", "canceled", ""]),
                   st.floats(0, 100, allow_nan=False), st.lists(st.integers(0, 3), max_size=2),
                   st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 3), max_size=2))
REPORTS = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=4)


def _stored(events: list[Any]) -> list[Any]:
    mapper = make_mapper()
    return [mapper.to_domain_event(mapper.to_stored_event(e)) for e in events]


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
        changed = {k: v for k, v in report.items() if k not in self.model or self.model[k] != v}
        version = self.order.version
        assert self.order.update(report, self.at) is bool(changed)
        new = list(self.order.collect_events())
        if changed:
            (ev,) = new
            assert isinstance(ev, VenueOrder.Updated) and ev.changes == changed
        else:
            assert new == [] and self.order.version == version
        self.model.update(report)
        self.events += new

    @rule()
    def same_report_again(self) -> None:
        """A webhook retried or a poll that finds nothing new."""
        assert self.order.update(dict(self.order.record), self.at) is False
        assert self.order.collect_events() == []

    @invariant()
    def record_is_the_merge_of_every_report(self) -> None:
        assert self.order.record == self.model
        assert self.order.id == venue_order_id("kalshi", "o-1")
        assert (self.order.venue, self.order.order_id) == ("kalshi", "o-1")

    @invariant()
    def replay_equals_live(self) -> None:
        rebuilt = reduce(lambda agg, ev: ev.mutate(agg), _stored(self.events), None)
        assert isinstance(rebuilt, VenueOrder)
        assert vars(rebuilt) == vars(self.order)


TestVenueOrderMachine = VenueOrderMachine.TestCase
TestVenueOrderMachine.settings = settings(max_examples=60, stateful_step_count=20, deadline=None)


def test_update_when_venue_reports_a_new_field_as_null_then_recorded_once():
    order = VenueOrder("kalshi", "o-1", {"order_id": "o-1", "status": "resting"}, T0)
    order.collect_events()
    assert order.update({"status": "resting", "expiration_time": None}, T0) is True
    assert order.record == {"order_id": "o-1", "status": "resting", "expiration_time": None}
    (ev,) = order.collect_events()
    assert ev.changes == {"expiration_time": None}
    assert order.update({"status": "resting", "expiration_time": None}, T0) is False
