"""Which range the hourly audit job walks (ADR 0506), and the linked walk it uses."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from paulp.domain.audit import ChainRecord, RangeWalk, append_record, verify_range
from paulp.domain.audit_plan import PriorVerification, VerificationPlan, plan_verification

NOW = datetime(2026, 3, 2, 15, tzinfo=UTC)
DAY = timedelta(hours=24)
OK = PriorVerification(valid=True, checked_through=100, anchored_through=100)


def make_chain(n: int) -> list[ChainRecord]:
    records: list[ChainRecord] = []
    for i in range(n):
        records.append(append_record(records[-1] if records else None, id=f"evt-{i + 1}",
                                     timestamp="2026-03-01T12:00:00.000Z", agent="a", event_type="E",
                                     payload=f'{{"n":{i}}}'))
    return records


def plan(last: PriorVerification | None = OK, full_ago: timedelta | None = timedelta(hours=1), head: int = 120,
         every: timedelta | None = DAY) -> VerificationPlan:
    return plan_verification(last, None if full_ago is None else NOW - full_ago, head, NOW, every)


def test_plan_when_last_run_valid_anchored_and_full_not_due_then_resumes_after_it() -> None:
    assert plan() == VerificationPlan("incremental", 101, "after sequence 100, verified and anchored")
    assert plan(head=100).start == 101  # nothing new: an empty walk, still link-checked against 100


def test_plan_when_verified_past_the_anchor_then_resumes_after_the_anchored_records() -> None:
    """Records appended between the job's anchor and its walk were verified but pinned by no anchor yet."""
    assert plan(dataclasses.replace(OK, anchored_through=97)).start == 98
    assert plan(dataclasses.replace(OK, anchored_through=130), head=140).start == 101


@pytest.mark.parametrize(("kwargs", "why"), [
    ({"last": None}, "no earlier verification"),
    ({"last": dataclasses.replace(OK, valid=False)}, "the last verification was invalid"),
    ({"head": 99}, "the last verification reached sequence 100, beyond the head 99"),
    ({"full_ago": None}, "full verification due"),
    ({"full_ago": DAY}, "full verification due"),
    ({"full_ago": DAY - timedelta(minutes=4)}, "full verification due"),  # the daily slot, a little early
    ({"every": timedelta(0)}, "full verification due"),
    ({"last": dataclasses.replace(OK, anchored_through=None)}, "no verified anchor pins the verified records"),
    ({"last": PriorVerification(True, 0, 0), "head": 0}, "no verified anchor pins the verified records"),
    ({"every": None}, "full verification requested"),
])
def test_plan_when_the_last_run_cannot_be_built_on_or_a_full_run_is_due_then_full_from_genesis(
        kwargs: dict[str, object], why: str) -> None:
    assert plan(**kwargs) == VerificationPlan("full", 1, why)  # type: ignore[arg-type]


def test_plan_when_the_last_full_run_is_younger_than_the_interval_less_the_slot_slack_then_incremental() -> None:
    assert plan(full_ago=DAY - timedelta(minutes=6)).mode == "incremental"
    assert plan(full_ago=-timedelta(hours=1)).mode == "incremental"  # a clock moved back changes nothing


def test_linked_walk_when_chain_intact_then_same_verdict_as_the_plain_range() -> None:
    chain = make_chain(6)
    walk = RangeWalk(4, 6, linked=True)
    for rec in chain:
        walk.feed(rec)
    assert walk.result() == verify_range(chain, 4, 6)


def test_linked_walk_when_the_record_before_the_range_changed_then_a_link_break_at_the_first() -> None:
    chain = make_chain(6)
    chain[2] = dataclasses.replace(chain[2], hash="0" * 64)
    assert verify_range(chain, 4, 6).valid  # §5.2: the first record of a range is not link-checked
    walk = RangeWalk(4, 6, linked=True)
    for rec in chain:
        walk.feed(rec)
    result = walk.result()
    assert [(b.sequence, b.kind) for b in result.broken_links] == [(4, "link")]
    assert (result.first_sequence, result.events_checked) == (4, 3)  # the record before is used, not counted


@pytest.mark.parametrize(("missing", "gaps", "checked"), [(3, (3,), 3), (4, (4,), 2)])
def test_linked_walk_when_the_record_before_or_the_first_is_missing_then_a_gap(
        missing: int, gaps: tuple[int, ...], checked: int) -> None:
    chain = [r for r in make_chain(6) if r.sequence != missing]
    walk = RangeWalk(4, 6, linked=True)
    for rec in chain:
        walk.feed(rec)
    result = walk.result()
    assert (result.valid, result.gaps, result.events_checked) == (False, gaps, checked)


def test_linked_walk_when_the_range_is_empty_then_valid_only_if_the_record_before_exists() -> None:
    chain = make_chain(3)
    walk = RangeWalk(4, 3, linked=True)
    for rec in chain:
        walk.feed(rec)
    assert walk.result().valid and walk.result().events_checked == 0
    assert RangeWalk(4, 3, linked=True).result().gaps == (3,)
