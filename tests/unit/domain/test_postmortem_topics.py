"""Every event class in domain/ is classified for the postmortem timeline or ignored with a reason (ADR 0404)."""

from __future__ import annotations

import inspect

from eventsourcing.domain import CanMutateAggregate

from paulp.domain.postmortem_topics import TOPICS, Kind, is_classified, kind_of
from tests.unit.test_architecture import _aggregates


def _stored_event_classes() -> set[str]:
    """Qualified names of the events aggregates emit (the nested ``Event`` base is never stored)."""
    return {
        ev.__qualname__ for agg in _aggregates() for name, ev in vars(agg).items()
        if inspect.isclass(ev) and issubclass(ev, CanMutateAggregate) and name != "Event"
    }


def test_event_classes_when_walked_then_each_is_classified_or_explicitly_ignored():
    names = _stored_event_classes()
    assert len(names) > 100
    unclassified = sorted(n for n in names if not is_classified(n))
    assert unclassified == [], f"classify these in domain/postmortem_topics.py: {unclassified}"


def test_topics_when_ignored_then_a_reason_is_given_and_kinds_are_known():
    for name, value in TOPICS.items():
        assert isinstance(value, Kind) or (isinstance(value, str) and value.strip()), name


def test_kind_of_when_timeline_event_ignored_or_unknown_then_kind_or_none():
    assert kind_of("CircuitBreaker.Transitioned") is Kind.BREAKER
    assert kind_of("Order.RiskChecked") is Kind.RISK
    assert kind_of("MarketMark.Quoted") is None
    assert kind_of("Nowhere.Invented") is None and not is_classified("Nowhere.Invented")
