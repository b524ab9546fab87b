"""Which evidence an event names and under which entity (ADR 0430): the rules lineage and postmortems share."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from paulp.domain.evidence import entity_type, named_evidence
from paulp.domain.marks import MarketMark, Quotes
from paulp.domain.orders import Order

H1, H2 = "a" * 64, "b" * 64
AT = datetime(2026, 11, 27, 12, tzinfo=UTC)


class Plain:
    def __init__(self, **fields: object) -> None:
        self.__dict__.update(fields)


def test_names_list_then_single_each_once_and_ignores_what_is_not_a_hash() -> None:
    assert named_evidence(Plain(evidence_hashes=[H2, H1, H2], evidence_hash=H1)) == [H2, H1]
    assert named_evidence(Plain(evidence_hash=None)) == []
    assert named_evidence(Plain(evidence_hash="A" * 64, evidence_hashes="b" * 64)) == []  # upper case; not a list
    assert named_evidence(Plain(evidence_hashes=(H1, "short", 7))) == [H1]
    assert named_evidence(object()) == []


@given(st.lists(st.sampled_from([H1, H2, "c" * 64, "x", None]), max_size=6),
       st.sampled_from([H1, "d" * 64, None, ""]))
def test_named_evidence_is_the_distinct_valid_hashes_in_order(hashes: list[str | None], single: str | None) -> None:
    out = named_evidence(Plain(evidence_hashes=hashes, evidence_hash=single))
    expected: list[str] = []
    for h in [*hashes, single]:
        if h is not None and len(h) == 64 and h not in expected:
            expected.append(h)
    assert out == expected


def test_entity_type_is_the_aggregate_in_snake_case_with_orders_under_order() -> None:
    mark = MarketMark("KX-TEST")
    mark.observe(Quotes(40, 42, 58, 60), AT, H1)
    observed = mark.collect_events()[-1]
    assert named_evidence(observed) == [H1]
    assert entity_type(observed) == "market_mark"
    order = Order.create(signal_id="sig-1", strategy="bonding", ticker="KX-TEST", side="YES", requested_size=10,
                         max_price=42.0, now=AT)
    order.attach_evidence(H2)
    attached = order.collect_events()[-1]
    assert type(attached).__qualname__.startswith("OrderRecord.")
    assert entity_type(attached) == "order"
    assert named_evidence(attached) == [H2]
